//! The web client: the plain HTML, CSS and JavaScript under `web/`, compiled into the binary
//! and served at `/` (no build step, nothing fetched from elsewhere). Every file goes out with
//! its content type and a Content-Security-Policy that allows only this origin's scripts,
//! styles and connections, so an injected `<script>` or inline handler never runs.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::{ApiError, AppState};

/// Same-origin everything; `blob:` images for attachment previews; no framing, no plugins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' blob: data:; connect-src 'self'; manifest-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The files under `/web/`: name, bytes, content type.
const FILES: &[(&str, &str, &str)] = &[
    ("style.css", include_str!("../../web/style.css"), "text/css; charset=utf-8"),
    ("icon.svg", include_str!("../../web/icon.svg"), "image/svg+xml"),
    ("js/app.js", include_str!("../../web/js/app.js"), "text/javascript; charset=utf-8"),
    ("js/api.js", include_str!("../../web/js/api.js"), "text/javascript; charset=utf-8"),
    ("js/live.js", include_str!("../../web/js/live.js"), "text/javascript; charset=utf-8"),
    ("js/dom.js", include_str!("../../web/js/dom.js"), "text/javascript; charset=utf-8"),
    ("js/conversation.js", include_str!("../../web/js/conversation.js"), "text/javascript; charset=utf-8"),
    ("js/list.js", include_str!("../../web/js/list.js"), "text/javascript; charset=utf-8"),
];

const INDEX: &str = include_str!("../../web/index.html");

pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(index)).route("/web/{*file}", get(file))
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let headers: [(HeaderName, HeaderValue); 5] = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        // Revalidated on every load, so a new binary's files are picked up at once.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    (headers, body).into_response()
}

async fn index() -> Response {
    asset(INDEX, "text/html; charset=utf-8")
}

async fn file(Path(name): Path<String>) -> Result<Response, ApiError> {
    FILES
        .iter()
        .find(|(path, _, _)| *path == name)
        .map(|(_, body, content_type)| asset(body, content_type))
        .ok_or_else(|| ApiError::NotFound("no such file".into()))
}
