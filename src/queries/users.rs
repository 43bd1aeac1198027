//! User profiles.

use sqlx::PgPool;

use crate::domain::UserId;
use crate::views::ProfileView;

/// The profile of `user`, `None` if no profile event named them yet.
pub async fn profile(db: &PgPool, user: &UserId) -> Result<Option<ProfileView>, sqlx::Error> {
    let row = sqlx::query!("SELECT user_id, name, role FROM users WHERE user_id = $1", user.as_str())
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| ProfileView { id: r.user_id, name: r.name, role: r.role }))
}

/// The role `user` had when last added to any conversation, for defaults.
pub async fn known_role(db: &PgPool, user: &UserId) -> Result<Option<String>, sqlx::Error> {
    let role = sqlx::query_scalar!(
        "SELECT COALESCE(
             (SELECT role FROM users WHERE user_id = $1),
             (SELECT role FROM participants WHERE user_id = $1 ORDER BY joined_seq DESC LIMIT 1))",
        user.as_str(),
    )
    .fetch_one(db)
    .await?;
    Ok(role)
}
