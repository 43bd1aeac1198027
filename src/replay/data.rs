//! The JSON `data` of every event and signal: the documented, stable shape analysts read
//! (`docs/events.md` is rendered through this code). snake_case fields, every field always
//! present (`null` when absent), UUIDs as strings, times RFC 3339 UTC with milliseconds.
//!
//! This is an output format, not a wire format: it may gain fields, but a field is never
//! renamed or given another meaning, because analysts' queries depend on it.

use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};

use crate::domain::{AttachmentRef, ConversationEvent as C, Event, ParticipantSpec, Signal, UserEvent};
use crate::event_log::wire::format_time;

/// Serialises the data of a durable event.
pub struct EventData<'a>(pub &'a Event);

/// Serialises the data of a signal (documented beside the events; never replayed).
pub struct SignalData<'a>(pub &'a Signal);

#[derive(Serialize)]
struct Participant<'a> {
    user_id: &'a str,
    role: &'a str,
}

#[derive(Serialize)]
struct Attachment<'a> {
    id: &'a uuid::Uuid,
    name: &'a str,
    content_type: &'a str,
    size: u64,
}

fn participants<'a>(list: &'a [ParticipantSpec]) -> impl Serialize + 'a {
    Seq(list.iter().map(|p| Participant { user_id: p.user_id.as_str(), role: p.role.as_str() }))
}

fn attachments<'a>(list: &'a [AttachmentRef]) -> impl Serialize + 'a {
    Seq(list.iter().map(|a| Attachment {
        id: &a.id.0,
        name: &a.name,
        content_type: &a.content_type,
        size: a.size,
    }))
}

/// A sequence serialised straight from an iterator, without collecting it first.
struct Seq<I>(I);

impl<I, T> Serialize for Seq<I>
where
    I: Iterator<Item = T> + Clone,
    T: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.clone())
    }
}

impl Serialize for EventData<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Event::Conversation(_, event) => conversation_event(event, serializer),
            Event::User(_, UserEvent::ProfileUpdated { name, role }) => {
                let mut s = serializer.serialize_struct("user_profile_updated", 2)?;
                s.serialize_field("name", name)?;
                s.serialize_field("role", &role.map(|r| r.as_str()))?;
                s.end()
            }
        }
    }
}

