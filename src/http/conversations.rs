//! `/api/conversations`: create, read, history, read markers, participants.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::Authenticated;
use super::error::Problem;
use super::extract::{AppJson, AppPath, AppQuery, parse_json};
use super::support::{Accepted, accepted, access, acting_for, visible_in};
use super::{ApiError, AppState};
use crate::auth::Principal;
use crate::commands::Outcome;
use crate::domain::{ConversationCommand, ConversationId, ConversationKind, ExternalId, Role, UserId};
use crate::queries::messages::{self, MAX_PAGE, Page};
use crate::queries::{conversations, users};
use crate::views::{ConversationView, MessageView};

#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KindParam {
    Direct,
    Group,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConversation {
    pub title: Option<String>,
    /// Who takes part. Numbers are read as their decimal string.
    #[schema(value_type = Vec<String>)]
    pub participant_ids: Vec<UserId>,
    /// The role of each participant, in the same order (default: the role they are known by).
    #[schema(value_type = Option<Vec<String>>)]
    pub participant_types: Option<Vec<Role>>,
    /// `group` (default) or `direct` (exactly two participants, one conversation per pair).
    pub kind: Option<KindParam>,
    #[schema(value_type = Option<String>)]
    pub application_id: Option<ExternalId>,
    #[schema(value_type = Option<String>)]
    pub job_id: Option<ExternalId>,
}

async fn conversation_answer(
    state: &AppState,
    id: ConversationId,
    viewer: &Principal,
    seq: u64,
    status: StatusCode,
) -> Result<Response, ApiError> {
    if !visible_in(state, &id, seq).await {
        return Ok(accepted(seq, Some(id.0)));
    }
    let view = conversations::view(&state.db, &id, &viewer.user_id)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("conversation {id} visible but not found")))?;
    Ok((status, Json(view)).into_response())
}

/// The role a participant gets when the request does not say.
async fn default_role(state: &AppState, caller: &Principal, user: &UserId) -> Result<Role, ApiError> {
    if user == &caller.user_id {
        return Ok(caller.role);
    }
    if let Some(known) = users::known_role(&state.db, user).await?
        && let Ok(role) = Role::parse(&known)
    {
        return Ok(role);
    }
    Ok(match caller.role {
        Role::Applicant => Role::Recruiter,
        _ => Role::Applicant,
    })
}

#[utoipa::path(post, path = "/api/conversations", tag = "conversations", request_body = CreateConversation,
    responses((status = 201, body = ConversationView, description = "created"),
              (status = 200, body = ConversationView, description = "the direct conversation of this pair existed"),
              (status = 202, body = Accepted), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 409, body = Problem), (status = 503, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    AppJson(body): AppJson<CreateConversation>,
) -> Result<Response, ApiError> {
    let mut ids = body.participant_ids;
    let mut types = body.participant_types;
    if let Some(types) = &types
        && types.len() != ids.len()
    {
        return Err(ApiError::invalid(
            "participant_types",
            "must name one role per participant id, in the same order",
        ));
    }
    if caller.role != Role::Service && !ids.contains(&caller.user_id) {
        ids.insert(0, caller.user_id.clone());
        if let Some(types) = &mut types {
            types.insert(0, caller.role);
        }
    }
    let mut participants = Vec::with_capacity(ids.len());
    for (i, user) in ids.iter().enumerate() {
        let role = match &types {
            Some(types) => types[i],
            None => default_role(&state, &caller, user).await?,
        };
        participants.push((user.clone(), role));
    }
    let kind = match body.kind {
        Some(KindParam::Direct) => ConversationKind::Direct,
        Some(KindParam::Group) | None => ConversationKind::Group,
    };
    let id = match (kind, participants.as_slice()) {
        (ConversationKind::Direct, [(a, _), (b, _)]) => ConversationId::direct(a, b),
        _ => ConversationId::new(),
    };
    let command = ConversationCommand::Create {
        title: body.title,
        kind,
        participants,
        application_id: body.application_id,
        job_id: body.job_id,
    };
    let outcome = state.commands.execute(&caller.actor(), id, &command, None).await?;
    let status = match outcome {
        Outcome::Appended { .. } => StatusCode::CREATED,
        Outcome::Unchanged { .. } => StatusCode::OK,
    };
    conversation_answer(&state, id, &caller, outcome.visible_at(), status).await
}

