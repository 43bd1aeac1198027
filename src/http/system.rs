//! `POST /api/system/application-events`: the ATS's events over HTTP for backends that cannot
//! reach NATS. The event is checked, then published into `ATS_EVENTS` exactly as if the ATS
//! had published it, so both paths share one consumer, one order and one dedup.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bytes::Bytes;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::Authenticated;
use super::error::Problem;
use super::extract::parse_json;
use super::{ApiError, AppState};
use crate::ats::event;
use crate::domain::{ConversationId, MessageId, Role};
use crate::event_log::subjects;

#[derive(Debug, Serialize, ToSchema)]
pub struct EventAccepted {
    /// Always `accepted`: the event is stored and will be applied in order.
    pub status: &'static str,
    pub event_id: String,
    /// The application's conversation.
    pub conversation_id: Uuid,
    /// The system message this event posts.
    pub message_id: Uuid,
}

#[utoipa::path(post, path = "/api/system/application-events", tag = "system",
    request_body(content = event::AtsEvent, description = "An ATS event plus `type`: submitted, status_changed or withdrawn"),
    responses((status = 202, body = EventAccepted), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 503, body = Problem)))]
pub async fn application_event(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    body: Bytes,
) -> Result<(StatusCode, Json<EventAccepted>), ApiError> {
    if caller.role != Role::Service {
        return Err(ApiError::Forbidden("only a service may post application events".into()));
    }
    let mut json: serde_json::Map<String, serde_json::Value> = parse_json(&body)?;
    let change = match json.remove("type") {
        Some(serde_json::Value::String(change)) => change,
        _ => return Err(ApiError::invalid("type", "must be submitted, status_changed or withdrawn")),
    };
    let forwarded = serde_json::to_vec(&json).map_err(|e| ApiError::Internal(e.into()))?;
    let update = event::parse(&forwarded, &change, None).map_err(|m| ApiError::invalid("body", m.0))?;
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", update.ats_event_id.as_str());
    let subject = subjects::ats_application(update.application_id.as_str(), &change);
    let unavailable =
        |e: &dyn std::fmt::Display| ApiError::Unavailable { what: "NATS", cause: e.to_string() };
    state
        .log
        .jetstream()
        .publish_with_headers(subject, headers, forwarded.into())
        .await
        .map_err(|e| unavailable(&e))?
        .await
        .map_err(|e| unavailable(&e))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(EventAccepted {
            status: "accepted",
            event_id: update.ats_event_id.to_string(),
            conversation_id: ConversationId::for_application(&update.application_id).0,
            message_id: MessageId::for_ats_event(&update.ats_event_id).0,
        }),
    ))
}
