//! The JSON shapes clients see (`../shared/API.md`), shared by REST answers and WebSocket
//! frames. Built from read-model rows, or straight from an event for live frames.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{ConversationEvent, ConversationId, MessageKind};

/// RFC 3339, UTC, milliseconds (the API's timestamp format).
pub fn timestamp<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&crate::event_log::wire::format_time(*at))
}

pub fn optional_timestamp<S: Serializer>(
    at: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => timestamp(at, serializer),
        None => serializer.serialize_none(),
    }
}

#[derive(Clone, Debug, Serialize, serde::Deserialize, ToSchema, PartialEq)]
pub struct AttachmentView {
    pub id: Uuid,
    pub name: String,
    pub content_type: String,
    pub size: u64,
}

/// A message as clients see it.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq)]
pub struct MessageView {
    pub id: Uuid,
    pub conversation_id: Uuid,
    /// Position in the event log: the history cursor.
    pub seq: u64,
    /// `null` for system messages.
    pub sender_id: Option<String>,
    /// The sender's role in the conversation, or `system`.
    pub sender_type: String,
    /// `text`, `file` or `system`.
    pub kind: String,
    /// Empty once deleted.
    pub content: String,
    pub reply_to: Option<Uuid>,
    /// The start of the replied-to message (`null` once it is deleted).
    pub reply_preview: Option<String>,
    pub attachments: Vec<AttachmentView>,
    /// Emoji to the users who reacted with it, in the order they did.
    pub reactions: BTreeMap<String, Vec<String>>,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "optional_timestamp")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted: bool,
    pub client_msg_id: Option<String>,
    /// For system messages: the structured ATS update (application_id, status, ...).
    #[schema(value_type = Option<Object>)]
    pub system: Option<serde_json::Value>,
}

impl MessageView {
    /// The view of a message that was just sent, from its event (live frames do not wait for
    /// the read models).
    pub fn from_sent(
        conversation: ConversationId,
        seq: u64,
        at: DateTime<Utc>,
        event: &ConversationEvent,
    ) -> Option<Self> {
        let ConversationEvent::MessageSent {
            message_id,
            sender_id,
            sender_role,
            kind,
            content,
            reply_to,
            attachments,
            client_msg_id,
        } = event
        else {
            return None;
        };
        Some(Self {
            id: message_id.0,
            conversation_id: conversation.0,
            seq,
            sender_id: Some(sender_id.to_string()),
            sender_type: sender_role.as_str().to_owned(),
            kind: kind.as_str().to_owned(),
            content: content.clone(),
            reply_to: reply_to.map(|r| r.0),
            reply_preview: None,
            attachments: attachments
                .iter()
                .map(|a| AttachmentView {
                    id: a.id.0,
                    name: a.name.clone(),
                    content_type: a.content_type.clone(),
                    size: a.size,
                })
                .collect(),
            reactions: BTreeMap::new(),
            created_at: at,
            edited_at: None,
            deleted: false,
            client_msg_id: client_msg_id.as_ref().map(|c| c.as_str().to_owned()),
            system: None,
        })
    }

    /// The message an `application_status_received` shows: a system message. The messages
    /// read model stores exactly this, and live frames send it.
    pub fn from_application_status(
        conversation: ConversationId,
        seq: u64,
        at: DateTime<Utc>,
        event: &ConversationEvent,
    ) -> Option<Self> {
        let ConversationEvent::ApplicationStatusReceived {
            message_id,
            ats_event_id,
            change,
            application_id,
            job_id,
            job_title,
            candidate_id,
            recruiter_id,
            status,
            ats_occurred_at,
            text,
        } = event
        else {
            return None;
        };
        Some(MessageView {
            id: message_id.0,
            conversation_id: conversation.0,
            seq,
            sender_id: None,
            sender_type: "system".into(),
            kind: MessageKind::System.as_str().into(),
            content: text.clone(),
            reply_to: None,
            reply_preview: None,
            attachments: vec![],
            reactions: BTreeMap::new(),
            created_at: at,
            edited_at: None,
            deleted: false,
            client_msg_id: None,
            system: Some(serde_json::json!({
                "ats_event_id": ats_event_id,
                "change": change.as_str(),
                "application_id": application_id,
                "job_id": job_id,
                "job_title": job_title,
                "candidate_id": candidate_id,
                "recruiter_id": recruiter_id,
                "status": status,
                "occurred_at": crate::event_log::wire::format_time(*ats_occurred_at),
            })),
        })
    }

    pub fn is_system(&self) -> bool {
        self.kind == MessageKind::System.as_str()
    }
}

#[derive(Clone, Debug, Serialize, ToSchema, PartialEq)]
pub struct ParticipantView {
    pub user_id: String,
    pub role: String,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub joined_at: DateTime<Utc>,
}

/// A conversation as one participant sees it.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq)]
pub struct ConversationView {
    pub id: Uuid,
    pub title: Option<String>,
    /// `direct` or `group`.
    pub kind: String,
    pub participants: Vec<ParticipantView>,
    pub application_id: Option<String>,
    pub job_id: Option<String>,
    pub created_by: String,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// Sequence of the conversation's latest event.
    pub last_seq: u64,
    pub last_message: Option<MessageView>,
    /// Messages the caller has not read (0 for services).
    pub unread_count: i64,
    /// The caller's read marker.
    pub last_read_seq: u64,
}

/// A user's profile (with presence where asked for).
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq)]
pub struct ProfileView {
    pub id: String,
    /// `null` until a name is known.
    pub name: Option<String>,
    /// `null` until a role is known.
    pub role: Option<String>,
}

#[derive(Clone, Debug, Serialize, ToSchema, PartialEq)]
pub struct PresenceView {
    pub user_id: String,
    /// `online` or `offline`.
    pub status: String,
    #[serde(serialize_with = "optional_timestamp")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_seen: Option<DateTime<Utc>>,
}
