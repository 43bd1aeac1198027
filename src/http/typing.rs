//! `POST /api/conversations/{id}/typing`: typing indicators for clients without a WebSocket,
//! and the check both it and the `typing` frame make before publishing.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::Authenticated;
use super::error::Problem;
use super::extract::{AppJson, AppPath};
use super::support::{Access, access};
use super::{ApiError, AppState};
use crate::auth::Principal;
use crate::domain::ConversationId;
use crate::live::typing::TypingError;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TypingBody {
    pub is_typing: bool,
}

/// Publishes that the caller started or stopped typing, if they take part in the conversation.
pub async fn publish(
    state: &AppState,
    caller: &Principal,
    conversation: ConversationId,
    is_typing: bool,
) -> Result<(), ApiError> {
    match access(state, caller, &conversation).await? {
        Access::Participant(_) => {}
        Access::Service => {
            return Err(ApiError::Forbidden("only participants type in a conversation".into()));
        }
    }
    state.live.typing.publish(&caller.actor(), conversation, is_typing).await.map_err(|e| match e {
        TypingError::RateLimited(retry_after) => ApiError::RateLimited { retry_after },
        TypingError::Unavailable(append) => append.into(),
    })
}

#[utoipa::path(post, path = "/api/conversations/{id}/typing", tag = "conversations",
    params(("id" = Uuid, Path, description = "conversation id")), request_body = TypingBody,
    responses((status = 204, description = "published to the other participants"), (status = 400, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 429, body = Problem),
              (status = 503, body = Problem)))]
pub async fn typing(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    AppPath(id): AppPath<Uuid>,
    AppJson(body): AppJson<TypingBody>,
) -> Result<StatusCode, ApiError> {
    publish(&state, &caller, ConversationId(id), body.is_typing).await?;
    Ok(StatusCode::NO_CONTENT)
}
