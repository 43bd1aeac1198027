//! Turns replay options into what JetStream can filter (subject filters, a start position)
//! and what only the decoded event can tell (a user named in the data, an ATS event's
//! conversation). Subject filters are preferred: the server then skips what is not wanted.

use chrono::{DateTime, Utc};

use super::{Options, ReplayError};
use crate::domain::{ApplicationChange, ConversationEvent as C, Event, UserEvent, UserId};
use crate::event_log::subjects;

/// Where the events of one type live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Conversation,
    User,
}

/// The durable event types and their scope. Signals (`typing_changed`, `presence_changed`)
/// are not in `PARLEY_EVENTS` and cannot be replayed.
pub const EVENT_TYPES: &[(&str, Scope)] = &[
    ("conversation_created", Scope::Conversation),
    ("participant_added", Scope::Conversation),
    ("participant_removed", Scope::Conversation),
    ("message_sent", Scope::Conversation),
    ("message_edited", Scope::Conversation),
    ("message_deleted", Scope::Conversation),
    ("messages_read", Scope::Conversation),
    ("message_delivered", Scope::Conversation),
    ("reaction_added", Scope::Conversation),
    ("reaction_removed", Scope::Conversation),
    ("application_status_received", Scope::Conversation),
    ("user_profile_updated", Scope::User),
];

/// Record types of ATS events start with this; the rest is the subject's last token.
pub const ATS_TYPE_PREFIX: &str = "ats.";

pub fn scope_of(name: &str) -> Option<Scope> {
    EVENT_TYPES.iter().find(|(known, _)| *known == name).map(|(_, scope)| *scope)
}

/// Refuses unknown `--type` names, listing the known ones.
pub fn check_types(types: &[String]) -> Result<(), ReplayError> {
    for name in types {
        let ats = name
            .strip_prefix(ATS_TYPE_PREFIX)
            .is_some_and(|change| ApplicationChange::parse(change).is_some());
        if !ats && scope_of(name).is_none() {
            let known: Vec<&str> = EVENT_TYPES.iter().map(|(n, _)| *n).collect();
            return Err(ReplayError::Options(format!(
                "unknown event type {name:?}: use one of {}, or ats.submitted, \
                 ats.status_changed, ats.withdrawn",
                known.join(", ")
            )));
        }
    }
    Ok(())
}

/// Subject filters for `PARLEY_EVENTS`: `Some(vec![])` reads everything, `None` nothing (the
/// filters exclude every Parley event).
pub fn parley_filters(options: &Options) -> Option<Vec<String>> {
    let parley_types: Vec<&String> =
        options.types.iter().filter(|t| !t.starts_with(ATS_TYPE_PREFIX)).collect();
    if parley_types.is_empty() {
        if !options.types.is_empty() {
            return None;
        }
        return Some(match &options.conversation {
            Some(id) => vec![subjects::conversation_filter(id)],
            None => Vec::new(),
        });
    }
    let filters: Vec<String> = parley_types
        .iter()
        .filter_map(|name| match (scope_of(name)?, &options.conversation) {
            (Scope::Conversation, Some(id)) => Some(subjects::conversation(id, name)),
            (Scope::Conversation, None) => Some(format!("parley.conv.*.{name}")),
            (Scope::User, None) => Some(format!("parley.user.*.{name}")),
            // User events belong to no conversation.
            (Scope::User, Some(_)) => None,
        })
        .collect();
    (!filters.is_empty()).then_some(filters)
}

/// Subject filters for `ATS_EVENTS`, with the same meaning as `parley_filters`.
pub fn ats_filters(options: &Options) -> Option<Vec<String>> {
    if !options.include_ats {
        return None;
    }
    if options.types.is_empty() {
        return Some(Vec::new());
    }
    let filters: Vec<String> = options
        .types
        .iter()
        .filter_map(|t| t.strip_prefix(ATS_TYPE_PREFIX))
        .map(|change| format!("ats.applications.*.{change}"))
        .collect();
    (!filters.is_empty()).then_some(filters)
}

/// Whether a stored time lies inside `--since`/`--until`.
pub fn in_time_range(options: &Options, stored_at: DateTime<Utc>) -> bool {
    options.since.is_none_or(|since| stored_at >= since)
        && options.until.is_none_or(|until| stored_at <= until)
}

