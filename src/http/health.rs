//! Liveness and readiness. `/healthz` answers while the process runs; `/readyz` answers 200
//! only when NATS and PostgreSQL both answer and the streams exist, and says which is down.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use crate::event_log::subjects::EVENTS_STREAM;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Serialize, ToSchema)]
pub struct Health {
    status: &'static str,
}

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    status: &'static str,
    /// `ok`, or why the dependency is not usable.
    nats: String,
    postgres: String,
    streams: String,
}

#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let (nats, streams) = check_nats(&state).await;
    let postgres = check_postgres(&state).await;
    let ready = [&nats, &postgres, &streams].iter().all(|c| c.as_str() == "ok");
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = Readiness { status: if ready { "ready" } else { "unavailable" }, nats, postgres, streams };
    (status, Json(body))
}

async fn check_nats(state: &AppState) -> (String, String) {
    use async_nats::connection::State as Conn;
    match state.log.client().connection_state() {
        Conn::Connected => {}
        other => {
            let why = format!("down: {}", format!("{other:?}").to_lowercase());
            return (why, "unknown: NATS is down".into());
        }
    }
    let js = state.log.jetstream();
    match tokio::time::timeout(CHECK_TIMEOUT, js.get_stream(EVENTS_STREAM)).await {
        Ok(Ok(_)) => ("ok".into(), "ok".into()),
        Ok(Err(e)) if e.to_string().contains("not found") => {
            ("ok".into(), format!("missing: {EVENTS_STREAM}"))
        }
        Ok(Err(e)) => (format!("down: {e}"), "unknown".into()),
        Err(_) => ("down: JetStream did not answer within 2 s".into(), "unknown".into()),
    }
}

async fn check_postgres(state: &AppState) -> String {
    let query = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&state.db);
    match tokio::time::timeout(CHECK_TIMEOUT, query).await {
        Ok(Ok(_)) => "ok".into(),
        Ok(Err(e)) => format!("down: {e}"),
        Err(_) => "down: no answer within 2 s".into(),
    }
}
