//! `/api/users` and `/api/presence`: profiles, a user's conversations and unread totals.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::Authenticated;
use super::error::Problem;
use super::extract::{AppJson, AppPath, AppQuery};
use super::support::{Accepted, accepted, visible_user_event};
use super::{ApiError, AppState};
use crate::auth::Principal;
use crate::domain::{Role, UserId};
use crate::queries::{conversations, users};
use crate::views::{ConversationView, PresenceView, ProfileView};

fn parse_user(text: &str) -> Result<UserId, ApiError> {
    UserId::parse(text).map_err(|e| ApiError::Invalid(vec![e]))
}

/// Self, services, and users who share a conversation may see a profile; others get 404.
async fn may_see(state: &AppState, caller: &Principal, user: &UserId) -> Result<(), ApiError> {
    let allowed = &caller.user_id == user
        || matches!(caller.role, Role::Service | Role::Analyst)
        || conversations::share_a_conversation(&state.db, &caller.user_id, user).await?;
    if allowed { Ok(()) } else { Err(ApiError::NotFound("user not found".into())) }
}

/// Only the user themselves, or a service.
fn self_or_service(caller: &Principal, user: &UserId) -> Result<(), ApiError> {
    if &caller.user_id == user || caller.role == Role::Service {
        Ok(())
    } else {
        Err(ApiError::Forbidden("only the user themselves or a service may read this".into()))
    }
}

#[utoipa::path(get, path = "/api/users/me", tag = "users",
    responses((status = 200, body = ProfileView), (status = 401, body = Problem)))]
pub async fn me(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<ProfileView>, ApiError> {
    let stored = users::profile(&state.db, &caller.user_id).await?;
    Ok(Json(ProfileView {
        id: caller.user_id.to_string(),
        name: stored.and_then(|p| p.name).or(caller.name.clone()),
        role: Some(caller.role.as_str().to_owned()),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMe {
    /// The display name, 1 to 100 characters.
    pub name: String,
}

async fn profile_answer(state: &AppState, user: &UserId, seq: u64) -> Result<Response, ApiError> {
    if !visible_user_event(state, seq).await {
        return Ok(accepted(seq, None));
    }
    let profile = users::profile(&state.db, user)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("profile of {user} visible but not found")))?;
    Ok(Json(profile).into_response())
}

#[utoipa::path(put, path = "/api/users/me", tag = "users", request_body = UpdateMe,
    responses((status = 200, body = ProfileView), (status = 202, body = Accepted), (status = 400, body = Problem)))]
pub async fn update_me(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    AppJson(body): AppJson<UpdateMe>,
) -> Result<Response, ApiError> {
    let seq = state.commands.update_profile(&caller.actor(), &caller.user_id, Some(&body.name), None).await?;
    profile_answer(&state, &caller.user_id, seq).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpsertUser {
    pub name: Option<String>,
    #[schema(value_type = Option<String>)]
    pub role: Option<Role>,
}

#[utoipa::path(put, path = "/api/users/{user_id}", tag = "users", request_body = UpsertUser,
    params(("user_id" = String, Path)),
    responses((status = 200, body = ProfileView), (status = 202, body = Accepted), (status = 400, body = Problem),
              (status = 403, body = Problem)))]
pub async fn upsert(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    AppPath(user): AppPath<String>,
    AppJson(body): AppJson<UpsertUser>,
) -> Result<Response, ApiError> {
    let user = parse_user(&user)?;
    if caller.role != Role::Service {
        return Err(ApiError::Forbidden("only a service may set another user's profile".into()));
    }
    let seq = state.commands.update_profile(&caller.actor(), &user, body.name.as_deref(), body.role).await?;
    profile_answer(&state, &user, seq).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserWithPresence {
    #[serde(flatten)]
    pub profile: ProfileView,
    #[serde(flatten)]
    pub presence: PresenceView,
}

#[utoipa::path(get, path = "/api/users/{user_id}", tag = "users", params(("user_id" = String, Path)),
    responses((status = 200, body = UserWithPresence), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    AppPath(user): AppPath<String>,
) -> Result<Json<UserWithPresence>, ApiError> {
    let user = parse_user(&user)?;
    may_see(&state, &caller, &user).await?;
    let profile = users::profile(&state.db, &user).await?.unwrap_or(ProfileView {
        id: user.to_string(),
        name: None,
        role: None,
    });
    let presence = state.presence.lookup(&user).await;
    Ok(Json(UserWithPresence { profile, presence }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationList {
    pub conversations: Vec<ConversationView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/users/{user_id}/conversations", tag = "users",
    params(("user_id" = String, Path), ListParams),
    responses((status = 200, body = ConversationList), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn list_conversations(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    AppPath(user): AppPath<String>,
    AppQuery(params): AppQuery<ListParams>,
) -> Result<Json<ConversationList>, ApiError> {
    let user = parse_user(&user)?;
    self_or_service(&caller, &user)?;
    let limit = params.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 100"));
    }
    let (conversations, next) = conversations::list_for_user(&state.db, &user, params.cursor, limit).await?;
    Ok(Json(ConversationList { conversations, next_cursor: next.map(|n| n.to_string()) }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadEntry {
    pub conversation_id: Uuid,
    pub unread: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Unread {
    pub total: i64,
    /// The conversations with anything unread.
    pub conversations: Vec<UnreadEntry>,
}

#[utoipa::path(get, path = "/api/users/{user_id}/unread", tag = "users", params(("user_id" = String, Path)),
    responses((status = 200, body = Unread), (status = 403, body = Problem)))]
pub async fn unread(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    AppPath(user): AppPath<String>,
) -> Result<Json<Unread>, ApiError> {
    let user = parse_user(&user)?;
    self_or_service(&caller, &user)?;
    let (total, rows) = conversations::unread(&state.db, &user).await?;
    let conversations =
        rows.into_iter().map(|(conversation_id, unread)| UnreadEntry { conversation_id, unread }).collect();
    Ok(Json(Unread { total, conversations }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PresenceParams {
    /// Comma-separated user ids (at most 100).
    pub user_ids: String,
}

#[utoipa::path(get, path = "/api/presence", tag = "users", params(PresenceParams),
    responses((status = 200, body = Vec<PresenceView>), (status = 400, body = Problem)))]
pub async fn presence(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    AppQuery(params): AppQuery<PresenceParams>,
) -> Result<Json<Vec<PresenceView>>, ApiError> {
    let ids: Vec<&str> = params.user_ids.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    if ids.is_empty() || ids.len() > 100 {
        return Err(ApiError::invalid("user_ids", "name 1 to 100 user ids, separated by commas"));
    }
    let mut answer = Vec::with_capacity(ids.len());
    for id in ids {
        let user = UserId::parse(id).map_err(|e| ApiError::Invalid(vec![e.for_field("user_ids")]))?;
        // Presence is shown only to people who share a conversation; to anyone else a user
        // looks offline, which reveals nothing.
        let visible = may_see(&state, &caller, &user).await.is_ok();
        answer.push(if visible {
            state.presence.lookup(&user).await
        } else {
            PresenceView { user_id: user.to_string(), status: "offline".into(), last_seen: None }
        });
    }
    Ok(Json(answer))
}
