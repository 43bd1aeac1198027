//! The HTTP surface: router, shared state, error format, one file per resource. Handlers
//! authenticate, parse and authorise, hand commands to `commands` and read from `queries`;
//! they never touch NATS subjects or wire formats themselves.

pub mod attachments;
pub mod auth;
pub mod conversations;
pub mod dev;
pub mod error;
pub mod export;
pub mod extract;
pub mod health;
pub mod messages;
pub mod metrics;
pub mod openapi;
pub mod rate_limit;
pub mod reactions;
pub mod search;
pub mod server;
mod state;
pub mod support;
pub mod system;
mod timeout;
pub mod typing;
pub mod users;
pub mod web;
pub mod ws;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::Level;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

pub use error::ApiError;
pub use state::{AppState, Shared};

/// The routes and the OpenAPI document describing them.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    // Uploads are metered against --max-attachment-bytes as they stream, not held against
    // the JSON body limit.
    let (schemas, paths, upload) = routes!(attachments::upload);
    let upload = (schemas, paths, upload.layer(DefaultBodyLimit::disable()));
    let (routes, document) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(metrics::render))
        .routes(routes!(conversations::create))
        .routes(routes!(conversations::get))
        .routes(routes!(conversations::history))
        .routes(routes!(conversations::read))
        .routes(routes!(conversations::add_participant))
        .routes(routes!(conversations::remove_participant))
        .routes(routes!(export::export))
        .routes(routes!(messages::send))
        .routes(routes!(messages::get, messages::edit, messages::delete))
        .routes(routes!(reactions::add))
        .routes(routes!(reactions::remove))
        .routes(routes!(search::search))
        .routes(routes!(messages::read))
        .routes(upload)
        .routes(routes!(attachments::download))
        .routes(routes!(users::me, users::update_me))
        .routes(routes!(users::get, users::upsert))
        .routes(routes!(users::list_conversations))
        .routes(routes!(users::unread))
        .routes(routes!(users::presence))
        .routes(routes!(system::application_event))
        .routes(routes!(typing::typing))
        .routes(routes!(ws::connect))
        .routes(routes!(ws::connect_as))
        .routes(routes!(ws::ticket))
        .split_for_parts();
    (routes, openapi::with_common_responses(document))
}

/// The span of one request: its method and path, never its query string (WebSocket
/// handshakes carry credentials there).
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
}

/// Builds the application's router.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config.max_body_bytes;
    let (routes, document) = api();
    // The web client, and its development sign-in only on the development key.
    let routes = routes.merge(web::routes()).merge(dev::routes(&state.config).unwrap_or_default());
    routes
        .merge(SwaggerUi::new("/docs").url("/openapi.json", document))
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(state.clone(), timeout::bounded))
        .layer(axum::middleware::from_fn_with_state(state.clone(), rate_limit::by_address))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_failure(DefaultOnFailure::new().level(Level::WARN)),
        )
        .with_state(state)
}
