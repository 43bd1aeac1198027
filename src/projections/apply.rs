//! Applies a batch of decoded events to the read models inside the caller's transaction.
//! Runs of `message_sent`, `messages_read` and `message_delivered` (the bulk of any busy log)
//! go in a few set-based statements; every other event is applied on its own. Both paths give the same rows, so a batch boundary
//! never changes the outcome: live projection and rebuild agree row for row.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{conversations, messages, reactions, users};
use crate::domain::{Actor, ConversationEvent, ConversationId, Event, UserId};

/// An event as the projector sees it: decoded, with its place in the log.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    pub seq: u64,
    pub occurred_at: DateTime<Utc>,
    pub actor: Actor,
    pub event: Event,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The event contradicts the read model (a message for an unknown conversation, ...):
    /// it goes to the dead letters and later events are still applied.
    #[error("{0}")]
    Invariant(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl ApplyError {
    /// Whether retrying cannot help: the event itself is at fault, not the database's health.
    pub fn is_poison(&self) -> bool {
        match self {
            ApplyError::Invariant(_) => true,
            ApplyError::Database(sqlx::Error::Database(db)) => {
                // 22: data exception, 23: integrity constraint violation.
                db.code().is_some_and(|code| code.starts_with("22") || code.starts_with("23"))
            }
            ApplyError::Database(_) => false,
        }
    }
}

pub type Result<T> = std::result::Result<T, ApplyError>;

pub(super) fn seq(value: u64) -> i64 {
    i64::try_from(value).expect("stream sequences stay below 2^63")
}

/// A `message_sent` event, unpacked for the bulk insert.
pub(super) struct SentMessage<'a> {
    pub seq: u64,
    pub occurred_at: DateTime<Utc>,
    pub conversation_id: ConversationId,
    pub event: &'a ConversationEvent,
}

/// A `messages_read` or `message_delivered` event, unpacked for the bulk update.
pub(super) struct Receipt<'a> {
    pub seq: u64,
    pub conversation_id: ConversationId,
    pub user_id: &'a UserId,
    pub up_to_seq: u64,
    /// A read receipt (moves the read marker and recounts unread); otherwise a delivery one.
    pub read: bool,
}

/// A run of consecutive events applied with a few set-based statements: the messages sent
/// first, then the receipts. That order gives the rows one-at-a-time application gives: a
/// read receipt recounts its reader's unread messages from the messages table, so it sees
/// the run's messages before it (as it would have), and those after it are counted either
/// way because they come after its `up_to_seq` (which the rules keep below the receipt's
/// own sequence; a receipt that breaks that is applied on its own).
#[derive(Default)]
struct Run<'a> {
    sent: Vec<SentMessage<'a>>,
    receipts: Vec<Receipt<'a>>,
}

impl<'a> Run<'a> {
    /// Takes `recorded` into the run when it can be bulk-applied.
    fn take(&mut self, recorded: &'a Recorded) -> bool {
        let Event::Conversation(id, event) = &recorded.event else { return false };
        let (user_id, up_to_seq, read) = match event {
            ConversationEvent::MessageSent { .. } => {
                self.sent.push(SentMessage {
                    seq: recorded.seq,
                    occurred_at: recorded.occurred_at,
                    conversation_id: *id,
                    event,
                });
                return true;
            }
            ConversationEvent::MessagesRead { reader_id, up_to_seq } => (reader_id, *up_to_seq, true),
            ConversationEvent::MessageDelivered { recipient_id, up_to_seq } => {
                (recipient_id, *up_to_seq, false)
            }
            _ => return false,
        };
        if up_to_seq >= recorded.seq {
            return false;
        }
        self.receipts.push(Receipt { seq: recorded.seq, conversation_id: *id, user_id, up_to_seq, read });
        true
    }

    async fn flush(&mut self, conn: &mut PgConnection) -> Result<()> {
        if !self.sent.is_empty() {
            messages::insert_sent(conn, &self.sent).await?;
            self.sent.clear();
        }
        if !self.receipts.is_empty() {
            conversations::receipts(conn, &self.receipts).await?;
            self.receipts.clear();
        }
        Ok(())
    }
}

/// Applies `events` in order.
pub async fn apply_all(conn: &mut PgConnection, events: &[Recorded]) -> Result<()> {
    let mut run = Run::default();
    for recorded in events {
        if run.take(recorded) {
            continue;
        }
        run.flush(conn).await?;
        apply_one(conn, recorded).await?;
    }
    run.flush(conn).await
}

/// Applies one event that is not part of a bulk run.
pub async fn apply_one(conn: &mut PgConnection, recorded: &Recorded) -> Result<()> {
    let (id, event) = match &recorded.event {
        Event::User(user, event) => return users::apply(conn, user, event, recorded).await,
        Event::Conversation(id, event) => (id, event),
    };
    use ConversationEvent as E;
    match event {
        E::Created { .. } => conversations::created(conn, id, event, recorded).await?,
        E::ParticipantAdded { user_id, role } => {
            conversations::participant_added(conn, id, user_id, *role, recorded).await?
        }
        E::ParticipantRemoved { user_id } => {
            conversations::participant_removed(conn, id, user_id, recorded).await?
        }
        E::MessagesRead { reader_id, up_to_seq } => {
            conversations::messages_read(conn, id, reader_id, *up_to_seq).await?
        }
        E::MessageDelivered { recipient_id, up_to_seq } => {
            conversations::message_delivered(conn, id, recipient_id, *up_to_seq).await?
        }
        E::MessageSent { .. } => {
            let sent = SentMessage {
                seq: recorded.seq,
                occurred_at: recorded.occurred_at,
                conversation_id: *id,
                event,
            };
            messages::insert_sent(conn, &[sent]).await?;
            return Ok(());
        }
        E::MessageEdited { message_id, content } => {
            messages::edited(conn, id, message_id, content, recorded).await?
        }
        E::MessageDeleted { message_id } => messages::deleted(conn, id, message_id, recorded).await?,
        E::ReactionAdded { message_id, user_id, emoji } => {
            reactions::reaction_added(conn, id, message_id, user_id, emoji, recorded).await?
        }
        E::ReactionRemoved { message_id, user_id, emoji } => {
            reactions::reaction_removed(conn, id, message_id, user_id, emoji).await?
        }
        E::ApplicationStatusReceived { .. } => {
            messages::application_status(conn, id, event, recorded).await?;
            return Ok(());
        }
    }
    conversations::touch(conn, id, recorded.seq).await
}
