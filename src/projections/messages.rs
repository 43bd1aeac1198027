//! The `messages` and `message_attachments` read models: history, edits, deletions, replies,
//! attachment references and the system messages of ATS updates, with the unread counts they
//! move. Reactions are in `reactions`.

use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::apply::{ApplyError, Recorded, Result, SentMessage, seq};
use crate::domain::{ConversationEvent, ConversationId, MessageId};
use crate::views::MessageView;

/// Characters of a replied-to message shown with the reply.
pub const REPLY_PREVIEW_CHARS: i32 = 140;

/// Inserts a run of sent messages with a handful of set-based statements, whatever its size.
pub async fn insert_sent(conn: &mut PgConnection, run: &[SentMessage<'_>]) -> Result<()> {
    let n = run.len();
    let mut ids = Vec::with_capacity(n);
    let mut conversations = Vec::with_capacity(n);
    let mut seqs = Vec::with_capacity(n);
    let mut senders = Vec::with_capacity(n);
    let mut sender_types = Vec::with_capacity(n);
    let mut kinds = Vec::with_capacity(n);
    let mut contents = Vec::with_capacity(n);
    let mut replies: Vec<Option<Uuid>> = Vec::with_capacity(n);
    let mut attachments = Vec::with_capacity(n);
    let mut client_ids: Vec<Option<String>> = Vec::with_capacity(n);
    let mut times = Vec::with_capacity(n);
    // One row per (attachment, message) for `message_attachments`.
    let (mut file_ids, mut file_messages, mut file_conversations) = (Vec::new(), Vec::new(), Vec::new());
    for sent in run {
        let ConversationEvent::MessageSent {
            message_id,
            sender_id,
            sender_role,
            kind,
            content,
            reply_to,
            attachments: files,
            client_msg_id,
        } = sent.event
        else {
            unreachable!("runs hold message_sent only");
        };
        ids.push(message_id.0);
        conversations.push(sent.conversation_id.0);
        seqs.push(seq(sent.seq));
        senders.push(sender_id.to_string());
        sender_types.push(sender_role.as_str().to_owned());
        kinds.push(kind.as_str().to_owned());
        contents.push(content.clone());
        replies.push(reply_to.map(|r| r.0));
        attachments.push(json!(
            files
                .iter()
                .map(
                    |a| json!({"id": a.id.0, "name": a.name, "content_type": a.content_type, "size": a.size})
                )
                .collect::<Vec<_>>()
        ));
        client_ids.push(client_msg_id.as_ref().map(|c| c.as_str().to_owned()));
        times.push(sent.occurred_at);
        for file in files {
            file_ids.push(file.id.0);
            file_messages.push(message_id.0);
            file_conversations.push(sent.conversation_id.0);
        }
    }
    // One statement for the messages, the conversations they move and the unread counts they
    // add: a run costs one round trip however long it is.
    let counts = sqlx::query!(
        r#"WITH input AS (
               SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::int8[], $4::text[], $5::text[], $6::text[],
                   $7::text[], $8::uuid[], $9::jsonb[], $10::text[], $11::timestamptz[])
                   AS t(message_id, conversation_id, seq, sender_id, sender_type, kind, content, reply_to,
                        attachments, client_msg_id, created_at)
           ), inserted AS (
               INSERT INTO messages (message_id, conversation_id, seq, sender_id, sender_type, kind, content,
                   reply_to, attachments, client_msg_id, created_at)
               SELECT * FROM input RETURNING 1
           ), latest AS (
               SELECT DISTINCT ON (conversation_id) conversation_id, message_id, seq, created_at
               FROM input ORDER BY conversation_id, seq DESC
           ), moved AS (
               UPDATE conversations c
               SET last_seq = GREATEST(c.last_seq, l.seq), last_message_id = l.message_id,
                   activity_seq = l.seq, activity_at = l.created_at
               FROM latest l WHERE c.conversation_id = l.conversation_id RETURNING 1
           ), counted AS (
               UPDATE participants p SET unread_count = p.unread_count + d.n
               FROM (SELECT p2.conversation_id, p2.user_id, count(*)::int AS n
                     FROM input m
                     JOIN participants p2 ON p2.conversation_id = m.conversation_id AND p2.left_seq IS NULL
                                         AND p2.user_id IS DISTINCT FROM m.sender_id
                     GROUP BY p2.conversation_id, p2.user_id) d
               WHERE p.conversation_id = d.conversation_id AND p.user_id = d.user_id RETURNING 1
           )
           SELECT (SELECT count(*) FROM moved) AS "moved!", (SELECT count(*) FROM latest) AS "conversations!""#,
        &ids,
        &conversations,
        &seqs,
        &senders,
        &sender_types,
        &kinds,
        &contents,
        &replies as &[Option<Uuid>],
        &attachments,
        &client_ids as &[Option<String>],
        &times,
    )
    .fetch_one(&mut *conn)
    .await?;
    if counts.moved != counts.conversations {
        return Err(ApplyError::Invariant("a message names a conversation that does not exist".into()));
    }
    if !file_ids.is_empty() {
        // ON CONFLICT: an event naming one attachment twice still references it once.
        sqlx::query!(
            "INSERT INTO message_attachments (attachment_id, message_id, conversation_id)
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[]) ON CONFLICT DO NOTHING",
            &file_ids,
            &file_messages,
            &file_conversations,
        )
        .execute(&mut *conn)
        .await?;
    }
    if replies.iter().any(Option::is_some) {
        sqlx::query!(
            "UPDATE messages m SET reply_preview = left(r.content, $2)
             FROM messages r
             WHERE m.message_id = ANY($1) AND m.reply_to = r.message_id
               AND r.conversation_id = m.conversation_id AND NOT r.deleted",
            &ids,
            REPLY_PREVIEW_CHARS,
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub async fn edited(
    conn: &mut PgConnection,
    id: &ConversationId,
    message: &MessageId,
    content: &str,
    recorded: &Recorded,
) -> Result<()> {
    let updated = sqlx::query!(
        "UPDATE messages SET content = $3, edited_at = $4
         WHERE message_id = $1 AND conversation_id = $2 AND NOT deleted",
        message.0,
        id.0,
        content,
        recorded.occurred_at,
    )
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(ApplyError::Invariant(format!("edit of missing or deleted message {message}")));
    }
    sqlx::query!(
        "UPDATE messages SET reply_preview = left($3, $4) WHERE reply_to = $1 AND conversation_id = $2",
        message.0,
        id.0,
        content,
        REPLY_PREVIEW_CHARS,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn deleted(
    conn: &mut PgConnection,
    id: &ConversationId,
    message: &MessageId,
    recorded: &Recorded,
) -> Result<()> {
    // The content goes from the read model (and so from search); the log keeps the fact.
    let row = sqlx::query!(
        "UPDATE messages SET deleted = true, deleted_at = $3, content = '', attachments = '[]', reply_preview = NULL
         WHERE message_id = $1 AND conversation_id = $2 AND NOT deleted
         RETURNING seq, sender_id",
        message.0,
        id.0,
        recorded.occurred_at,
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApplyError::Invariant(format!("delete of missing or deleted message {message}")))?;
    sqlx::query!(
        "UPDATE participants SET unread_count = unread_count - 1
         WHERE conversation_id = $1 AND left_seq IS NULL AND user_id IS DISTINCT FROM $2
           AND last_read_seq < $3 AND joined_seq < $3",
        id.0,
        row.sender_id,
        row.seq,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!("DELETE FROM reactions WHERE message_id = $1", message.0).execute(&mut *conn).await?;
    // The attachments are no longer reachable through this message (and, unreferenced, are
    // removed from the object store by the orphan cleanup).
    sqlx::query!("DELETE FROM message_attachments WHERE message_id = $1", message.0)
        .execute(&mut *conn)
        .await?;
    sqlx::query!(
        "UPDATE messages SET reply_preview = NULL WHERE reply_to = $1 AND conversation_id = $2",
        message.0,
        id.0,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An ATS update: a system message, unread for everyone taking part.
pub async fn application_status(
    conn: &mut PgConnection,
    id: &ConversationId,
    event: &ConversationEvent,
    recorded: &Recorded,
) -> Result<()> {
    // The same message live sessions are sent, by construction.
    let message = MessageView::from_application_status(*id, recorded.seq, recorded.occurred_at, event)
        .expect("called with application_status_received");
    sqlx::query!(
        "INSERT INTO messages (message_id, conversation_id, seq, sender_id, sender_type, kind, content, system, created_at)
         VALUES ($1, $2, $3, NULL, $4, $5, $6, $7, $8)",
        message.id,
        id.0,
        seq(recorded.seq),
        message.sender_type,
        message.kind,
        message.content,
        message.system,
        message.created_at,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE conversations SET last_seq = GREATEST(last_seq, $2), last_message_id = $3,
             activity_seq = $2, activity_at = $4
         WHERE conversation_id = $1",
        id.0,
        seq(recorded.seq),
        message.id,
        recorded.occurred_at,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE participants SET unread_count = unread_count + 1 WHERE conversation_id = $1 AND left_seq IS NULL",
        id.0,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
