//! The JSON frames the server sends on a WebSocket session, exactly as `docs/websocket.md`
//! documents them: durable event frames, signals and answers. The only place they are
//! shaped; what clients send is `client_frames`. Nothing here does I/O.

use axum::extract::ws::Utf8Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::{ConversationEvent, Envelope, Event};
use crate::views::{MessageView, ParticipantView, optional_timestamp, timestamp};

/// A durable event as a frame: `{type, seq, conversation_id, occurred_at, data}`.
#[derive(Serialize)]
struct EventFrame<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    seq: u64,
    conversation_id: Uuid,
    #[serde(serialize_with = "timestamp")]
    occurred_at: &'a DateTime<Utc>,
    data: T,
}

#[derive(Serialize)]
struct MessageEdited<'a> {
    message_id: Uuid,
    content: &'a str,
    #[serde(serialize_with = "timestamp")]
    edited_at: &'a DateTime<Utc>,
}

#[derive(Serialize)]
struct MessageDeleted {
    message_id: Uuid,
}

/// Read and delivery receipts.
#[derive(Serialize)]
struct Receipt<'a> {
    conversation_id: Uuid,
    user_id: &'a str,
    up_to_seq: u64,
}

#[derive(Serialize)]
struct Reaction<'a> {
    message_id: Uuid,
    user_id: &'a str,
    emoji: &'a str,
}

#[derive(Serialize)]
struct ConversationCreated<'a> {
    id: Uuid,
    title: Option<&'a str>,
    kind: &'static str,
    participants: Vec<ParticipantView>,
    application_id: Option<&'a str>,
    job_id: Option<&'a str>,
    created_by: &'a str,
    #[serde(serialize_with = "timestamp")]
    created_at: &'a DateTime<Utc>,
}

#[derive(Serialize)]
struct ParticipantChange<'a> {
    user_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
}

fn encode<T: Serialize>(value: &T) -> Utf8Bytes {
    // Serialising these types cannot fail: every map key is a string.
    Utf8Bytes::from(serde_json::to_string(value).unwrap_or_default())
}

/// The frame type (`message.sent`, ...) of a conversation event.
pub fn event_type(event: &ConversationEvent) -> &'static str {
    match event {
        ConversationEvent::MessageSent { .. } | ConversationEvent::ApplicationStatusReceived { .. } => {
            "message.sent"
        }
        ConversationEvent::MessageEdited { .. } => "message.edited",
        ConversationEvent::MessageDeleted { .. } => "message.deleted",
        ConversationEvent::MessagesRead { .. } => "messages.read",
        ConversationEvent::MessageDelivered { .. } => "message.delivered",
        ConversationEvent::ReactionAdded { .. } => "reaction.added",
        ConversationEvent::ReactionRemoved { .. } => "reaction.removed",
        ConversationEvent::Created { .. } => "conversation.created",
        ConversationEvent::ParticipantAdded { .. } => "participant.added",
        ConversationEvent::ParticipantRemoved { .. } => "participant.removed",
    }
}

/// The frame of a durable event, `None` for events clients are not sent (user profiles).
pub fn event_frame(seq: u64, envelope: &Envelope) -> Option<Utf8Bytes> {
    let Event::Conversation(id, event) = &envelope.event else {
        return None;
    };
    let at = &envelope.occurred_at;
    let (kind, conversation_id) = (event_type(event), id.0);
    macro_rules! frame {
        ($data:expr) => {
            encode(&EventFrame { kind, seq, conversation_id, occurred_at: at, data: $data })
        };
    }
    use ConversationEvent as E;
    Some(match event {
        E::MessageSent { .. } => frame!(MessageView::from_sent(*id, seq, *at, event)),
        E::ApplicationStatusReceived { .. } => {
            frame!(MessageView::from_application_status(*id, seq, *at, event))
        }
        E::MessageEdited { message_id, content } => {
            frame!(MessageEdited { message_id: message_id.0, content, edited_at: at })
        }
        E::MessageDeleted { message_id } => frame!(MessageDeleted { message_id: message_id.0 }),
        E::MessagesRead { reader_id: user, up_to_seq }
        | E::MessageDelivered { recipient_id: user, up_to_seq } => {
            frame!(Receipt { conversation_id: id.0, user_id: user.as_str(), up_to_seq: *up_to_seq })
        }
        E::ReactionAdded { message_id, user_id, emoji }
        | E::ReactionRemoved { message_id, user_id, emoji } => {
            frame!(Reaction { message_id: message_id.0, user_id: user_id.as_str(), emoji })
        }
        E::Created { title, kind, participants, application_id, job_id, created_by } => {
            frame!(ConversationCreated {
                id: id.0,
                title: title.as_deref(),
                kind: kind.as_str(),
                participants: participants
                    .iter()
                    .map(|p| ParticipantView {
                        user_id: p.user_id.to_string(),
                        role: p.role.as_str().to_owned(),
                        joined_at: *at,
                    })
                    .collect(),
                application_id: application_id.as_ref().map(|a| a.as_str()),
                job_id: job_id.as_ref().map(|j| j.as_str()),
                created_by: created_by.as_str(),
                created_at: at,
            })
        }
        E::ParticipantAdded { user_id, role } => {
            frame!(ParticipantChange { user_id: user_id.as_str(), role: Some(role.as_str()) })
        }
        E::ParticipantRemoved { user_id } => {
            frame!(ParticipantChange { user_id: user_id.as_str(), role: None })
        }
    })
}

/// Frames that are not durable events.
#[derive(Serialize)]
#[serde(tag = "type")]
pub enum Signal<'a> {
    #[serde(rename = "connection_established")]
    Established {
        user_id: &'a str,
        session_id: &'a str,
        #[serde(serialize_with = "timestamp")]
        server_time: DateTime<Utc>,
        resumed_from: Option<u64>,
    },
    #[serde(rename = "typing")]
    Typing { conversation_id: Uuid, user_id: &'a str, is_typing: bool },
    #[serde(rename = "presence")]
    Presence {
        user_id: &'a str,
        status: &'static str,
        #[serde(serialize_with = "optional_timestamp")]
        last_seen: Option<DateTime<Utc>>,
    },
    #[serde(rename = "unread")]
    Unread { conversation_id: Uuid, unread: i64, total: i64 },
    #[serde(rename = "ack")]
    Ack { client_msg_id: &'a str, message: &'a MessageView },
    #[serde(rename = "pong")]
    Pong {
        #[serde(serialize_with = "timestamp")]
        server_time: DateTime<Utc>,
    },
    #[serde(rename = "error")]
    Error {
        code: &'static str,
        message: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        client_msg_id: Option<&'a str>,
    },
}

impl Signal<'_> {
    pub fn encode(&self) -> Utf8Bytes {
        encode(self)
    }
}
