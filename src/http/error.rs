//! One error type for every HTTP handler, rendered as RFC 9457 `application/problem+json`.
//! Causes of 5xx answers are logged and never shown to the client.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{Invalid, Rejection};
use crate::event_log::AppendError;

/// A problem document (RFC 9457).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem; `about:blank` plus the title for generic ones.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The fields at fault, for validation problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("invalid fields")]
    Invalid(Vec<Invalid>),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The request (its body included) did not arrive and complete within the request timeout.
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("too many requests")]
    RateLimited { retry_after: Duration },
    /// A dependency (NATS, PostgreSQL) did not answer; the client may retry.
    #[error("{what} is unavailable")]
    Unavailable { what: &'static str, cause: String },
    /// A bug or an unexpected failure: logged, shown as a bare 500.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ApiError::Invalid(vec![Invalid::new(field, message)])
    }

    pub fn database(cause: impl std::fmt::Display) -> Self {
        ApiError::Unavailable { what: "PostgreSQL", cause: cause.to_string() }
    }

    /// The problem document this error shows a client.
    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        let title = status.canonical_reason().unwrap_or("Error").to_owned();
        let kind = format!("https://parley.dev/problems/{}", slug(status));
        let (detail, errors) = match self {
            ApiError::Invalid(fields) => (
                fields.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
                fields
                    .iter()
                    .map(|f| FieldError { field: f.field.clone(), message: f.message.clone() })
                    .collect(),
            ),
            ApiError::RateLimited { retry_after } => {
                let seconds = super::rate_limit::retry_after_seconds(*retry_after).max(1);
                (format!("rate limit exceeded; retry after {seconds} s"), vec![])
            }
            ApiError::Unavailable { what, .. } => (format!("{what} is unavailable; retry shortly"), vec![]),
            ApiError::Internal(_) => ("an unexpected error occurred; it has been logged".to_owned(), vec![]),
            other => (other.to_string(), vec![]),
        };
        Problem { kind, title, status: status.as_u16(), detail, errors }
    }
}

fn slug(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad-request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not-found",
        408 => "request-timeout",
        409 => "conflict",
        413 => "payload-too-large",
        415 => "unsupported-media-type",
        429 => "rate-limited",
        503 => "unavailable",
        _ => "internal",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error")
            }
            ApiError::Unavailable { what, cause } => {
                tracing::warn!(%what, %cause, "dependency unavailable")
            }
            _ => {}
        }
        let retry_after = match &self {
            ApiError::RateLimited { retry_after } => {
                Some(super::rate_limit::retry_after_seconds(*retry_after).max(1))
            }
            ApiError::Unavailable { .. } => Some(1),
            _ => None,
        };
        let status = self.status_code();
        let mut response = (status, Json(self.problem())).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if status == StatusCode::UNAUTHORIZED {
            // RFC 9110 section 11.6.1: a 401 names the scheme that would be accepted.
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> Self {
        match rejection {
            Rejection::ConversationNotFound => ApiError::NotFound("conversation not found".into()),
            Rejection::MessageNotFound => ApiError::NotFound("message not found".into()),
            Rejection::ParticipantNotFound => {
                ApiError::NotFound("that user does not take part in the conversation".into())
            }
            Rejection::Forbidden(why) => ApiError::Forbidden(why.into()),
            Rejection::Conflict(why) => ApiError::Conflict(why.into()),
            Rejection::Invalid(invalid) => ApiError::Invalid(vec![invalid]),
        }
    }
}

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        ApiError::Invalid(vec![invalid])
    }
}

impl From<AppendError> for ApiError {
    fn from(error: AppendError) -> Self {
        match error {
            AppendError::Unavailable(cause) => ApiError::Unavailable { what: "NATS", cause },
            AppendError::Conflict(cause) => {
                ApiError::Internal(anyhow::anyhow!("append conflict survived every retry: {cause}"))
            }
            AppendError::Rejected(cause) => ApiError::Internal(anyhow::anyhow!("append rejected: {cause}")),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::Io(_)
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_) => ApiError::database(error),
            sqlx::Error::Database(db)
                if db.code().is_some_and(|c| c.starts_with("08") || c == "57P01" || c == "57P03") =>
            {
                ApiError::database(error)
            }
            _ => ApiError::Internal(error.into()),
        }
    }
}

/// The fallback for unknown paths, in our error format.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_never_leak_their_cause() {
        let problem = ApiError::Internal(anyhow::anyhow!("password=hunter2 at db")).problem();
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.contains("hunter2"));
    }

    #[test]
    fn validation_problems_name_each_field() {
        let problem = ApiError::Invalid(vec![Invalid::new("content", "must not be empty")]).problem();
        assert_eq!(problem.status, 400);
        assert_eq!(problem.errors[0].field, "content");
    }

    #[test]
    fn unauthorized_answers_name_the_bearer_scheme() {
        let response = ApiError::Unauthorized("token expired".into()).into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
        let forbidden = ApiError::Forbidden("no".into()).into_response();
        assert!(!forbidden.headers().contains_key(header::WWW_AUTHENTICATE));
    }

    #[test]
    fn unavailable_dependencies_answer_503_with_retry_after() {
        let response = ApiError::Unavailable { what: "NATS", cause: "timeout".into() }.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
    }
}
