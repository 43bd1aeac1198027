//! `/api/messages/{id}/reactions`: add a reaction (one per user and emoji) and remove one's own.
//! Both answer with the message and its reactions as they are after the change.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::Authenticated;
use super::error::Problem;
use super::extract::{AppJson, AppPath};
use super::messages::{message_answer, visible_message};
use super::support::{Accepted, acting_for};
use super::{ApiError, AppState};
use crate::commands::Outcome;
use crate::domain::{ConversationCommand, ConversationId, MessageId, UserId, validate};
use crate::views::MessageView;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddReaction {
    /// One emoji (`👍`, `👨‍👩‍👧`, `🇫🇷`) or a `:name:` of 1 to 32 letters, digits, `_ + -`.
    pub emoji: String,
    /// A service reacts on behalf of this participant.
    #[schema(value_type = Option<String>)]
    pub user_id: Option<UserId>,
}

#[utoipa::path(post, path = "/api/messages/{id}/reactions", tag = "messages", request_body = AddReaction,
    params(("id" = Uuid, Path, description = "message id")),
    responses((status = 201, body = MessageView, description = "reaction added"),
              (status = 200, body = MessageView, description = "the caller had already reacted so"),
              (status = 202, body = Accepted), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "the message is deleted"), (status = 503, body = Problem)))]
pub async fn add(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    AppPath(id): AppPath<Uuid>,
    AppJson(body): AppJson<AddReaction>,
) -> Result<Response, ApiError> {
    let id = MessageId(id);
    let view = visible_message(&state, &caller, id).await?;
    let user_id = acting_for(&caller, body.user_id)?;
    let command = ConversationCommand::AddReaction { message_id: id, user_id, emoji: body.emoji };
    let conversation = ConversationId(view.conversation_id);
    let outcome = state.commands.execute(&caller.actor(), conversation, &command, None).await?;
    let status = match outcome {
        Outcome::Appended { .. } => StatusCode::CREATED,
        Outcome::Unchanged { .. } => StatusCode::OK,
    };
    message_answer(&state, id, &conversation, outcome.visible_at(), status).await
}

#[utoipa::path(delete, path = "/api/messages/{id}/reactions/{emoji}", tag = "messages",
    params(("id" = Uuid, Path, description = "message id"),
           ("emoji" = String, Path, description = "the reaction, percent-encoded (`%F0%9F%91%8D` for 👍)")),
    responses((status = 200, body = MessageView, description = "the message without the caller's reaction"),
              (status = 202, body = Accepted), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 503, body = Problem)))]
pub async fn remove(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    AppPath((id, emoji)): AppPath<(Uuid, String)>,
) -> Result<Response, ApiError> {
    let id = MessageId(id);
    // A reaction that could never have been added is a mistake worth naming, not a no-op.
    let emoji = validate::emoji(&emoji)?;
    let view = visible_message(&state, &caller, id).await?;
    let user_id = acting_for(&caller, None)?;
    let command = ConversationCommand::RemoveReaction { message_id: id, user_id, emoji };
    let conversation = ConversationId(view.conversation_id);
    let outcome = state.commands.execute(&caller.actor(), conversation, &command, None).await?;
    message_answer(&state, id, &conversation, outcome.visible_at(), StatusCode::OK).await
}
