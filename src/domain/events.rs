//! The facts of Parley, named in the past tense. These are the domain's view; their persisted
//! form lives in `event_log::wire` and is versioned separately, so these types may change
//! freely as long as every released wire version still converts into them.

use chrono::{DateTime, Utc};

use super::ids::{AttachmentId, ClientMsgId, ConversationId, EventId, ExternalId, MessageId, Role, UserId};

/// Who caused an event: the authenticated principal, which for a service acting on behalf of
/// a user is the service itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub user_id: UserId,
    pub role: Role,
}

/// An event with the metadata every event carries.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    pub event_id: EventId,
    pub occurred_at: DateTime<Utc>,
    pub actor: Actor,
    pub event: Event,
}

/// A durable fact in `PARLEY_EVENTS`, keyed by the aggregate it belongs to.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Conversation(ConversationId, ConversationEvent),
    User(UserId, UserEvent),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConversationKind {
    Direct,
    Group,
}

impl ConversationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationKind::Direct => "direct",
            ConversationKind::Group => "group",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    Text,
    File,
    /// Posted by the system (ATS updates); has no human sender.
    System,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::File => "file",
            MessageKind::System => "system",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParticipantSpec {
    pub user_id: UserId,
    pub role: Role,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachmentRef {
    pub id: AttachmentId,
    pub name: String,
    pub content_type: String,
    pub size: u64,
}

/// What an ATS event says happened to an application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ApplicationChange {
    Submitted,
    StatusChanged,
    Withdrawn,
}

impl ApplicationChange {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationChange::Submitted => "submitted",
            ApplicationChange::StatusChanged => "status_changed",
            ApplicationChange::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "submitted" => Some(ApplicationChange::Submitted),
            "status_changed" => Some(ApplicationChange::StatusChanged),
            "withdrawn" => Some(ApplicationChange::Withdrawn),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ConversationEvent {
    Created {
        title: Option<String>,
        kind: ConversationKind,
        participants: Vec<ParticipantSpec>,
        application_id: Option<ExternalId>,
        job_id: Option<ExternalId>,
        created_by: UserId,
    },
    ParticipantAdded {
        user_id: UserId,
        role: Role,
    },
    ParticipantRemoved {
        user_id: UserId,
    },
    MessageSent {
        message_id: MessageId,
        sender_id: UserId,
        sender_role: Role,
        kind: MessageKind,
        content: String,
        reply_to: Option<MessageId>,
        attachments: Vec<AttachmentRef>,
        client_msg_id: Option<ClientMsgId>,
    },
    MessageEdited {
        message_id: MessageId,
        content: String,
    },
    MessageDeleted {
        message_id: MessageId,
    },
    MessagesRead {
        reader_id: UserId,
        up_to_seq: u64,
    },
    MessageDelivered {
        recipient_id: UserId,
        up_to_seq: u64,
    },
    ReactionAdded {
        message_id: MessageId,
        user_id: UserId,
        emoji: String,
    },
    ReactionRemoved {
        message_id: MessageId,
        user_id: UserId,
        emoji: String,
    },
    /// An ATS event, recorded with the system message that shows it in the conversation.
    ApplicationStatusReceived {
        message_id: MessageId,
        ats_event_id: ExternalId,
        change: ApplicationChange,
        application_id: ExternalId,
        job_id: Option<ExternalId>,
        job_title: Option<String>,
        candidate_id: UserId,
        recruiter_id: UserId,
        status: String,
        /// When the ATS says it happened (the envelope says when Parley recorded it).
        ats_occurred_at: DateTime<Utc>,
        /// The human-readable system message.
        text: String,
    },
}

impl ConversationEvent {
    /// The persisted event name: the last token of the subject. Never rename one.
    pub fn name(&self) -> &'static str {
        match self {
            ConversationEvent::Created { .. } => "conversation_created",
            ConversationEvent::ParticipantAdded { .. } => "participant_added",
            ConversationEvent::ParticipantRemoved { .. } => "participant_removed",
            ConversationEvent::MessageSent { .. } => "message_sent",
            ConversationEvent::MessageEdited { .. } => "message_edited",
            ConversationEvent::MessageDeleted { .. } => "message_deleted",
            ConversationEvent::MessagesRead { .. } => "messages_read",
            ConversationEvent::MessageDelivered { .. } => "message_delivered",
            ConversationEvent::ReactionAdded { .. } => "reaction_added",
            ConversationEvent::ReactionRemoved { .. } => "reaction_removed",
            ConversationEvent::ApplicationStatusReceived { .. } => "application_status_received",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum UserEvent {
    ProfileUpdated { name: Option<String>, role: Option<Role> },
}

impl UserEvent {
    pub fn name(&self) -> &'static str {
        match self {
            UserEvent::ProfileUpdated { .. } => "user_profile_updated",
        }
    }
}

impl Event {
    pub fn name(&self) -> &'static str {
        match self {
            Event::Conversation(_, event) => event.name(),
            Event::User(_, event) => event.name(),
        }
    }
}

/// Short-lived signals in `PARLEY_SIGNALS`: not part of history, never projected.
#[derive(Clone, Debug, PartialEq)]
pub enum Signal {
    TypingChanged { conversation_id: ConversationId, user_id: UserId, is_typing: bool },
    PresenceChanged { user_id: UserId, online: bool, last_seen: DateTime<Utc> },
}

impl Signal {
    pub fn name(&self) -> &'static str {
        match self {
            Signal::TypingChanged { .. } => "typing_changed",
            Signal::PresenceChanged { .. } => "presence_changed",
        }
    }
}
