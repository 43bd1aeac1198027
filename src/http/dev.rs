//! `POST /api/dev/token`: development sign-in for the web client (`GET` answers 204, so the
//! page can ask whether it exists without a failed request in the browser's console). It exists only while the
//! server verifies tokens with the generated development key (`--env development`, HS256 and
//! no `PARLEY_JWT_SECRET`); with any configured key the route is not registered and the path
//! is a 404 like any unknown one. Anyone who can reach such a server may mint any user's
//! token, exactly as anyone who can read `<data-dir>/dev-jwt-secret` can with `parley token`:
//! that is what a development key is for. Not part of the API contract, so not in OpenAPI.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use serde::{Deserialize, Serialize};

use super::extract::AppJson;
use super::{ApiError, AppState};
use crate::auth::Signer;
use crate::config::{Config, Environment, JwtAlgorithm};
use crate::domain::{Role, UserId};

/// How long a development token lasts: a working day, so a demo is not cut short.
const TTL: Duration = Duration::from_secs(12 * 3600);

/// Longest display name accepted, as `PUT /api/users/me` accepts.
const MAX_NAME_CHARS: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DevTokenRequest {
    user_id: UserId,
    role: Role,
    name: Option<String>,
}

#[derive(Debug, Serialize)]
struct DevToken {
    token: String,
    user_id: String,
    role: &'static str,
    expires_in: u64,
}

/// Whether the server runs on the generated development key: the only configuration in
/// which `/api/dev/token` exists.
pub fn uses_development_key(config: &Config) -> bool {
    config.environment == Environment::Development
        && config.auth.jwt_algorithm == JwtAlgorithm::Hs256
        && config.auth.jwt_secret.is_none()
        && config.auth.jwt_public_key_file.is_none()
}

/// The development routes, or `None` when the server verifies with a configured key.
pub fn routes(config: &Config) -> Option<Router<AppState>> {
    if !uses_development_key(config) {
        return None;
    }
    // The same key `Verifier::from_config` read at start-up (the file exists by now).
    let signer = match Signer::from_config(&config.auth, config.environment, &config.data_dir, None) {
        Ok(signer) => Arc::new(signer),
        Err(e) => {
            tracing::warn!(error = %e, "development sign-in disabled: cannot read the development key");
            return None;
        }
    };
    tracing::info!("development sign-in enabled at POST /api/dev/token (development key in use)");
    let mint = move |AppJson(body): AppJson<DevTokenRequest>| {
        let signer = signer.clone();
        async move { mint(&signer, body) }
    };
    Some(Router::new().route("/api/dev/token", get(|| async { StatusCode::NO_CONTENT }).post(mint)))
}

fn mint(signer: &Signer, body: DevTokenRequest) -> Result<Json<DevToken>, ApiError> {
    if !matches!(body.role, Role::Recruiter | Role::Applicant) {
        return Err(ApiError::invalid("role", "development sign-in is for a recruiter or an applicant"));
    }
    let name = body.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
    if name.is_some_and(|n| n.chars().count() > MAX_NAME_CHARS) {
        return Err(ApiError::invalid("name", format!("must be at most {MAX_NAME_CHARS} characters")));
    }
    let token = signer
        .mint(&body.user_id, body.role, name, TTL)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))?;
    Ok(Json(DevToken {
        token,
        user_id: body.user_id.to_string(),
        role: body.role.as_str(),
        expires_in: TTL.as_secs(),
    }))
}
