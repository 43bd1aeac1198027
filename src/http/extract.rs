//! Extractors that answer in our error format: a malformed body, query or path is a 400
//! problem document naming the field, a body of the wrong type is 415, one too large is 413.

use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header;
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::ApiError;
use crate::domain::Invalid;

/// A JSON body, read with the field path of any error.
pub struct AppJson<T>(pub T);

impl<S, T> FromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")
            });
        if !json {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as Content-Type: application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(body_error)?;
        parse_json(&bytes).map(AppJson)
    }
}

/// Parses JSON, naming the field at fault.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_syntax() || inner.is_eof() || inner.is_io() {
            ApiError::BadRequest(format!("the body is not valid JSON: {inner}"))
        } else {
            let field = if path == "." { "body".to_owned() } else { path };
            let message = strip_position(&inner.to_string());
            let message = strip_field_name(&message, &field).to_owned();
            ApiError::Invalid(vec![Invalid::new(field, message)])
        }
    })
}

/// Our ids' own parse errors already start with the field's name (`user_id: must be ...`);
/// the problem document names the field once.
fn strip_field_name<'a>(message: &'a str, path: &str) -> &'a str {
    let last = path.rsplit('.').next().unwrap_or(path);
    let name = last.split('[').next().unwrap_or(last);
    message.strip_prefix(name).and_then(|rest| rest.strip_prefix(": ")).unwrap_or(message)
}

/// serde_json appends " at line 1 column 42"; the field name says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn body_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge("the body is larger than this endpoint accepts".into())
    } else {
        ApiError::BadRequest(rejection.body_text())
    }
}

/// Query parameters.
pub struct AppQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for AppQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(AppQuery(value)),
            Err(rejection) => Err(query_error(rejection)),
        }
    }
}

fn query_error(rejection: QueryRejection) -> ApiError {
    let text = rejection.body_text();
    let detail = text.strip_prefix("Failed to deserialize query string: ").unwrap_or(&text);
    ApiError::Invalid(vec![named_field(detail, "query")])
}

/// serde names the parameter at fault as `name: message`; use it as the field when it does.
fn named_field(detail: &str, fallback: &str) -> Invalid {
    match detail.split_once(": ") {
        Some((name, message))
            if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
        {
            Invalid::new(name, message)
        }
        _ => Invalid::new(fallback, detail),
    }
}

/// Path parameters.
pub struct AppPath<T>(pub T);

impl<S, T> FromRequestParts<S> for AppPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(AppPath(value)),
            Err(rejection) => Err(path_error(rejection)),
        }
    }
}

fn path_error(rejection: PathRejection) -> ApiError {
    let text = rejection.body_text();
    let detail = text.strip_prefix("Invalid URL: ").unwrap_or(&text);
    // "Cannot parse `id` with value `x`: ..." names the parameter.
    let field =
        detail.strip_prefix("Cannot parse `").and_then(|rest| rest.split('`').next()).unwrap_or("path");
    ApiError::Invalid(vec![Invalid::new(field, detail)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_errors_name_the_parameter_when_serde_does() {
        assert_eq!(named_field("limit: invalid digit found in string", "query").field, "limit");
        assert_eq!(named_field("missing field `user_ids`", "query").field, "query");
    }

    #[test]
    fn json_errors_name_the_field_path_and_drop_positions() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Body {
            items: Vec<u32>,
        }
        let Err(ApiError::Invalid(fields)) = parse_json::<Body>(br#"{"items": [1, "two"]}"#) else {
            panic!("expected a field error");
        };
        assert_eq!(fields[0].field, "items[1]");
        assert!(!fields[0].message.contains("line"), "{}", fields[0].message);
        assert!(matches!(parse_json::<Body>(b"{"), Err(ApiError::BadRequest(_))));
    }

    #[test]
    fn an_id_error_names_its_field_once() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Body {
            user_id: crate::domain::UserId,
            count: u32,
        }
        let Err(ApiError::Invalid(fields)) = parse_json::<Body>(br#"{"user_id": "", "count": 1}"#) else {
            panic!("expected a field error");
        };
        assert_eq!(fields[0].field, "user_id");
        assert!(fields[0].message.starts_with("must be"), "{}", fields[0].message);
        // A serde message that merely has a colon keeps its words.
        let Err(ApiError::Invalid(fields)) = parse_json::<Body>(br#"{"user_id": "a", "count": "x"}"#) else {
            panic!("expected a field error");
        };
        assert!(fields[0].message.starts_with("invalid type: "), "{}", fields[0].message);
    }
}
