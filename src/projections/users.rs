//! The `users` read model: profiles.

use sqlx::PgConnection;

use super::apply::{Recorded, Result, seq};
use crate::domain::{UserEvent, UserId};

pub async fn apply(
    conn: &mut PgConnection,
    user: &UserId,
    event: &UserEvent,
    recorded: &Recorded,
) -> Result<()> {
    let UserEvent::ProfileUpdated { name, role } = event;
    sqlx::query!(
        "INSERT INTO users (user_id, name, role, updated_at, updated_seq) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id) DO UPDATE
         SET name = COALESCE(EXCLUDED.name, users.name), role = COALESCE(EXCLUDED.role, users.role),
             updated_at = EXCLUDED.updated_at, updated_seq = EXCLUDED.updated_seq",
        user.as_str(),
        name.as_deref(),
        role.map(|r| r.as_str()),
        recorded.occurred_at,
        seq(recorded.seq),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
