//! Domain events to and from their wire versions.

use crate::domain::{
    ApplicationChange, AttachmentId, AttachmentRef, ClientMsgId, ConversationEvent, ConversationKind,
    ExternalId, MessageId, MessageKind, ParticipantSpec, Role, Signal, UserEvent, UserId,
};
use crate::event_log::subjects::{self, Key};

use super::DecodeError;
use super::v1::*;

/// Every (event name, version) that `decode` reads.
pub(super) const KNOWN: &[(&str, u32)] = &[
    ("conversation_created", 1),
    ("participant_added", 1),
    ("participant_removed", 1),
    ("message_sent", 1),
    ("message_edited", 1),
    ("message_deleted", 1),
    ("messages_read", 1),
    ("message_delivered", 1),
    ("reaction_added", 1),
    ("reaction_removed", 1),
    ("application_status_received", 1),
    ("user_profile_updated", 1),
    ("typing_changed", 1),
    ("presence_changed", 1),
];

fn to_bytes<T: serde::Serialize>(body: &T) -> Vec<u8> {
    postcard::to_stdvec(body).expect("postcard serialises plain structs into a Vec without error")
}

fn role(r: Role) -> RoleV1 {
    match r {
        Role::Recruiter => RoleV1::Recruiter,
        Role::Applicant => RoleV1::Applicant,
        Role::Service => RoleV1::Service,
        Role::Analyst => RoleV1::Analyst,
    }
}

fn role_from(r: RoleV1) -> Role {
    match r {
        RoleV1::Recruiter => Role::Recruiter,
        RoleV1::Applicant => Role::Applicant,
        RoleV1::Service => Role::Service,
        RoleV1::Analyst => Role::Analyst,
    }
}

fn message_kind(k: MessageKind) -> MessageKindV1 {
    match k {
        MessageKind::Text => MessageKindV1::Text,
        MessageKind::File => MessageKindV1::File,
        MessageKind::System => MessageKindV1::System,
    }
}

fn change(c: ApplicationChange) -> ApplicationChangeV1 {
    match c {
        ApplicationChange::Submitted => ApplicationChangeV1::Submitted,
        ApplicationChange::StatusChanged => ApplicationChangeV1::StatusChanged,
        ApplicationChange::Withdrawn => ApplicationChangeV1::Withdrawn,
    }
}

pub(super) fn encode_conversation_event(event: &ConversationEvent) -> Vec<u8> {
    use ConversationEvent as E;
    match event {
        E::Created { title, kind, participants, application_id, job_id, created_by } => {
            to_bytes(&ConversationCreatedV1 {
                title: title.clone(),
                kind: match kind {
                    ConversationKind::Direct => ConversationKindV1::Direct,
                    ConversationKind::Group => ConversationKindV1::Group,
                },
                participants: participants
                    .iter()
                    .map(|p| ParticipantV1 { user_id: p.user_id.to_string(), role: role(p.role) })
                    .collect(),
                application_id: application_id.as_ref().map(ToString::to_string),
                job_id: job_id.as_ref().map(ToString::to_string),
                created_by: created_by.to_string(),
            })
        }
        E::ParticipantAdded { user_id, role: r } => {
            to_bytes(&ParticipantAddedV1 { user_id: user_id.to_string(), role: role(*r) })
        }
        E::ParticipantRemoved { user_id } => to_bytes(&ParticipantRemovedV1 { user_id: user_id.to_string() }),
        E::MessageSent {
            message_id,
            sender_id,
            sender_role,
            kind,
            content,
            reply_to,
            attachments,
            client_msg_id,
        } => to_bytes(&MessageSentV1 {
            message_id: message_id.0.into_bytes(),
            sender_id: sender_id.to_string(),
            sender_role: role(*sender_role),
            kind: message_kind(*kind),
            content: content.clone(),
            reply_to: reply_to.map(|r| r.0.into_bytes()),
            attachments: attachments
                .iter()
                .map(|a| AttachmentV1 {
                    id: a.id.0.into_bytes(),
                    name: a.name.clone(),
                    content_type: a.content_type.clone(),
                    size: a.size,
                })
                .collect(),
            client_msg_id: client_msg_id.as_ref().map(|c| c.as_str().to_owned()),
        }),
        E::MessageEdited { message_id, content } => {
            to_bytes(&MessageEditedV1 { message_id: message_id.0.into_bytes(), content: content.clone() })
        }
        E::MessageDeleted { message_id } => {
            to_bytes(&MessageDeletedV1 { message_id: message_id.0.into_bytes() })
        }
        E::MessagesRead { reader_id, up_to_seq } => {
            to_bytes(&MessagesReadV1 { reader_id: reader_id.to_string(), up_to_seq: *up_to_seq })
        }
        E::MessageDelivered { recipient_id, up_to_seq } => {
            to_bytes(&MessageDeliveredV1 { recipient_id: recipient_id.to_string(), up_to_seq: *up_to_seq })
        }
        E::ReactionAdded { message_id, user_id, emoji }
        | E::ReactionRemoved { message_id, user_id, emoji } => to_bytes(&ReactionV1 {
            message_id: message_id.0.into_bytes(),
            user_id: user_id.to_string(),
            emoji: emoji.clone(),
        }),
        E::ApplicationStatusReceived {
            message_id,
            ats_event_id,
            change: c,
            application_id,
            job_id,
            job_title,
            candidate_id,
            recruiter_id,
            status,
            ats_occurred_at,
            text,
        } => to_bytes(&ApplicationStatusReceivedV1 {
            message_id: message_id.0.into_bytes(),
            ats_event_id: ats_event_id.to_string(),
            change: change(*c),
            application_id: application_id.to_string(),
            job_id: job_id.as_ref().map(ToString::to_string),
            job_title: job_title.clone(),
            candidate_id: candidate_id.to_string(),
            recruiter_id: recruiter_id.to_string(),
            status: status.clone(),
            ats_occurred_at: ats_occurred_at.timestamp_millis(),
            text: text.clone(),
        }),
    }
}

