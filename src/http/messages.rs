//! `/api/messages`: send (idempotent with `client_msg_id`), read one, edit, delete, mark read
//! up to one. Reactions live in `reactions`, attachment uploads in `attachments`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::Authenticated;
use super::conversations::mark_read;
use super::error::Problem;
use super::extract::{AppJson, AppPath};
use super::support::{Accepted, accepted, access, acting_for, visible_in};
use super::{ApiError, AppState};
use crate::auth::Principal;
use crate::commands::Outcome;
use crate::domain::{
    ClientMsgId, ConversationCommand, ConversationId, MessageId, MessageKind, Unchanged, UserId,
};
use crate::queries::messages;
use crate::views::MessageView;

#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KindParam {
    Text,
    File,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    pub conversation_id: Uuid,
    /// 1 to 16,384 characters after trimming (configurable).
    pub content: String,
    /// `text` or `file` (default: `file` when `attachment_ids` names any, else `text`).
    pub kind: Option<KindParam>,
    /// A message of the same conversation this one answers.
    pub reply_to: Option<Uuid>,
    /// Up to 10 uploads of the sender (`POST /api/attachments`), referenced within
    /// `--attachment-orphan-ttl` of their upload.
    pub attachment_ids: Option<Vec<Uuid>>,
    /// The client's idempotency key: repeats return the original message.
    #[schema(value_type = Option<String>)]
    pub client_msg_id: Option<ClientMsgId>,
    /// A service sends on behalf of this participant.
    #[schema(value_type = Option<String>)]
    pub sender_id: Option<UserId>,
}

/// The stream's duplicate-window key of a send: one per sender, conversation and client key.
pub fn send_dedup_id(conversation: &ConversationId, sender: &UserId, client_msg_id: &ClientMsgId) -> String {
    format!("send:{conversation}:{sender}:{}", client_msg_id.as_str())
}

#[utoipa::path(post, path = "/api/messages", tag = "messages", request_body = SendMessage,
    responses((status = 201, body = MessageView, description = "sent"),
              (status = 200, body = MessageView, description = "a repeat of a client_msg_id: the original"),
              (status = 202, body = Accepted), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 413, body = Problem),
              (status = 503, body = Problem)))]
pub async fn send(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    AppJson(body): AppJson<SendMessage>,
) -> Result<Response, ApiError> {
    let sent = submit(&state, &caller, body).await?;
    let status = if sent.created { StatusCode::CREATED } else { StatusCode::OK };
    // A new message without a reply is exactly its event: answer with it once it is visible,
    // without reading back the row the projector just wrote.
    if let Some(view) = sent.view().filter(|view| view.reply_to.is_none()) {
        let seq = sent.outcome.visible_at();
        if !visible_in(&state, &sent.conversation, seq).await {
            return Ok(accepted(seq, Some(sent.id.0)));
        }
        return Ok((status, Json(view)).into_response());
    }
    message_answer(&state, sent.id, &sent.conversation, sent.outcome.visible_at(), status).await
}

/// What sending did: the message (new, or the original of a repeated `client_msg_id`).
#[derive(Debug)]
pub struct Sent {
    pub id: MessageId,
    pub conversation: ConversationId,
    /// False for a repeat: `id` is the original.
    pub created: bool,
    pub outcome: Outcome,
}

impl Sent {
    /// The new message, built from its event (without waiting for the read models); `None`
    /// for a repeat.
    pub fn view(&self) -> Option<MessageView> {
        match &self.outcome {
            Outcome::Appended { first_seq, occurred_at, events, .. } => {
                MessageView::from_sent(self.conversation, *first_seq, *occurred_at, events.first()?)
            }
            Outcome::Unchanged { .. } => None,
        }
    }
}

/// Validates, authorises and sends a message: the part of sending that REST and WebSocket
/// share. A repeat of a sender's `client_msg_id` in the conversation finds the original.
pub async fn submit(state: &AppState, caller: &Principal, body: SendMessage) -> Result<Sent, ApiError> {
    let conversation = ConversationId(body.conversation_id);
    let sender = acting_for(caller, body.sender_id)?;
    let attachment_ids = body.attachment_ids.unwrap_or_default();
    let attachments = super::attachments::references(state, caller, &sender, &attachment_ids).await?;
    let message_id = MessageId::new();
    let dedup = body.client_msg_id.as_ref().map(|c| send_dedup_id(&conversation, &sender, c));
    let command = ConversationCommand::SendMessage {
        message_id,
        sender_id: sender.clone(),
        kind: match body.kind {
            Some(KindParam::File) => MessageKind::File,
            Some(KindParam::Text) => MessageKind::Text,
            // A message that carries files is a file message unless the client says otherwise.
            None if !attachments.is_empty() => MessageKind::File,
            None => MessageKind::Text,
        },
        content: body.content,
        reply_to: body.reply_to.map(MessageId),
        attachments,
        client_msg_id: body.client_msg_id.clone(),
    };
    let outcome = state.commands.execute(&caller.actor(), conversation, &command, dedup).await?;
    let (id, created) = match &outcome {
        Outcome::Appended { .. } => (message_id, true),
        Outcome::Unchanged { reason: Unchanged::AlreadySent(original), .. } => (*original, false),
        Outcome::Unchanged { .. } => {
            // A racing twin stored it first: the conversation's state knows which message.
            let client_id = body.client_msg_id.as_ref().expect("only keyed sends can be duplicates");
            let state_now = state.commands.state(conversation).await?;
            let original = state_now
                .message_for_client_id(&sender, client_id)
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("duplicate send without an original")))?;
            (original, false)
        }
    };
    Ok(Sent { id, conversation, created, outcome })
}

