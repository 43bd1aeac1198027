//! The domain: pure and synchronous. Identifiers, commands, events, and the rules that turn a
//! command into events (`decide`) and events into state (`evolve`). Nothing here knows about
//! tokio, NATS, PostgreSQL or HTTP; business rejections are values, not infrastructure errors.

pub mod commands;
pub mod conversation;
pub mod events;
pub mod ids;
pub mod user;
pub mod validate;

pub use commands::ConversationCommand;
pub use conversation::{Conversation, Decision, Unchanged};
pub use events::{
    Actor, ApplicationChange, AttachmentRef, ConversationEvent, ConversationKind, Envelope, Event,
    MessageKind, ParticipantSpec, Signal, UserEvent,
};
pub use ids::{AttachmentId, ClientMsgId, ConversationId, EventId, ExternalId, MessageId, Role, UserId};

/// A field that fails validation, with a message a client developer can act on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }

    /// The same complaint about another field (an id parser names its type, the caller knows
    /// which field it came from).
    pub fn for_field(mut self, field: impl Into<String>) -> Self {
        self.field = field.into();
        self
    }
}

/// Why the domain refuses a command. Each maps to one HTTP status at the edge.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The conversation does not exist, or the caller may not know that it does.
    #[error("conversation not found")]
    ConversationNotFound,
    #[error("message not found")]
    MessageNotFound,
    #[error("that user does not take part in the conversation")]
    ParticipantNotFound,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    Conflict(&'static str),
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

/// Limits that configuration may change; the domain enforces them.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Longest message content, in characters, after trimming.
    pub max_content_chars: usize,
    /// Most participants a conversation may have.
    pub max_participants: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_content_chars: 16_384, max_participants: 100 }
    }
}
