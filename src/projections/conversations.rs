//! The `conversations` and `participants` read models: who takes part, read and delivery
//! markers, unread counts.

use sqlx::PgConnection;

use super::apply::{ApplyError, Receipt, Recorded, Result, seq};
use crate::domain::{ConversationEvent, ConversationId, Role, UserId};

/// Every conversation event moves the conversation's `last_seq`.
pub async fn touch(conn: &mut PgConnection, id: &ConversationId, at: u64) -> Result<()> {
    let updated = sqlx::query!(
        "UPDATE conversations SET last_seq = GREATEST(last_seq, $2) WHERE conversation_id = $1",
        id.0,
        seq(at),
    )
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(ApplyError::Invariant(format!("conversation {id} does not exist")));
    }
    Ok(())
}

pub async fn created(
    conn: &mut PgConnection,
    id: &ConversationId,
    event: &ConversationEvent,
    recorded: &Recorded,
) -> Result<()> {
    let ConversationEvent::Created { title, kind, participants, application_id, job_id, created_by } = event
    else {
        unreachable!("called with conversation_created");
    };
    sqlx::query!(
        "INSERT INTO conversations (conversation_id, title, kind, application_id, job_id, created_by,
             created_at, created_seq, last_seq, activity_seq, activity_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8, $7)",
        id.0,
        title.as_deref(),
        kind.as_str(),
        application_id.as_ref().map(|a| a.as_str()),
        job_id.as_ref().map(|j| j.as_str()),
        created_by.as_str(),
        recorded.occurred_at,
        seq(recorded.seq),
    )
    .execute(&mut *conn)
    .await?;
    let users: Vec<String> = participants.iter().map(|p| p.user_id.to_string()).collect();
    let roles: Vec<String> = participants.iter().map(|p| p.role.as_str().to_owned()).collect();
    sqlx::query!(
        "INSERT INTO participants (conversation_id, user_id, role, joined_at, joined_seq)
         SELECT $1, u.user_id, u.role, $4, $5 FROM UNNEST($2::text[], $3::text[]) AS u(user_id, role)",
        id.0,
        &users,
        &roles,
        recorded.occurred_at,
        seq(recorded.seq),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn participant_added(
    conn: &mut PgConnection,
    id: &ConversationId,
    user: &UserId,
    role: Role,
    recorded: &Recorded,
) -> Result<()> {
    // Joining (again) starts from nothing unread: messages before `joined_seq` never count.
    sqlx::query!(
        "INSERT INTO participants (conversation_id, user_id, role, joined_at, joined_seq)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (conversation_id, user_id) DO UPDATE
         SET role = EXCLUDED.role, joined_at = EXCLUDED.joined_at, joined_seq = EXCLUDED.joined_seq,
             left_at = NULL, left_seq = NULL, unread_count = 0",
        id.0,
        user.as_str(),
        role.as_str(),
        recorded.occurred_at,
        seq(recorded.seq),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn participant_removed(
    conn: &mut PgConnection,
    id: &ConversationId,
    user: &UserId,
    recorded: &Recorded,
) -> Result<()> {
    let updated = sqlx::query!(
        "UPDATE participants SET left_at = $3, left_seq = $4, unread_count = 0
         WHERE conversation_id = $1 AND user_id = $2 AND left_seq IS NULL",
        id.0,
        user.as_str(),
        recorded.occurred_at,
        seq(recorded.seq),
    )
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(ApplyError::Invariant(format!("{user} does not take part in {id}")));
    }
    Ok(())
}

/// Moves the read marker forward and counts again what is still unread.
pub async fn messages_read(
    conn: &mut PgConnection,
    id: &ConversationId,
    reader: &UserId,
    up_to: u64,
) -> Result<()> {
    let updated = sqlx::query!(
        "UPDATE participants p
         SET last_read_seq = GREATEST(p.last_read_seq, $3),
             last_delivered_seq = GREATEST(p.last_delivered_seq, $3),
             unread_count = CASE WHEN p.left_seq IS NOT NULL THEN 0 ELSE (
                 SELECT count(*) FROM messages m
                 WHERE m.conversation_id = p.conversation_id
                   AND m.seq > GREATEST(p.last_read_seq, $3) AND m.seq > p.joined_seq
                   AND NOT m.deleted AND m.sender_id IS DISTINCT FROM p.user_id)::int END
         WHERE p.conversation_id = $1 AND p.user_id = $2",
        id.0,
        reader.as_str(),
        seq(up_to),
    )
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(ApplyError::Invariant(format!("{reader} never took part in {id}")));
    }
    Ok(())
}

/// A run of read and delivery receipts in one statement: each (conversation, user) moves its
/// markers to the furthest receipt of the run and, when one was a read, recounts its unread
/// messages once (as `messages_read` does); every conversation's `last_seq` moves as `touch`
/// moves it. A receipt naming someone who never took part fails the whole run.
pub(super) async fn receipts(conn: &mut PgConnection, run: &[Receipt<'_>]) -> Result<()> {
    let conversations: Vec<uuid::Uuid> = run.iter().map(|r| r.conversation_id.0).collect();
    let users: Vec<&str> = run.iter().map(|r| r.user_id.as_str()).collect();
    let up_to: Vec<i64> = run.iter().map(|r| seq(r.up_to_seq)).collect();
    let seqs: Vec<i64> = run.iter().map(|r| seq(r.seq)).collect();
    let reads: Vec<bool> = run.iter().map(|r| r.read).collect();
    let counts = sqlx::query!(
        r#"WITH input AS (
               SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::int8[], $4::int8[], $5::bool[])
                   AS t(conversation_id, user_id, up_to, seq, is_read)
           ), marks AS (
               SELECT conversation_id, user_id, max(up_to) FILTER (WHERE is_read) AS read_to,
                      max(up_to) AS delivered_to
               FROM input GROUP BY conversation_id, user_id
           ), marked AS (
               UPDATE participants p
               SET last_read_seq = GREATEST(p.last_read_seq, m.read_to),
                   last_delivered_seq = GREATEST(p.last_delivered_seq, m.delivered_to),
                   unread_count = CASE
                       WHEN m.read_to IS NULL THEN p.unread_count
                       WHEN p.left_seq IS NOT NULL THEN 0
                       ELSE (SELECT count(*) FROM messages msg
                             WHERE msg.conversation_id = p.conversation_id
                               AND msg.seq > GREATEST(p.last_read_seq, m.read_to) AND msg.seq > p.joined_seq
                               AND NOT msg.deleted AND msg.sender_id IS DISTINCT FROM p.user_id)::int END
               FROM marks m WHERE p.conversation_id = m.conversation_id AND p.user_id = m.user_id
               RETURNING 1
           ), touched AS (
               UPDATE conversations c SET last_seq = GREATEST(c.last_seq, t.seq)
               FROM (SELECT conversation_id, max(seq) AS seq FROM input GROUP BY conversation_id) t
               WHERE c.conversation_id = t.conversation_id RETURNING 1
           )
           SELECT (SELECT count(*) FROM marked) AS "marked!", (SELECT count(*) FROM marks) AS "pairs!",
                  (SELECT count(*) FROM touched) AS "touched!",
                  (SELECT count(DISTINCT conversation_id) FROM input) AS "conversations!""#,
        &conversations,
        &users as &[&str],
        &up_to,
        &seqs,
        &reads,
    )
    .fetch_one(&mut *conn)
    .await?;
    if counts.touched != counts.conversations {
        return Err(ApplyError::Invariant("a receipt names a conversation that does not exist".into()));
    }
    if counts.marked != counts.pairs {
        return Err(ApplyError::Invariant("a receipt names someone who never took part".into()));
    }
    Ok(())
}

pub async fn message_delivered(
    conn: &mut PgConnection,
    id: &ConversationId,
    recipient: &UserId,
    up_to: u64,
) -> Result<()> {
    let updated = sqlx::query!(
        "UPDATE participants SET last_delivered_seq = GREATEST(last_delivered_seq, $3)
         WHERE conversation_id = $1 AND user_id = $2",
        id.0,
        recipient.as_str(),
        seq(up_to),
    )
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(ApplyError::Invariant(format!("{recipient} never took part in {id}")));
    }
    Ok(())
}