#[utoipa::path(get, path = "/api/conversations/{id}", tag = "conversations",
    params(("id" = Uuid, Path, description = "conversation id")),
    responses((status = 200, body = ConversationView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<ConversationView>, ApiError> {
    let id = ConversationId(id);
    access(&state, &caller, &id).await?;
    let view = conversations::view(&state.db, &id, &caller.user_id).await?;
    view.map(Json).ok_or_else(|| ApiError::NotFound("conversation not found".into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryParams {
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    /// Messages before this sequence, newest first.
    pub before: Option<u64>,
    /// Messages after this sequence, oldest first.
    pub after: Option<u64>,
    /// Skip this many of the newest, newest first.
    pub offset: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPage {
    pub messages: Vec<MessageView>,
    /// Pass as `before` for older messages; `null` when there are none.
    pub next_before: Option<u64>,
    /// Pass as `after` for newer messages (pages read with `after`); `null` when there are none.
    pub next_after: Option<u64>,
}

#[utoipa::path(get, path = "/api/conversations/{id}/messages", tag = "conversations",
    params(("id" = Uuid, Path, description = "conversation id"), HistoryParams),
    responses((status = 200, body = HistoryPage), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn history(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    AppPath(id): AppPath<Uuid>,
    AppQuery(params): AppQuery<HistoryParams>,
) -> Result<Json<HistoryPage>, ApiError> {
    let id = ConversationId(id);
    let limit = params.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid("limit", format!("must be between 1 and {MAX_PAGE}")));
    }
    let page = match (params.before, params.after, params.offset) {
        (None, None, None) => Page::Before(None),
        (Some(before), None, None) => Page::Before(Some(before)),
        (None, Some(after), None) => Page::After(after),
        (None, None, Some(offset)) => Page::Offset(offset),
        _ => return Err(ApiError::invalid("query", "use at most one of before, after and offset")),
    };
    access(&state, &caller, &id).await?;
    let (messages, more) = messages::history(&state.db, &id, page, limit).await?;
    let (next_before, next_after) = match page {
        Page::After(_) => (None, more.then(|| messages.last().map(|m| m.seq)).flatten()),
        _ => (more.then(|| messages.last().map(|m| m.seq)).flatten(), None),
    };
    Ok(Json(HistoryPage { messages, next_before, next_after }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    /// Read everything up to this sequence (default: everything so far).
    pub up_to_seq: Option<u64>,
    /// A service marks on behalf of this participant.
    #[schema(value_type = Option<String>)]
    pub user_id: Option<UserId>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadState {
    pub last_read_seq: u64,
    pub unread: i64,
}

/// Marks read as `reader` and answers with the marker and what is still unread.
pub(super) async fn mark_read(
    state: &AppState,
    caller: &Principal,
    id: ConversationId,
    reader: UserId,
    up_to_seq: Option<u64>,
) -> Result<Response, ApiError> {
    let command = ConversationCommand::MarkRead { reader_id: reader.clone(), up_to_seq };
    let outcome = state.commands.execute(&caller.actor(), id, &command, None).await?;
    if !visible_in(state, &id, outcome.visible_at()).await {
        return Ok(accepted(outcome.visible_at(), None));
    }
    let membership = conversations::membership(&state.db, &id, &reader)
        .await?
        .ok_or_else(|| ApiError::NotFound("conversation not found".into()))?;
    Ok(Json(ReadState { last_read_seq: membership.last_read_seq, unread: membership.unread_count })
        .into_response())
}

#[utoipa::path(put, path = "/api/conversations/{id}/read", tag = "conversations",
    params(("id" = Uuid, Path, description = "conversation id")), request_body(content = Option<MarkRead>),
    responses((status = 200, body = ReadState), (status = 202, body = Accepted), (status = 400, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn read(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    AppPath(id): AppPath<Uuid>,
    body: Bytes,
) -> Result<Response, ApiError> {
    // The body is optional: an empty one marks everything read.
    let body: MarkRead =
        if body.iter().all(u8::is_ascii_whitespace) { MarkRead::default() } else { parse_json(&body)? };
    let reader = acting_for(&caller, body.user_id)?;
    mark_read(&state, &caller, ConversationId(id), reader, body.up_to_seq).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddParticipant {
    #[schema(value_type = String)]
    pub user_id: UserId,
    /// Default: the role the user is known by.
    #[schema(value_type = Option<String>)]
    pub role: Option<Role>,
}

#[utoipa::path(post, path = "/api/conversations/{id}/participants", tag = "conversations",
    params(("id" = Uuid, Path, description = "conversation id")), request_body = AddParticipant,
    responses((status = 200, body = ConversationView), (status = 202, body = Accepted), (status = 400, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn add_participant(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    AppPath(id): AppPath<Uuid>,
    AppJson(body): AppJson<AddParticipant>,
) -> Result<Response, ApiError> {
    let id = ConversationId(id);
    access(&state, &caller, &id).await?;
    let role = match body.role {
        Some(role) => role,
        None => default_role(&state, &caller, &body.user_id).await?,
    };
    let command = ConversationCommand::AddParticipant { user_id: body.user_id, role };
    let outcome = state.commands.execute(&caller.actor(), id, &command, None).await?;
    conversation_answer(&state, id, &caller, outcome.visible_at(), StatusCode::OK).await
}

#[utoipa::path(delete, path = "/api/conversations/{id}/participants/{user_id}", tag = "conversations",
    params(("id" = Uuid, Path, description = "conversation id"), ("user_id" = String, Path, description = "who leaves or is removed")),
    responses((status = 204, description = "removed"), (status = 202, body = Accepted), (status = 403, body = Problem),
              (status = 404, body = Problem)))]
pub async fn remove_participant(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    AppPath((id, user)): AppPath<(Uuid, String)>,
) -> Result<Response, ApiError> {
    let id = ConversationId(id);
    let user = UserId::parse(&user).map_err(|e| ApiError::Invalid(vec![e]))?;
    let command = ConversationCommand::RemoveParticipant { user_id: user };
    let outcome = state.commands.execute(&caller.actor(), id, &command, None).await?;
    if !visible_in(&state, &id, outcome.visible_at()).await {
        return Ok(accepted(outcome.visible_at(), None));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