fn conversation_event<S: Serializer>(event: &C, serializer: S) -> Result<S::Ok, S::Error> {
    let name = event.name();
    match event {
        C::Created { title, kind, participants: list, application_id, job_id, created_by } => {
            let mut s = serializer.serialize_struct(name, 6)?;
            s.serialize_field("title", title)?;
            s.serialize_field("kind", kind.as_str())?;
            s.serialize_field("participants", &participants(list))?;
            s.serialize_field("application_id", application_id)?;
            s.serialize_field("job_id", job_id)?;
            s.serialize_field("created_by", created_by)?;
            s.end()
        }
        C::ParticipantAdded { user_id, role } => {
            let mut s = serializer.serialize_struct(name, 2)?;
            s.serialize_field("user_id", user_id)?;
            s.serialize_field("role", role.as_str())?;
            s.end()
        }
        C::ParticipantRemoved { user_id } => {
            let mut s = serializer.serialize_struct(name, 1)?;
            s.serialize_field("user_id", user_id)?;
            s.end()
        }
        C::MessageSent {
            message_id,
            sender_id,
            sender_role,
            kind,
            content,
            reply_to,
            attachments: list,
            client_msg_id,
        } => {
            let mut s = serializer.serialize_struct(name, 8)?;
            s.serialize_field("message_id", message_id)?;
            s.serialize_field("sender_id", sender_id)?;
            s.serialize_field("sender_role", sender_role.as_str())?;
            s.serialize_field("kind", kind.as_str())?;
            s.serialize_field("content", content)?;
            s.serialize_field("reply_to", reply_to)?;
            s.serialize_field("attachments", &attachments(list))?;
            s.serialize_field("client_msg_id", client_msg_id)?;
            s.end()
        }
        C::MessageEdited { message_id, content } => {
            let mut s = serializer.serialize_struct(name, 2)?;
            s.serialize_field("message_id", message_id)?;
            s.serialize_field("content", content)?;
            s.end()
        }
        C::MessageDeleted { message_id } => {
            let mut s = serializer.serialize_struct(name, 1)?;
            s.serialize_field("message_id", message_id)?;
            s.end()
        }
        C::MessagesRead { reader_id, up_to_seq } => {
            let mut s = serializer.serialize_struct(name, 2)?;
            s.serialize_field("reader_id", reader_id)?;
            s.serialize_field("up_to_seq", up_to_seq)?;
            s.end()
        }
        C::MessageDelivered { recipient_id, up_to_seq } => {
            let mut s = serializer.serialize_struct(name, 2)?;
            s.serialize_field("recipient_id", recipient_id)?;
            s.serialize_field("up_to_seq", up_to_seq)?;
            s.end()
        }
        C::ReactionAdded { message_id, user_id, emoji }
        | C::ReactionRemoved { message_id, user_id, emoji } => {
            let mut s = serializer.serialize_struct(name, 3)?;
            s.serialize_field("message_id", message_id)?;
            s.serialize_field("user_id", user_id)?;
            s.serialize_field("emoji", emoji)?;
            s.end()
        }
        C::ApplicationStatusReceived {
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
        } => {
            let mut s = serializer.serialize_struct(name, 11)?;
            s.serialize_field("message_id", message_id)?;
            s.serialize_field("ats_event_id", ats_event_id)?;
            s.serialize_field("change", change.as_str())?;
            s.serialize_field("application_id", application_id)?;
            s.serialize_field("job_id", job_id)?;
            s.serialize_field("job_title", job_title)?;
            s.serialize_field("candidate_id", candidate_id)?;
            s.serialize_field("recruiter_id", recruiter_id)?;
            s.serialize_field("status", status)?;
            s.serialize_field("ats_occurred_at", &format_time(*ats_occurred_at))?;
            s.serialize_field("text", text)?;
            s.end()
        }
    }
}

impl Serialize for SignalData<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let name = self.0.name();
        match self.0 {
            Signal::TypingChanged { conversation_id: _, user_id, is_typing } => {
                let mut s = serializer.serialize_struct(name, 2)?;
                s.serialize_field("user_id", user_id)?;
                s.serialize_field("is_typing", is_typing)?;
                s.end()
            }
            Signal::PresenceChanged { user_id: _, online, last_seen } => {
                let mut s = serializer.serialize_struct(name, 2)?;
                s.serialize_field("online", online)?;
                s.serialize_field("last_seen", &format_time(*last_seen))?;
                s.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_log::wire::samples::{Sample, sample};

    fn data_of(name: &str) -> serde_json::Value {
        match sample(name, 1).expect("a sample") {
            Sample::Event(event) => serde_json::to_value(EventData(&event)).unwrap(),
            Sample::Signal(signal) => serde_json::to_value(SignalData(&signal)).unwrap(),
        }
    }

    #[test]
    fn message_data_has_string_uuids_roles_and_nested_attachments() {
        let data = data_of("message_sent");
        assert_eq!(data["message_id"], "01920000-0000-7000-8000-000000001001");
        assert_eq!(data["reply_to"], "01920000-0000-7000-8000-000000001000");
        assert_eq!(data["sender_role"], "applicant");
        assert_eq!(data["kind"], "file");
        assert_eq!(data["attachments"][0]["id"], "00000000-0000-0000-0000-000000000007");
        assert_eq!(data["attachments"][0]["size"], 123_456);
        assert_eq!(data["client_msg_id"], "c-1");
    }

    #[test]
    fn absent_optional_fields_are_null_not_missing() {
        let data = data_of("conversation_created");
        assert!(data["job_id"].is_null());
        assert!(data.as_object().unwrap().contains_key("job_id"));
        assert_eq!(data["participants"][1]["role"], "applicant");
    }

    #[test]
    fn times_inside_data_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(data_of("application_status_received")["ats_occurred_at"], "2026-11-21T09:30:00.000Z");
        assert_eq!(data_of("presence_changed")["last_seen"], "2026-11-21T09:30:00.000Z");
    }
}