pub(super) fn encode_user_event(event: &UserEvent) -> Vec<u8> {
    match event {
        UserEvent::ProfileUpdated { name, role: r } => {
            to_bytes(&UserProfileUpdatedV1 { name: name.clone(), role: r.map(role) })
        }
    }
}

pub(super) fn encode_signal(signal: &Signal) -> (String, Vec<u8>) {
    match signal {
        Signal::TypingChanged { conversation_id, user_id, is_typing } => (
            subjects::conversation_signal(conversation_id, signal.name()),
            to_bytes(&TypingChangedV1 { user_id: user_id.to_string(), is_typing: *is_typing }),
        ),
        Signal::PresenceChanged { user_id, online, last_seen } => (
            subjects::user_signal(user_id, signal.name()),
            to_bytes(&PresenceChangedV1 { online: *online, last_seen: last_seen.timestamp_millis() }),
        ),
    }
}

/// Decoding context: turns the value errors of one event into `DecodeError::Value`.
struct Reader<'a> {
    name: &'a str,
    version: u32,
}

impl Reader<'_> {
    fn body<T: serde::de::DeserializeOwned>(&self, payload: &[u8]) -> Result<T, DecodeError> {
        let (body, rest) = postcard::take_from_bytes(payload).map_err(|source| DecodeError::Body {
            name: self.name.to_owned(),
            version: self.version,
            source,
        })?;
        if !rest.is_empty() {
            return Err(self.value(format!("{} trailing bytes", rest.len())));
        }
        Ok(body)
    }

    fn value(&self, reason: impl Into<String>) -> DecodeError {
        DecodeError::Value { name: self.name.to_owned(), version: self.version, reason: reason.into() }
    }

    fn user(&self, text: &str) -> Result<UserId, DecodeError> {
        UserId::parse(text).map_err(|e| self.value(e.to_string()))
    }

    fn external(&self, text: &str) -> Result<ExternalId, DecodeError> {
        ExternalId::parse(text).map_err(|e| self.value(e.to_string()))
    }

    fn external_opt(&self, text: &Option<String>) -> Result<Option<ExternalId>, DecodeError> {
        text.as_deref().map(|t| self.external(t)).transpose()
    }

    fn time(&self, ms: i64) -> Result<chrono::DateTime<chrono::Utc>, DecodeError> {
        super::millis_to_time(ms).ok_or_else(|| self.value(format!("timestamp {ms} out of range")))
    }
}

fn mid(bytes: Uuid) -> MessageId {
    MessageId(uuid::Uuid::from_bytes(bytes))
}

