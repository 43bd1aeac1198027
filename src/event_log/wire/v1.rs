//! Version 1 of every event body. RELEASED: never edit a struct or enum here. postcard is not
//! self-describing, so a new field is a new version (`v2.rs`) with an upcast from this one;
//! enums only ever gain variants at the end. The golden fixtures in `tests/golden/` fail if
//! any byte of these encodings changes.

use serde::{Deserialize, Serialize};

pub type Uuid = [u8; 16];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoleV1 {
    Recruiter,
    Applicant,
    Service,
    Analyst,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConversationKindV1 {
    Direct,
    Group,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageKindV1 {
    Text,
    File,
    System,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApplicationChangeV1 {
    Submitted,
    StatusChanged,
    Withdrawn,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantV1 {
    pub user_id: String,
    pub role: RoleV1,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentV1 {
    pub id: Uuid,
    pub name: String,
    pub content_type: String,
    pub size: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationCreatedV1 {
    pub title: Option<String>,
    pub kind: ConversationKindV1,
    pub participants: Vec<ParticipantV1>,
    pub application_id: Option<String>,
    pub job_id: Option<String>,
    pub created_by: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantAddedV1 {
    pub user_id: String,
    pub role: RoleV1,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantRemovedV1 {
    pub user_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageSentV1 {
    pub message_id: Uuid,
    pub sender_id: String,
    pub sender_role: RoleV1,
    pub kind: MessageKindV1,
    pub content: String,
    pub reply_to: Option<Uuid>,
    pub attachments: Vec<AttachmentV1>,
    pub client_msg_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEditedV1 {
    pub message_id: Uuid,
    pub content: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDeletedV1 {
    pub message_id: Uuid,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagesReadV1 {
    pub reader_id: String,
    pub up_to_seq: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDeliveredV1 {
    pub recipient_id: String,
    pub up_to_seq: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionV1 {
    pub message_id: Uuid,
    pub user_id: String,
    pub emoji: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationStatusReceivedV1 {
    pub message_id: Uuid,
    pub ats_event_id: String,
    pub change: ApplicationChangeV1,
    pub application_id: String,
    pub job_id: Option<String>,
    pub job_title: Option<String>,
    pub candidate_id: String,
    pub recruiter_id: String,
    pub status: String,
    /// Milliseconds since the Unix epoch.
    pub ats_occurred_at: i64,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserProfileUpdatedV1 {
    pub name: Option<String>,
    pub role: Option<RoleV1>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypingChangedV1 {
    pub user_id: String,
    pub is_typing: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceChangedV1 {
    pub online: bool,
    /// Milliseconds since the Unix epoch.
    pub last_seen: i64,
}
