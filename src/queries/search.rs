//! Full-text search over messages (the `search` tsvector and its GIN index), ranked best
//! first, paginated with a keyset cursor, with highlighted snippets. Scoped by the caller:
//! only conversations a user takes part in now (optionally one of them), or one conversation
//! for a service.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::messages::Row;
use crate::domain::{ConversationId, UserId};
use crate::views::MessageView;

/// Where a search looks.
#[derive(Clone, Debug)]
pub enum Scope {
    /// Conversations the user takes part in now, or only `only` among them.
    Participant { user: UserId, only: Option<ConversationId> },
    /// One conversation, whoever takes part (services).
    Conversation(ConversationId),
}

/// The position after the last hit of a page: its rank and sequence.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cursor {
    rank: f32,
    seq: i64,
}

impl Cursor {
    /// Opaque to clients; the rank's exact bits, so the next page starts exactly after it.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.rank.to_bits(), self.seq))
    }

    pub fn decode(text: &str) -> Option<Self> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(text).ok()?).ok()?;
        let (bits, seq) = raw.split_once(':')?;
        Some(Self { rank: f32::from_bits(bits.parse().ok()?), seq: seq.parse().ok()? })
    }
}

/// One message found, with its relevance and a snippet.
pub struct Hit {
    pub message: MessageView,
    /// HTML-escaped text around the matches, each match wrapped in `<mark>`.
    pub snippet: String,
    pub rank: f32,
}

/// Private-use characters that mark matches in `ts_headline`'s output until the text is
/// escaped. `<`, `>` and `&` stand in as private-use characters too while `ts_headline` runs,
/// as its parser would take `<b>` for a tag and drop it. All five are removed from the content
/// first, so a message cannot forge a mark.
const START: char = '\u{E000}';
const STOP: char = '\u{E001}';
const LT: char = '\u{E002}';
const GT: char = '\u{E003}';
const AMP: char = '\u{E004}';

struct SearchRow {
    message_id: Uuid,
    conversation_id: Uuid,
    seq: i64,
    sender_id: Option<String>,
    sender_type: String,
    kind: String,
    content: String,
    reply_to: Option<Uuid>,
    reply_preview: Option<String>,
    attachments: serde_json::Value,
    system: Option<serde_json::Value>,
    client_msg_id: Option<String>,
    created_at: DateTime<Utc>,
    edited_at: Option<DateTime<Utc>>,
    deleted: bool,
    reactions: serde_json::Value,
    rank: f32,
    snippet: String,
}

/// Up to `limit` hits for `query` (web-search syntax: words, "phrases", -exclusions, or)
/// after `after`, and the cursor of the next page if there may be one.
pub async fn search(
    db: &PgPool,
    scope: &Scope,
    query: &str,
    after: Option<Cursor>,
    limit: i64,
) -> Result<(Vec<Hit>, Option<Cursor>), sqlx::Error> {
    let (user, conversation, everywhere) = match scope {
        Scope::Participant { user, only } => (user.as_str(), only.map(|c| c.0), false),
        Scope::Conversation(id) => ("", Some(id.0), true),
    };
    let options = format!(
        "StartSel={START}, StopSel={STOP}, MaxWords=24, MinWords=8, MaxFragments=2, FragmentDelimiter=\" … \""
    );
    let rows = sqlx::query_as!(
        SearchRow,
        r#"WITH q AS (SELECT websearch_to_tsquery('simple', $1) AS query)
           SELECT v.message_id AS "message_id!", v.conversation_id AS "conversation_id!", v.seq AS "seq!",
                  v.sender_id, v.sender_type AS "sender_type!", v.kind AS "kind!", v.content AS "content!",
                  v.reply_to, v.reply_preview, v.attachments AS "attachments!", v.system, v.client_msg_id,
                  v.created_at AS "created_at!", v.edited_at, v.deleted AS "deleted!", v.reactions AS "reactions!",
                  ts_rank(m.search, q.query) AS "rank!",
                  ts_headline('simple', translate(translate(m.content, $8, ''), '<>&', $10), q.query, $7) AS "snippet!"
           FROM q, messages m JOIN message_views v ON v.message_id = m.message_id
           WHERE m.search @@ q.query AND NOT m.deleted
             AND ($2::uuid IS NULL OR m.conversation_id = $2)
             AND ($3 OR m.conversation_id IN (SELECT p.conversation_id FROM participants p
                                               WHERE p.user_id = $4 AND p.left_seq IS NULL))
             AND ($5::real IS NULL OR (ts_rank(m.search, q.query), m.seq) < ($5::real, $6::int8))
           ORDER BY ts_rank(m.search, q.query) DESC, m.seq DESC
           LIMIT $9"#,
        query,
        conversation,
        everywhere,
        user,
        after.map(|c| c.rank),
        after.map_or(0, |c| c.seq),
        options,
        format!("{START}{STOP}{LT}{GT}{AMP}"),
        limit + 1,
        format!("{LT}{GT}{AMP}"),
    )
    .fetch_all(db)
    .await?;
    let more = rows.len() as i64 > limit;
    let hits: Vec<Hit> = rows.into_iter().take(limit as usize).map(hit).collect();
    let next =
        if more { hits.last().map(|h| Cursor { rank: h.rank, seq: h.message.seq as i64 }) } else { None };
    Ok((hits, next))
}

fn hit(row: SearchRow) -> Hit {
    let snippet = highlight(&row.snippet);
    let rank = row.rank;
    let message = MessageView::from(Row {
        message_id: row.message_id,
        conversation_id: row.conversation_id,
        seq: row.seq,
        sender_id: row.sender_id,
        sender_type: row.sender_type,
        kind: row.kind,
        content: row.content,
        reply_to: row.reply_to,
        reply_preview: row.reply_preview,
        attachments: row.attachments,
        system: row.system,
        client_msg_id: row.client_msg_id,
        created_at: row.created_at,
        edited_at: row.edited_at,
        deleted: row.deleted,
        reactions: row.reactions,
    });
    Hit { message, snippet, rank }
}

/// Escapes `ts_headline`'s output for HTML and turns its marks into `<mark>` elements.
fn highlight(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            START => out.push_str("<mark>"),
            STOP => out.push_str("</mark>"),
            '&' | AMP => out.push_str("&amp;"),
            '<' | LT => out.push_str("&lt;"),
            '>' | GT => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_exactly_and_refuse_garbage() {
        let cursor = Cursor { rank: 0.0607927, seq: 42 };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("not a cursor!"), None);
        assert_eq!(Cursor::decode(&URL_SAFE_NO_PAD.encode("1:x")), None);
    }

    #[test]
    fn snippets_are_escaped_and_only_real_matches_are_marked() {
        let raw = format!("{LT}b{GT}{START}rust{STOP}{LT}/b{GT} {AMP} \"more\"");
        assert_eq!(highlight(&raw), "&lt;b&gt;<mark>rust</mark>&lt;/b&gt; &amp; &quot;more&quot;");
    }
}
