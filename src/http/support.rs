//! What every resource handler shares: who may see a conversation, waiting until a write is
//! visible, and turning command failures into API errors.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiError, AppState};
use crate::auth::Principal;
use crate::commands::CommandError;
use crate::domain::{ConversationId, Role};
use crate::queries::conversations::{self, Membership};

/// How the caller may reach a conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    Participant(Membership),
    /// A service acts on any conversation.
    Service,
}

/// The caller's access, or 404 for a conversation they may not see (whether or not it exists).
pub async fn access(
    state: &AppState,
    principal: &Principal,
    id: &ConversationId,
) -> Result<Access, ApiError> {
    let not_found = || ApiError::NotFound("conversation not found".into());
    if principal.role == Role::Service {
        return match conversations::exists(&state.db, id).await? {
            true => Ok(Access::Service),
            false => Err(not_found()),
        };
    }
    match conversations::membership(&state.db, id, &principal.user_id).await? {
        Some(membership) => Ok(Access::Participant(membership)),
        None => Err(not_found()),
    }
}

/// Waits (bounded by `--write-wait`) until every read model includes `seq`.
pub async fn visible(state: &AppState, seq: u64) -> bool {
    state.progress.wait_for(seq, state.config.write_wait, &state.db).await
}

/// Waits (bounded by `--write-wait`) until the read models include `seq`, an event of
/// `conversation`: only the partition that applies it is waited for.
pub async fn visible_in(state: &AppState, conversation: &ConversationId, seq: u64) -> bool {
    state.progress.wait_for_conversation(conversation, seq, state.config.write_wait, &state.db).await
}

/// Waits (bounded by `--write-wait`) until the read models include `seq`, a user event.
pub async fn visible_user_event(state: &AppState, seq: u64) -> bool {
    state.progress.wait_for_user_event(seq, state.config.write_wait, &state.db).await
}

/// The answer to a write that is durable but not yet visible in the read models.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// Always `accepted`.
    pub status: &'static str,
    /// Where the write landed in the event log; reads include it once projected.
    pub seq: u64,
    /// The id of what the write created, when it created something.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<uuid::Uuid>,
}

pub fn accepted(seq: u64, id: Option<uuid::Uuid>) -> Response {
    (StatusCode::ACCEPTED, Json(Accepted { status: "accepted", seq, id })).into_response()
}

impl From<CommandError> for ApiError {
    fn from(error: CommandError) -> Self {
        match error {
            CommandError::Rejected(rejection) => rejection.into(),
            CommandError::Append(append) => append.into(),
            CommandError::Read(read) => ApiError::Unavailable { what: "NATS", cause: read.to_string() },
        }
    }
}

/// The user a service acts for, or the caller itself. Only services may name someone else.
pub fn acting_for(
    principal: &Principal,
    named: Option<crate::domain::UserId>,
) -> Result<crate::domain::UserId, ApiError> {
    match named {
        Some(user) if user != principal.user_id && principal.role != Role::Service => {
            Err(ApiError::Forbidden("only a service may act on behalf of another user".into()))
        }
        Some(user) => Ok(user),
        None => Ok(principal.user_id.clone()),
    }
}
