//! `/api/users`: profiles. `GET /api/users/me` answers from the caller's token for now; it
//! moves to the profile read model once that exists.

use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::Authenticated;
use super::error::Problem;
use crate::domain::Role;

/// A user's profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct Profile {
    /// The user id (the token's `sub`).
    #[schema(value_type = String)]
    pub id: crate::domain::UserId,
    /// Display name; `null` when none is known.
    pub name: Option<String>,
    /// `recruiter`, `applicant`, `service` or `analyst`.
    #[schema(value_type = String)]
    pub role: Role,
}

#[utoipa::path(get, path = "/api/users/me", tag = "users",
    responses((status = 200, body = Profile), (status = 401, body = Problem)))]
pub async fn me(Authenticated(principal): Authenticated) -> Json<Profile> {
    Json(Profile { id: principal.user_id, name: principal.name, role: principal.role })
}