pub(super) fn decode_conversation_event(
    name: &str,
    version: u32,
    payload: &[u8],
) -> Result<ConversationEvent, DecodeError> {
    use ConversationEvent as E;
    let r = Reader { name, version };
    Ok(match (name, version) {
        ("conversation_created", 1) => {
            let b: ConversationCreatedV1 = r.body(payload)?;
            E::Created {
                title: b.title,
                kind: match b.kind {
                    ConversationKindV1::Direct => ConversationKind::Direct,
                    ConversationKindV1::Group => ConversationKind::Group,
                },
                participants: b
                    .participants
                    .iter()
                    .map(|p| Ok(ParticipantSpec { user_id: r.user(&p.user_id)?, role: role_from(p.role) }))
                    .collect::<Result<_, DecodeError>>()?,
                application_id: r.external_opt(&b.application_id)?,
                job_id: r.external_opt(&b.job_id)?,
                created_by: r.user(&b.created_by)?,
            }
        }
        ("participant_added", 1) => {
            let b: ParticipantAddedV1 = r.body(payload)?;
            E::ParticipantAdded { user_id: r.user(&b.user_id)?, role: role_from(b.role) }
        }
        ("participant_removed", 1) => {
            let b: ParticipantRemovedV1 = r.body(payload)?;
            E::ParticipantRemoved { user_id: r.user(&b.user_id)? }
        }
        ("message_sent", 1) => {
            let b: MessageSentV1 = r.body(payload)?;
            E::MessageSent {
                message_id: mid(b.message_id),
                sender_id: r.user(&b.sender_id)?,
                sender_role: role_from(b.sender_role),
                kind: match b.kind {
                    MessageKindV1::Text => MessageKind::Text,
                    MessageKindV1::File => MessageKind::File,
                    MessageKindV1::System => MessageKind::System,
                },
                content: b.content,
                reply_to: b.reply_to.map(mid),
                attachments: b
                    .attachments
                    .into_iter()
                    .map(|a| AttachmentRef {
                        id: AttachmentId(uuid::Uuid::from_bytes(a.id)),
                        name: a.name,
                        content_type: a.content_type,
                        size: a.size,
                    })
                    .collect(),
                client_msg_id: b
                    .client_msg_id
                    .map(|c| ClientMsgId::parse(&c).map_err(|e| r.value(e.to_string())))
                    .transpose()?,
            }
        }
        ("message_edited", 1) => {
            let b: MessageEditedV1 = r.body(payload)?;
            E::MessageEdited { message_id: mid(b.message_id), content: b.content }
        }
        ("message_deleted", 1) => {
            let b: MessageDeletedV1 = r.body(payload)?;
            E::MessageDeleted { message_id: mid(b.message_id) }
        }
        ("messages_read", 1) => {
            let b: MessagesReadV1 = r.body(payload)?;
            E::MessagesRead { reader_id: r.user(&b.reader_id)?, up_to_seq: b.up_to_seq }
        }
        ("message_delivered", 1) => {
            let b: MessageDeliveredV1 = r.body(payload)?;
            E::MessageDelivered { recipient_id: r.user(&b.recipient_id)?, up_to_seq: b.up_to_seq }
        }
        ("reaction_added", 1) => {
            let b: ReactionV1 = r.body(payload)?;
            E::ReactionAdded { message_id: mid(b.message_id), user_id: r.user(&b.user_id)?, emoji: b.emoji }
        }
        ("reaction_removed", 1) => {
            let b: ReactionV1 = r.body(payload)?;
            E::ReactionRemoved { message_id: mid(b.message_id), user_id: r.user(&b.user_id)?, emoji: b.emoji }
        }
        ("application_status_received", 1) => {
            let b: ApplicationStatusReceivedV1 = r.body(payload)?;
            E::ApplicationStatusReceived {
                message_id: mid(b.message_id),
                ats_event_id: r.external(&b.ats_event_id)?,
                change: match b.change {
                    ApplicationChangeV1::Submitted => ApplicationChange::Submitted,
                    ApplicationChangeV1::StatusChanged => ApplicationChange::StatusChanged,
                    ApplicationChangeV1::Withdrawn => ApplicationChange::Withdrawn,
                },
                application_id: r.external(&b.application_id)?,
                job_id: r.external_opt(&b.job_id)?,
                job_title: b.job_title,
                candidate_id: r.user(&b.candidate_id)?,
                recruiter_id: r.user(&b.recruiter_id)?,
                status: b.status,
                ats_occurred_at: r.time(b.ats_occurred_at)?,
                text: b.text,
            }
        }
        _ => {
            return Err(DecodeError::UnknownType { name: name.to_owned(), version });
        }
    })
}

pub(super) fn decode_user_event(name: &str, version: u32, payload: &[u8]) -> Result<UserEvent, DecodeError> {
    let r = Reader { name, version };
    match (name, version) {
        ("user_profile_updated", 1) => {
            let b: UserProfileUpdatedV1 = r.body(payload)?;
            Ok(UserEvent::ProfileUpdated { name: b.name, role: b.role.map(role_from) })
        }
        _ => Err(DecodeError::UnknownType { name: name.to_owned(), version }),
    }
}

pub(super) fn decode_signal(
    key: Key,
    name: &str,
    version: u32,
    payload: &[u8],
) -> Result<Signal, DecodeError> {
    let r = Reader { name, version };
    match (key, name, version) {
        (Key::Conversation(conversation_id), "typing_changed", 1) => {
            let b: TypingChangedV1 = r.body(payload)?;
            Ok(Signal::TypingChanged {
                conversation_id,
                user_id: r.user(&b.user_id)?,
                is_typing: b.is_typing,
            })
        }
        (Key::User(user_id), "presence_changed", 1) => {
            let b: PresenceChangedV1 = r.body(payload)?;
            Ok(Signal::PresenceChanged { user_id, online: b.online, last_seen: r.time(b.last_seen)? })
        }
        _ => Err(DecodeError::UnknownType { name: name.to_owned(), version }),
    }
}
