//! The sample of every released (event, version): the golden wire fixtures in
//! `tests/golden/wire/` were written from these, and `docs/events.md` is rendered from them.
//! Not part of the API: shared by tests and the documentation generator only.

use chrono::{DateTime, TimeZone, Utc};

use crate::domain::{
    ApplicationChange, AttachmentId, AttachmentRef, ClientMsgId, ConversationEvent, ConversationId,
    ConversationKind, Event, ExternalId, MessageId, MessageKind, ParticipantSpec, Role, Signal, UserEvent,
    UserId,
};

/// The time the samples that carry one use.
pub fn sample_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 9, 30, 0).single().expect("a valid date")
}

fn user(id: &str) -> UserId {
    UserId::parse(id).expect("sample user ids are valid")
}

fn external(id: &str) -> ExternalId {
    ExternalId::parse(id).expect("sample external ids are valid")
}

/// The conversation every sample belongs to.
pub fn conv() -> ConversationId {
    ConversationId(uuid::Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0001))
}

/// Message ids of the samples: `msg(1)` is the message that is edited, reacted to, deleted.
pub fn msg(n: u128) -> MessageId {
    MessageId(uuid::Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_1000 + n))
}

/// One sample: a durable event or a signal.
#[derive(Clone, Debug, PartialEq)]
pub enum Sample {
    Event(Event),
    Signal(Signal),
}

/// The event each golden fixture was written from, by (name, version); `None` for a pair
/// without a sample (add one with every new event or version).
pub fn sample(name: &str, version: u32) -> Option<Sample> {
    let at = sample_time();
    let c = |e| Sample::Event(Event::Conversation(conv(), e));
    Some(match (name, version) {
        ("conversation_created", 1) => c(ConversationEvent::Created {
            title: Some("Backend engineer".into()),
            kind: ConversationKind::Group,
            participants: vec![
                ParticipantSpec { user_id: user("rita"), role: Role::Recruiter },
                ParticipantSpec { user_id: user("abe"), role: Role::Applicant },
            ],
            application_id: Some(external("app-1")),
            job_id: None,
            created_by: user("rita"),
        }),
        ("participant_added", 1) => {
            c(ConversationEvent::ParticipantAdded { user_id: user("cy"), role: Role::Recruiter })
        }
        ("participant_removed", 1) => c(ConversationEvent::ParticipantRemoved { user_id: user("cy") }),
        ("message_sent", 1) => c(ConversationEvent::MessageSent {
            message_id: msg(1),
            sender_id: user("abe"),
            sender_role: Role::Applicant,
            kind: MessageKind::File,
            content: "My CV — attached ✓".into(),
            reply_to: Some(msg(0)),
            attachments: vec![AttachmentRef {
                id: AttachmentId(uuid::Uuid::from_u128(7)),
                name: "cv.pdf".into(),
                content_type: "application/pdf".into(),
                size: 123_456,
            }],
            client_msg_id: Some(ClientMsgId::parse("c-1").expect("a valid client_msg_id")),
        }),
        ("message_edited", 1) => {
            c(ConversationEvent::MessageEdited { message_id: msg(1), content: "fixed".into() })
        }
        ("message_deleted", 1) => c(ConversationEvent::MessageDeleted { message_id: msg(1) }),
        ("messages_read", 1) => {
            c(ConversationEvent::MessagesRead { reader_id: user("rita"), up_to_seq: 300 })
        }
        ("message_delivered", 1) => {
            c(ConversationEvent::MessageDelivered { recipient_id: user("rita"), up_to_seq: 301 })
        }
        ("reaction_added", 1) => c(ConversationEvent::ReactionAdded {
            message_id: msg(1),
            user_id: user("rita"),
            emoji: "👍".into(),
        }),
        ("reaction_removed", 1) => c(ConversationEvent::ReactionRemoved {
            message_id: msg(1),
            user_id: user("rita"),
            emoji: ":tada:".into(),
        }),
        ("application_status_received", 1) => c(ConversationEvent::ApplicationStatusReceived {
            message_id: msg(2),
            ats_event_id: external("evt-9"),
            change: ApplicationChange::StatusChanged,
            application_id: external("app-1"),
            job_id: Some(external("job-3")),
            job_title: Some("Backend engineer".into()),
            candidate_id: user("abe"),
            recruiter_id: user("rita"),
            status: "interview".into(),
            ats_occurred_at: at,
            text: "Application status for Backend engineer changed to interview.".into(),
        }),
        ("user_profile_updated", 1) => Sample::Event(Event::User(
            user("jane.doe@acme.io"),
            UserEvent::ProfileUpdated { name: Some("Jane Doe".into()), role: Some(Role::Recruiter) },
        )),
        ("typing_changed", 1) => Sample::Signal(Signal::TypingChanged {
            conversation_id: conv(),
            user_id: user("abe"),
            is_typing: true,
        }),
        ("presence_changed", 1) => {
            Sample::Signal(Signal::PresenceChanged { user_id: user("abe"), online: false, last_seen: at })
        }
        _ => return None,
    })
}
