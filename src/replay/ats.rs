//! Records of the ATS's own events (`ATS_EVENTS`, JSON as the ATS published it). Their `type`
//! is `ats.<change>` (the subject's last token), `seq` their position in `ATS_EVENTS`,
//! `version` and `actor` are null (the ATS's JSON has neither), and `conversation_id` is the
//! conversation Parley opens for the application, so they line up with Parley's events.

use chrono::{DateTime, Utc};

use super::filter::ATS_TYPE_PREFIX;
use crate::domain::{ConversationId, ExternalId};

/// An ATS event read back: its JSON, or why it is not a JSON object.
pub struct AtsEvent {
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    pub conversation: Option<ConversationId>,
    pub json: Result<serde_json::Value, String>,
}

pub fn read(subject: &str, payload: &[u8], stored_at: DateTime<Utc>) -> AtsEvent {
    let change = subject.rsplit('.').next().unwrap_or_default();
    let kind = format!("{ATS_TYPE_PREFIX}{change}");
    let json = match serde_json::from_slice::<serde_json::Value>(payload) {
        Ok(value) if value.is_object() => Ok(value),
        Ok(_) => Err("the ATS event is JSON but not an object".to_owned()),
        Err(e) => Err(format!("the ATS event is not JSON: {e}")),
    };
    let (occurred_at, conversation) = match &json {
        Ok(value) => (
            occurred_at(value).unwrap_or(stored_at),
            application_id(value)
                .or_else(|| subject_application_id(subject))
                .map(|id| ConversationId::for_application(&id)),
        ),
        Err(_) => (stored_at, subject_application_id(subject).map(|id| ConversationId::for_application(&id))),
    };
    AtsEvent { kind, occurred_at, conversation, json }
}

fn occurred_at(value: &serde_json::Value) -> Option<DateTime<Utc>> {
    let text = value["occurred_at"].as_str()?;
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

/// The application id as the ATS sends it: a string, or a number read as its decimal string.
fn application_id(value: &serde_json::Value) -> Option<ExternalId> {
    match &value["application_id"] {
        serde_json::Value::String(s) => ExternalId::parse(s).ok(),
        serde_json::Value::Number(n) => ExternalId::parse(&n.to_string()).ok(),
        _ => None,
    }
}

/// `ats.applications.<application_id>.<change>`
fn subject_application_id(subject: &str) -> Option<ExternalId> {
    let mut tokens = subject.split('.');
    match (tokens.next(), tokens.next(), tokens.next()) {
        (Some("ats"), Some("applications"), Some(id)) => ExternalId::parse(id).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ats_event_is_typed_by_its_subject_and_linked_to_its_conversation() {
        let payload = br#"{"event_id":"e1","application_id":"a1","status":"submitted","occurred_at":"2026-11-21T10:30:00+01:00"}"#;
        let event = read("ats.applications.a1.submitted", payload, Utc::now());
        assert_eq!(event.kind, "ats.submitted");
        assert_eq!(
            event.conversation,
            Some(ConversationId::for_application(&ExternalId::parse("a1").unwrap()))
        );
        assert_eq!(crate::event_log::wire::format_time(event.occurred_at), "2026-11-21T09:30:00.000Z");
        assert_eq!(event.json.unwrap()["status"], "submitted");
    }

    #[test]
    fn an_ats_event_that_is_not_a_json_object_is_an_error_with_its_stored_time() {
        let stored = Utc::now();
        let event = read("ats.applications.a2.withdrawn", b"[1,2]", stored);
        assert!(event.json.is_err());
        assert_eq!(event.occurred_at, stored);
        assert!(event.conversation.is_some());
        assert!(read("ats.applications.a2.withdrawn", b"{oops", stored).json.is_err());
    }
}
