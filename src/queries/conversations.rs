//! Conversations: membership checks, one conversation as a participant sees it, a user's
//! conversation list, and unread totals.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::messages;
use super::seq;
use crate::domain::{ConversationId, MessageId, UserId};
use crate::views::{ConversationView, MessageView, ParticipantView};

/// A current participant's place in a conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub role: String,
    pub last_read_seq: u64,
    pub unread_count: i64,
}

/// The caller's membership, `None` unless they take part now.
pub async fn membership(
    db: &PgPool,
    id: &ConversationId,
    user: &UserId,
) -> Result<Option<Membership>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT role, last_read_seq, unread_count FROM participants
         WHERE conversation_id = $1 AND user_id = $2 AND left_seq IS NULL",
        id.0,
        user.as_str(),
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| Membership {
        role: r.role,
        last_read_seq: seq(r.last_read_seq),
        unread_count: i64::from(r.unread_count),
    }))
}

pub async fn exists(db: &PgPool, id: &ConversationId) -> Result<bool, sqlx::Error> {
    let found = sqlx::query_scalar!("SELECT 1 AS one FROM conversations WHERE conversation_id = $1", id.0)
        .fetch_optional(db)
        .await?;
    Ok(found.is_some())
}

struct Header {
    conversation_id: Uuid,
    title: Option<String>,
    kind: String,
    application_id: Option<String>,
    job_id: Option<String>,
    created_by: String,
    created_at: DateTime<Utc>,
    last_seq: i64,
    last_message_id: Option<Uuid>,
    activity_seq: i64,
}

/// One conversation as `viewer` sees it (a service sees every one, with nothing unread).
pub async fn view(
    db: &PgPool,
    id: &ConversationId,
    viewer: &UserId,
) -> Result<Option<ConversationView>, sqlx::Error> {
    let header = sqlx::query_as!(
        Header,
        "SELECT conversation_id, title, kind, application_id, job_id, created_by, created_at, last_seq,
                last_message_id, activity_seq
         FROM conversations WHERE conversation_id = $1",
        id.0,
    )
    .fetch_optional(db)
    .await?;
    match header {
        Some(header) => Ok(assemble(db, vec![header], viewer).await?.pop()),
        None => Ok(None),
    }
}

/// A page of `user`'s conversations, most recent activity first, and the cursor of the next.
pub async fn list_for_user(
    db: &PgPool,
    user: &UserId,
    before_activity: Option<u64>,
    limit: i64,
) -> Result<(Vec<ConversationView>, Option<u64>), sqlx::Error> {
    let headers = sqlx::query_as!(
        Header,
        "SELECT c.conversation_id, c.title, c.kind, c.application_id, c.job_id, c.created_by, c.created_at,
                c.last_seq, c.last_message_id, c.activity_seq
         FROM participants p JOIN conversations c ON c.conversation_id = p.conversation_id
         WHERE p.user_id = $1 AND p.left_seq IS NULL AND c.activity_seq < $2
         ORDER BY c.activity_seq DESC LIMIT $3",
        user.as_str(),
        before_activity.map_or(i64::MAX, |b| b.min(i64::MAX as u64) as i64),
        limit + 1,
    )
    .fetch_all(db)
    .await?;
    let more = headers.len() as i64 > limit;
    let page: Vec<Header> = headers.into_iter().take(limit as usize).collect();
    let next = if more { page.last().map(|h| seq(h.activity_seq)) } else { None };
    Ok((assemble(db, page, user).await?, next))
}

/// Adds participants, last messages and the viewer's unread count to conversation rows, with
/// one query each for the whole page.
async fn assemble(
    db: &PgPool,
    headers: Vec<Header>,
    viewer: &UserId,
) -> Result<Vec<ConversationView>, sqlx::Error> {
    let ids: Vec<Uuid> = headers.iter().map(|h| h.conversation_id).collect();
    let participants = sqlx::query!(
        "SELECT conversation_id, user_id, role, joined_at, last_read_seq, unread_count FROM participants
         WHERE conversation_id = ANY($1) AND left_seq IS NULL ORDER BY conversation_id, joined_seq, user_id",
        &ids,
    )
    .fetch_all(db)
    .await?;
    let mut by_conversation: HashMap<Uuid, Vec<ParticipantView>> = HashMap::new();
    let mut viewer_state: HashMap<Uuid, (u64, i64)> = HashMap::new();
    for p in participants {
        if p.user_id == viewer.as_str() {
            viewer_state.insert(p.conversation_id, (seq(p.last_read_seq), i64::from(p.unread_count)));
        }
        by_conversation.entry(p.conversation_id).or_default().push(ParticipantView {
            user_id: p.user_id,
            role: p.role,
            joined_at: p.joined_at,
        });
    }
    let mut last_messages: HashMap<Uuid, MessageView> = HashMap::new();
    for header in &headers {
        if let Some(message) = header.last_message_id
            && let Some(view) = messages::by_id(db, &MessageId(message)).await?
        {
            last_messages.insert(header.conversation_id, view);
        }
    }
    Ok(headers
        .into_iter()
        .map(|h| {
            let (last_read_seq, unread_count) =
                viewer_state.get(&h.conversation_id).copied().unwrap_or((0, 0));
            ConversationView {
                id: h.conversation_id,
                title: h.title,
                kind: h.kind,
                participants: by_conversation.remove(&h.conversation_id).unwrap_or_default(),
                application_id: h.application_id,
                job_id: h.job_id,
                created_by: h.created_by,
                created_at: h.created_at,
                last_seq: seq(h.last_seq),
                last_message: last_messages.remove(&h.conversation_id),
                unread_count,
                last_read_seq,
            }
        })
        .collect())
}

/// `user`'s unread messages: the total and each conversation with any.
pub async fn unread(db: &PgPool, user: &UserId) -> Result<(i64, Vec<(Uuid, i64)>), sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT conversation_id, unread_count FROM participants
         WHERE user_id = $1 AND left_seq IS NULL AND unread_count > 0 ORDER BY conversation_id",
        user.as_str(),
    )
    .fetch_all(db)
    .await?;
    let conversations: Vec<(Uuid, i64)> =
        rows.into_iter().map(|r| (r.conversation_id, i64::from(r.unread_count))).collect();
    Ok((conversations.iter().map(|(_, n)| n).sum(), conversations))
}

/// Whether two users take part in a conversation together now.
pub async fn share_a_conversation(db: &PgPool, a: &UserId, b: &UserId) -> Result<bool, sqlx::Error> {
    let shared = sqlx::query_scalar!(
        "SELECT EXISTS (SELECT 1 FROM participants pa JOIN participants pb ON pa.conversation_id = pb.conversation_id
                        WHERE pa.user_id = $1 AND pb.user_id = $2 AND pa.left_seq IS NULL AND pb.left_seq IS NULL)",
        a.as_str(),
        b.as_str(),
    )
    .fetch_one(db)
    .await?;
    Ok(shared.unwrap_or(false))
}
