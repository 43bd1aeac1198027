//! The `reactions` read model: who reacted to which message with which emoji, in order.
//! `message_deleted` clears a message's reactions (in `messages`).

use sqlx::PgConnection;

use super::apply::{ApplyError, Recorded, Result, seq};
use crate::domain::{ConversationId, MessageId, UserId};

pub async fn reaction_added(
    conn: &mut PgConnection,
    id: &ConversationId,
    message: &MessageId,
    user: &UserId,
    emoji: &str,
    recorded: &Recorded,
) -> Result<()> {
    sqlx::query!(
        "INSERT INTO reactions (message_id, user_id, emoji, conversation_id, seq)
         SELECT $1, $2, $3, $4, $5 FROM messages
         WHERE message_id = $1 AND conversation_id = $4 AND NOT deleted",
        message.0,
        user.as_str(),
        emoji,
        id.0,
        seq(recorded.seq),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected()
    .eq(&1)
    .then_some(())
    .ok_or_else(|| ApplyError::Invariant(format!("reaction to missing or deleted message {message}")))
}

pub async fn reaction_removed(
    conn: &mut PgConnection,
    id: &ConversationId,
    message: &MessageId,
    user: &UserId,
    emoji: &str,
) -> Result<()> {
    let deleted = sqlx::query!(
        "DELETE FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3 AND conversation_id = $4",
        message.0,
        user.as_str(),
        emoji,
        id.0,
    )
    .execute(&mut *conn)
    .await?;
    if deleted.rows_affected() == 0 {
        return Err(ApplyError::Invariant(format!("removal of a reaction {user} never left on {message}")));
    }
    Ok(())
}
