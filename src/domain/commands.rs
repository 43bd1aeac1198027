//! Commands: what a caller asks of a conversation, in the imperative. Identifiers the command
//! creates (message ids) are chosen by the caller so that `decide` stays a pure function.

use chrono::{DateTime, Utc};

use super::events::{ApplicationChange, AttachmentRef, ConversationKind, MessageKind};
use super::ids::{ClientMsgId, ExternalId, MessageId, Role, UserId};

#[derive(Clone, Debug, PartialEq)]
pub enum ConversationCommand {
    Create {
        title: Option<String>,
        kind: ConversationKind,
        /// Everyone who takes part, the caller included unless it is a service.
        participants: Vec<(UserId, Role)>,
        application_id: Option<ExternalId>,
        job_id: Option<ExternalId>,
    },
    AddParticipant {
        user_id: UserId,
        role: Role,
    },
    RemoveParticipant {
        user_id: UserId,
    },
    SendMessage {
        message_id: MessageId,
        sender_id: UserId,
        kind: MessageKind,
        content: String,
        reply_to: Option<MessageId>,
        attachments: Vec<AttachmentRef>,
        client_msg_id: Option<ClientMsgId>,
    },
    EditMessage {
        message_id: MessageId,
        content: String,
    },
    DeleteMessage {
        message_id: MessageId,
    },
    MarkRead {
        reader_id: UserId,
        /// `None`: everything so far.
        up_to_seq: Option<u64>,
    },
    MarkDelivered {
        recipient_id: UserId,
        up_to_seq: u64,
    },
    AddReaction {
        message_id: MessageId,
        user_id: UserId,
        emoji: String,
    },
    RemoveReaction {
        message_id: MessageId,
        user_id: UserId,
        emoji: String,
    },
    RecordApplicationStatus(ApplicationUpdate),
}

/// One ATS event about an application, already parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct ApplicationUpdate {
    pub ats_event_id: ExternalId,
    pub change: ApplicationChange,
    pub application_id: ExternalId,
    pub job_id: Option<ExternalId>,
    pub job_title: Option<String>,
    pub candidate_id: UserId,
    pub recruiter_id: UserId,
    pub status: String,
    pub occurred_at: DateTime<Utc>,
}

impl ApplicationUpdate {
    /// The text of the system message that shows this update to both participants.
    pub fn text(&self) -> String {
        let job = self.job_title.as_deref().map(|title| format!(" for {title}")).unwrap_or_default();
        match self.change {
            ApplicationChange::Submitted => format!("Application submitted{job}."),
            ApplicationChange::StatusChanged => {
                format!("Application status{job} changed to {}.", self.status)
            }
            ApplicationChange::Withdrawn => format!("Application{job} withdrawn."),
        }
    }
}
