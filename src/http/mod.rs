//! The HTTP surface: router, shared state, error format, one file per resource. Handlers
//! validate and authorise, then hand commands to `commands` and read from the read models;
//! they never touch NATS subjects or wire formats themselves.

pub mod auth;
pub mod error;
pub mod health;
mod state;
pub mod users;

use axum::Router;
use axum::routing::get;
use tower_http::trace::TraceLayer;

pub use error::ApiError;
pub use state::AppState;

/// Builds the application's router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/api/users/me", get(users::me))
        .fallback(error::not_found)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
