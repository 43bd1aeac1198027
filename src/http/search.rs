//! `GET /api/search`: full-text search in the caller's conversations, best match first.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::Authenticated;
use super::error::Problem;
use super::extract::AppQuery;
use super::support::access;
use super::{ApiError, AppState};
use crate::domain::{ConversationId, Role};
use crate::queries::search::{self, Cursor, Scope};
use crate::views::MessageView;

/// Longest query, in characters.
const MAX_QUERY_CHARS: usize = 256;
const MAX_LIMIT: i64 = 100;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Words to find (all of them); `"a phrase"`, `-word` to exclude, `or` between alternatives.
    pub q: String,
    /// Only this conversation (required for services).
    pub conversation_id: Option<Uuid>,
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHit {
    pub message: MessageView,
    /// The text around the matches, HTML-escaped, each match wrapped in `<mark>…</mark>`.
    pub snippet: String,
    /// Relevance: higher is better.
    pub rank: f32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchPage {
    /// Best match first.
    pub results: Vec<SearchHit>,
    /// Pass as `cursor` for the next page; `null` when there is none.
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/search", tag = "messages", params(SearchParams),
    responses((status = 200, body = SearchPage), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 404, body = Problem, description = "conversation_id names a conversation the caller is not in"),
              (status = 503, body = Problem)))]
pub async fn search(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    AppQuery(params): AppQuery<SearchParams>,
) -> Result<Json<SearchPage>, ApiError> {
    let query = params.q.trim();
    if query.is_empty() || query.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::invalid("q", format!("must be 1 to {MAX_QUERY_CHARS} characters")));
    }
    let limit = params.limit.unwrap_or(20);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid("limit", format!("must be between 1 and {MAX_LIMIT}")));
    }
    let after = match params.cursor.as_deref() {
        Some(text) => Some(
            Cursor::decode(text)
                .ok_or_else(|| ApiError::invalid("cursor", "is not a cursor of this search"))?,
        ),
        None => None,
    };
    let only = params.conversation_id.map(ConversationId);
    if let Some(id) = &only {
        access(&state, &caller, id).await?;
    }
    let scope = match (caller.role, only) {
        (Role::Service, Some(id)) => Scope::Conversation(id),
        (Role::Service, None) => {
            return Err(ApiError::invalid(
                "conversation_id",
                "a service searches one conversation at a time",
            ));
        }
        (_, only) => Scope::Participant { user: caller.user_id.clone(), only },
    };
    let (hits, next) = search::search(&state.db, &scope, query, after, limit).await?;
    Ok(Json(SearchPage {
        results: hits
            .into_iter()
            .map(|hit| SearchHit { message: hit.message, snippet: hit.snippet, rank: hit.rank })
            .collect(),
        next_cursor: next.map(|cursor| cursor.encode()),
    }))
}
