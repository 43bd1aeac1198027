//! Messages: one by id, by a sender's idempotency key, pages of history, and a whole history
//! as a stream.

use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use sqlx::PgPool;
use uuid::Uuid;

use super::seq;
use crate::domain::{ConversationId, MessageId, UserId};
use crate::views::{AttachmentView, MessageView};

/// Largest history page.
pub const MAX_PAGE: i64 = 200;

pub(crate) struct Row {
    pub message_id: Uuid,
    pub conversation_id: Uuid,
    pub seq: i64,
    pub sender_id: Option<String>,
    pub sender_type: String,
    pub kind: String,
    pub content: String,
    pub reply_to: Option<Uuid>,
    pub reply_preview: Option<String>,
    pub attachments: serde_json::Value,
    pub system: Option<serde_json::Value>,
    pub client_msg_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted: bool,
    pub reactions: serde_json::Value,
}

impl From<Row> for MessageView {
    fn from(row: Row) -> Self {
        Self {
            id: row.message_id,
            conversation_id: row.conversation_id,
            seq: seq(row.seq),
            sender_id: row.sender_id,
            sender_type: row.sender_type,
            kind: row.kind,
            content: row.content,
            reply_to: row.reply_to,
            reply_preview: row.reply_preview,
            attachments: serde_json::from_value::<Vec<AttachmentView>>(row.attachments).unwrap_or_default(),
            reactions: serde_json::from_value(row.reactions).unwrap_or_default(),
            created_at: row.created_at,
            edited_at: row.edited_at,
            deleted: row.deleted,
            client_msg_id: row.client_msg_id,
            system: row.system,
        }
    }
}

/// `SELECT <every column of a MessageView> FROM message_views` + the rest of the query.
macro_rules! select_messages {
    ($rest:literal, $($arg:expr),* $(,)?) => {
        sqlx::query_as!(
            Row,
            r#"SELECT message_id AS "message_id!", conversation_id AS "conversation_id!", seq AS "seq!",
                      sender_id, sender_type AS "sender_type!", kind AS "kind!", content AS "content!",
                      reply_to, reply_preview, attachments AS "attachments!", system, client_msg_id,
                      created_at AS "created_at!", edited_at, deleted AS "deleted!", reactions AS "reactions!"
               FROM message_views "# + $rest,
            $($arg),*
        )
    };
}

pub async fn by_id(db: &PgPool, id: &MessageId) -> Result<Option<MessageView>, sqlx::Error> {
    let row = select_messages!("WHERE message_id = $1", id.0).fetch_optional(db).await?;
    Ok(row.map(MessageView::from))
}

pub async fn by_client_id(
    db: &PgPool,
    conversation: &ConversationId,
    sender: &UserId,
    client_msg_id: &str,
) -> Result<Option<MessageView>, sqlx::Error> {
    let row = select_messages!(
        "WHERE conversation_id = $1 AND sender_id = $2 AND client_msg_id = $3",
        conversation.0,
        sender.as_str(),
        client_msg_id,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(MessageView::from))
}

/// Which part of the history a page holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    /// Newest first, before a sequence (`None`: from the newest).
    Before(Option<u64>),
    /// Oldest first, after a sequence.
    After(u64),
    /// Newest first, skipping this many.
    Offset(u64),
}

/// Up to `limit` messages of the page, plus whether more follow in the same direction.
pub async fn history(
    db: &PgPool,
    conversation: &ConversationId,
    page: Page,
    limit: i64,
) -> Result<(Vec<MessageView>, bool), sqlx::Error> {
    let fetch = limit + 1;
    let rows = match page {
        Page::Before(before) => {
            select_messages!(
                "WHERE conversation_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3",
                conversation.0,
                before.map_or(i64::MAX, |b| b.min(i64::MAX as u64) as i64),
                fetch,
            )
            .fetch_all(db)
            .await?
        }
        Page::After(after) => {
            select_messages!(
                "WHERE conversation_id = $1 AND seq > $2 ORDER BY seq ASC LIMIT $3",
                conversation.0,
                after.min(i64::MAX as u64) as i64,
                fetch,
            )
            .fetch_all(db)
            .await?
        }
        Page::Offset(offset) => {
            select_messages!(
                "WHERE conversation_id = $1 ORDER BY seq DESC LIMIT $2 OFFSET $3",
                conversation.0,
                fetch,
                offset.min(i64::MAX as u64) as i64,
            )
            .fetch_all(db)
            .await?
        }
    };
    let more = rows.len() as i64 > limit;
    Ok((rows.into_iter().take(limit as usize).map(MessageView::from).collect(), more))
}

/// Every message of a conversation, oldest first, read as the rows arrive (one query, so one
/// consistent snapshot) rather than collected.
pub fn all(db: &PgPool, conversation: ConversationId) -> BoxStream<'_, Result<MessageView, sqlx::Error>> {
    select_messages!("WHERE conversation_id = $1 ORDER BY seq", conversation.0)
        .fetch(db)
        .map_ok(MessageView::from)
        .boxed()
}
