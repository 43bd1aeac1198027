//! What live sessions read: a user's memberships exactly as of a checkpoint (to resume),
//! unread counts of many users at once, and who shares a conversation with whom (presence).
//! Read only; each is one statement (or one snapshot) whatever the number of users.

use sqlx::{Connection, PgPool};
use uuid::Uuid;

use super::seq;
use crate::domain::UserId;
use crate::projections::PROJECTION;

/// One conversation a user takes part in, or left after the resume point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MembershipRow {
    pub conversation_id: Uuid,
    /// The sequence of the user's latest joining.
    pub joined_seq: u64,
    /// The sequence of their leaving; `None` while they take part.
    pub left_seq: Option<u64>,
}

/// The read models' checkpoint (their watermark) and `user`'s memberships in one
/// repeatable-read snapshot, limited to those current or left after `after_seq`. With one
/// partition the rows are exactly those as of the checkpoint; with more, a row may already
/// reflect a later join or leave (its `joined_seq`/`left_seq` says so).
pub async fn memberships(
    db: &PgPool,
    user: &UserId,
    after_seq: u64,
) -> Result<(u64, Vec<MembershipRow>), sqlx::Error> {
    let mut conn = db.acquire().await?;
    let mut tx = conn.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?;
    // The smallest partition checkpoint: every read model is complete up to it (partitions
    // ahead of it may already hold later rows, see `live::resume`).
    let checkpoint = sqlx::query_scalar!(
        "SELECT min(last_seq) FROM projector_checkpoints WHERE projection = $1",
        PROJECTION,
    )
    .fetch_one(&mut *tx)
    .await?
    .map(seq)
    .unwrap_or(0);
    let rows = sqlx::query!(
        "SELECT conversation_id, joined_seq, left_seq FROM participants
         WHERE user_id = $1 AND (left_seq IS NULL OR left_seq > $2)",
        user.as_str(),
        i64::try_from(after_seq).unwrap_or(i64::MAX),
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((
        checkpoint,
        rows.into_iter()
            .map(|r| MembershipRow {
                conversation_id: r.conversation_id,
                joined_seq: seq(r.joined_seq),
                left_seq: r.left_seq.map(seq),
            })
            .collect(),
    ))
}

/// Every current conversation of each of `users` with its unread count.
pub async fn unread_counts(db: &PgPool, users: &[String]) -> Result<Vec<(String, Uuid, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT user_id, conversation_id, unread_count FROM participants
         WHERE user_id = ANY($1) AND left_seq IS NULL",
        users,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.user_id, r.conversation_id, i64::from(r.unread_count))).collect())
}

/// Pairs `(user, other)` of each of `users` with everyone who takes part in a conversation
/// with them now.
pub async fn co_participants(db: &PgPool, users: &[String]) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT DISTINCT a.user_id AS "user_id!", b.user_id AS "other!"
           FROM participants a JOIN participants b ON a.conversation_id = b.conversation_id
           WHERE a.user_id = ANY($1) AND a.left_seq IS NULL AND b.left_seq IS NULL AND b.user_id <> a.user_id"#,
        users,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.user_id, r.other)).collect())
}