/// Whether a Parley event concerns `user`: caused by them, or naming them in its data.
pub fn names_user(actor: &UserId, event: &Event, user: &UserId) -> bool {
    if actor == user {
        return true;
    }
    match event {
        Event::User(id, UserEvent::ProfileUpdated { .. }) => id == user,
        Event::Conversation(_, event) => match event {
            C::Created { participants, created_by, .. } => {
                created_by == user || participants.iter().any(|p| &p.user_id == user)
            }
            C::ParticipantAdded { user_id, .. } | C::ParticipantRemoved { user_id } => user_id == user,
            C::MessageSent { sender_id, .. } => sender_id == user,
            C::MessagesRead { reader_id, .. } => reader_id == user,
            C::MessageDelivered { recipient_id, .. } => recipient_id == user,
            C::ReactionAdded { user_id, .. } | C::ReactionRemoved { user_id, .. } => user_id == user,
            C::ApplicationStatusReceived { candidate_id, recruiter_id, .. } => {
                candidate_id == user || recruiter_id == user
            }
            C::MessageEdited { .. } | C::MessageDeleted { .. } => false,
        },
    }
}

/// Whether an ATS event (its JSON) names `user` as candidate or recruiter.
pub fn ats_names_user(json: &serde_json::Value, user: &UserId) -> bool {
    ["candidate_id", "recruiter_id"].iter().any(|field| match &json[field] {
        serde_json::Value::String(s) => s == user.as_str(),
        serde_json::Value::Number(n) => n.to_string() == user.as_str(),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ConversationId;
    use crate::event_log::wire::{known_versions, samples};

    fn options(types: &[&str], conversation: Option<ConversationId>) -> Options {
        Options {
            types: types.iter().map(|t| t.to_string()).collect(),
            conversation,
            include_ats: true,
            ..Options::default()
        }
    }

    #[test]
    fn every_durable_event_type_has_the_scope_its_sample_has() {
        for (name, version) in known_versions() {
            match samples::sample(name, version) {
                Some(samples::Sample::Event(Event::Conversation(..))) => {
                    assert_eq!(scope_of(name), Some(Scope::Conversation), "{name}")
                }
                Some(samples::Sample::Event(Event::User(..))) => {
                    assert_eq!(scope_of(name), Some(Scope::User), "{name}")
                }
                _ => assert_eq!(scope_of(name), None, "{name} is a signal"),
            }
        }
    }

    #[test]
    fn types_and_a_conversation_become_subject_filters() {
        let conv = ConversationId::new();
        assert_eq!(parley_filters(&options(&[], None)), Some(vec![]));
        assert_eq!(parley_filters(&options(&[], Some(conv))), Some(vec![format!("parley.conv.{conv}.*")]));
        assert_eq!(
            parley_filters(&options(&["message_sent", "user_profile_updated"], None)),
            Some(vec![
                "parley.conv.*.message_sent".to_owned(),
                "parley.user.*.user_profile_updated".to_owned()
            ])
        );
        assert_eq!(
            parley_filters(&options(&["message_sent", "user_profile_updated"], Some(conv))),
            Some(vec![format!("parley.conv.{conv}.message_sent")])
        );
        assert_eq!(parley_filters(&options(&["user_profile_updated"], Some(conv))), None);
        assert_eq!(parley_filters(&options(&["ats.withdrawn"], None)), None);
        assert_eq!(
            ats_filters(&options(&["ats.withdrawn", "message_sent"], None)),
            Some(vec!["ats.applications.*.withdrawn".to_owned()])
        );
        assert_eq!(ats_filters(&options(&["message_sent"], None)), None);
    }

    #[test]
    fn unknown_types_are_refused_and_known_ones_accepted() {
        assert!(check_types(&["message_sent".into(), "ats.submitted".into()]).is_ok());
        let error = check_types(&["message_send".into()]).unwrap_err();
        assert!(error.to_string().contains("message_sent"), "{error}");
        assert!(check_types(&["typing_changed".into()]).is_err());
        assert!(check_types(&["ats.hired".into()]).is_err());
    }

    #[test]
    fn a_user_is_found_as_actor_or_anywhere_in_the_data() {
        let rita = UserId::parse("rita").unwrap();
        let cy = UserId::parse("cy").unwrap();
        let nobody = UserId::parse("nobody").unwrap();
        let Some(samples::Sample::Event(created)) = samples::sample("conversation_created", 1) else {
            unreachable!()
        };
        assert!(names_user(&nobody, &created, &rita));
        assert!(!names_user(&nobody, &created, &cy));
        assert!(names_user(&cy, &created, &cy));
        let json = serde_json::json!({"candidate_id": 42, "recruiter_id": "rita"});
        assert!(ats_names_user(&json, &rita));
        assert!(ats_names_user(&json, &UserId::parse("42").unwrap()));
        assert!(!ats_names_user(&json, &cy));
    }
}
