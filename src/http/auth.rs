//! The `Authenticated` extractor: `Authorization: Bearer <JWT>` verified into a `Principal`.
//! Every refusal is a 401 problem document saying what to fix; the token itself is never
//! logged or echoed. A verified caller over their rate limit is refused with 429 here.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use super::ApiError;
use super::rate_limit::RateLimits;
use crate::auth::{Principal, Verifier};

/// The verified caller of a request. A handler taking it answers 401 to anyone else.
#[derive(Clone, Debug)]
pub struct Authenticated(pub Principal);

impl<S> FromRequestParts<S> for Authenticated
where
    Arc<Verifier>: FromRef<S>,
    Arc<RateLimits>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers)?;
        let verifier = Arc::<Verifier>::from_ref(state);
        match verifier.verify(token) {
            Ok(principal) => {
                Arc::<RateLimits>::from_ref(state).check_user(&principal)?;
                Ok(Authenticated(principal))
            }
            Err(refusal) => {
                tracing::debug!(%refusal, "bearer token refused");
                Err(ApiError::Unauthorized(refusal.to_string()))
            }
        }
    }
}

/// The token of an `Authorization: Bearer` header (scheme case-insensitive, RFC 9110).
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let missing = || ApiError::Unauthorized("missing bearer token: send Authorization: Bearer <JWT>".into());
    let value = headers.get(header::AUTHORIZATION).ok_or_else(missing)?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized("the Authorization header must be visible ASCII".into()))?;
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::Unauthorized(
            "the Authorization header must use the Bearer scheme: Authorization: Bearer <JWT>".into(),
        ));
    }
    match token.trim() {
        "" => Err(missing()),
        token => Ok(token),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(authorization).unwrap());
        headers
    }

    fn refusal(headers: &HeaderMap) -> String {
        match bearer_token(headers) {
            Err(ApiError::Unauthorized(why)) => why,
            other => panic!("expected a 401, got {other:?}"),
        }
    }

    #[test]
    fn the_bearer_scheme_is_read_in_any_case() {
        assert_eq!(bearer_token(&headers("Bearer a.b.c")).unwrap(), "a.b.c");
        assert_eq!(bearer_token(&headers("bearer  a.b.c ")).unwrap(), "a.b.c");
        assert_eq!(bearer_token(&headers("BEARER a.b.c")).unwrap(), "a.b.c");
    }

    #[test]
    fn a_missing_or_empty_bearer_token_says_how_to_send_one() {
        for case in [HeaderMap::new(), headers("Bearer"), headers("Bearer   ")] {
            assert!(refusal(&case).starts_with("missing bearer token"), "{case:?}");
        }
    }

    #[test]
    fn other_schemes_are_refused_without_echoing_the_credentials() {
        let why = refusal(&headers("Basic YWJlOmh1bnRlcjI="));
        assert!(why.contains("Bearer scheme"), "{why}");
        assert!(!why.contains("YWJl"), "{why}");
    }
}