/// Answers a write with the message as it is once the write is visible, or 202 with the
/// write's `seq` when the read models lag more than `--write-wait`.
pub(super) async fn message_answer(
    state: &AppState,
    id: MessageId,
    conversation: &ConversationId,
    seq: u64,
    status: StatusCode,
) -> Result<Response, ApiError> {
    if !visible_in(state, conversation, seq).await {
        return Ok(accepted(seq, Some(id.0)));
    }
    let view = messages::by_id(&state.db, &id)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("message {id} visible but not found")))?;
    Ok((status, Json(view)).into_response())
}

#[utoipa::path(get, path = "/api/messages/{id}", tag = "messages",
    params(("id" = Uuid, Path, description = "message id")),
    responses((status = 200, body = MessageView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<MessageView>, ApiError> {
    let view = visible_message(&state, &caller, MessageId(id)).await?;
    Ok(Json(view))
}

/// A message the caller may see, or 404.
pub(super) async fn visible_message(
    state: &AppState,
    caller: &Principal,
    id: MessageId,
) -> Result<MessageView, ApiError> {
    let not_found = || ApiError::NotFound("message not found".into());
    let view = messages::by_id(&state.db, &id).await?.ok_or_else(not_found)?;
    access(state, caller, &ConversationId(view.conversation_id)).await.map_err(|_| not_found())?;
    Ok(view)
}

#[utoipa::path(put, path = "/api/messages/{id}/read", tag = "messages",
    params(("id" = Uuid, Path, description = "message id")),
    responses((status = 200, body = super::conversations::ReadState), (status = 202, body = Accepted),
              (status = 404, body = Problem)))]
pub async fn read(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    AppPath(id): AppPath<Uuid>,
) -> Result<Response, ApiError> {
    let view = visible_message(&state, &caller, MessageId(id)).await?;
    let reader = acting_for(&caller, None)?;
    mark_read(&state, &caller, ConversationId(view.conversation_id), reader, Some(view.seq)).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditMessage {
    /// The new content: 1 to 16,384 characters after trimming (configurable).
    pub content: String,
}

#[utoipa::path(patch, path = "/api/messages/{id}", tag = "messages", request_body = EditMessage,
    params(("id" = Uuid, Path, description = "message id")),
    responses((status = 200, body = MessageView, description = "the edited message"),
              (status = 202, body = Accepted), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem, description = "not the sender"), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "the message is deleted"), (status = 503, body = Problem)))]
pub async fn edit(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    AppPath(id): AppPath<Uuid>,
    AppJson(body): AppJson<EditMessage>,
) -> Result<Response, ApiError> {
    let id = MessageId(id);
    let view = visible_message(&state, &caller, id).await?;
    let command = ConversationCommand::EditMessage { message_id: id, content: body.content };
    let conversation = ConversationId(view.conversation_id);
    let outcome = state.commands.execute(&caller.actor(), conversation, &command, None).await?;
    message_answer(&state, id, &conversation, outcome.visible_at(), StatusCode::OK).await
}

#[utoipa::path(delete, path = "/api/messages/{id}", tag = "messages",
    params(("id" = Uuid, Path, description = "message id")),
    responses((status = 200, body = MessageView, description = "the message, deleted: its content is gone"),
              (status = 202, body = Accepted), (status = 401, body = Problem),
              (status = 403, body = Problem, description = "neither the sender nor a service"),
              (status = 404, body = Problem), (status = 503, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    AppPath(id): AppPath<Uuid>,
) -> Result<Response, ApiError> {
    let id = MessageId(id);
    let view = visible_message(&state, &caller, id).await?;
    let command = ConversationCommand::DeleteMessage { message_id: id };
    let conversation = ConversationId(view.conversation_id);
    // Deleting again changes nothing and answers the same deleted message.
    let outcome = state.commands.execute(&caller.actor(), conversation, &command, None).await?;
    message_answer(&state, id, &conversation, outcome.visible_at(), StatusCode::OK).await
}
