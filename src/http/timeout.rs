//! The request timeout: a request whose answer is not ready within `--request-timeout` (a
//! body trickling in, a handler stuck on a dependency) is answered 408 as a problem document
//! and its work dropped, so slow clients cannot hold handlers forever. Only the answer's
//! head is bounded: a streamed download or a WebSocket session goes on after it.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};

pub async fn bounded(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = state.config.limits.request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            metrics::counter!("parley_http_timeouts_total").increment(1);
            ApiError::Timeout(format!("the request did not complete within {} s", limit.as_secs_f64()))
                .into_response()
        }
    }
}
