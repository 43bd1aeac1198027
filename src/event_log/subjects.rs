//! Subject and stream names. They are persisted: never rename one.
//!
//! - `parley.conv.<conversation_id>.<event_name>`: durable conversation facts.
//! - `parley.user.<user_token>.<event_name>`: durable user facts.
//! - `parley.signal.conv.<conversation_id>.<signal_name>` and
//!   `parley.signal.user.<user_token>.<signal_name>`: typing and presence.
//! - `parley.live.` + a durable subject (`parley.live.parley.conv.<id>.<name>`): the events
//!   stream republishes each stored event there, its sequence in the `Nats-Sequence` header,
//!   for live sessions.
//!
//! User ids may contain `.`, which separates subject tokens, and `:` and `@`, which key-value
//! keys refuse; `user_token` escapes them reversibly into `[A-Za-z0-9_-]`.

use crate::domain::{ConversationId, Event, UserId};

pub const EVENTS_STREAM: &str = "PARLEY_EVENTS";
/// `PARLEY_EVENTS` as the server sources it, filed by projector bucket (`partition`).
pub const PARTITIONS_STREAM: &str = "PARLEY_EVENTS_BY_PARTITION";
pub const SIGNALS_STREAM: &str = "PARLEY_SIGNALS";
pub const ATS_STREAM: &str = "ATS_EVENTS";
pub const ATS_DEAD_LETTERS_STREAM: &str = "ATS_DEAD_LETTERS";
pub const PRESENCE_BUCKET: &str = "PARLEY_PRESENCE";
pub const TICKETS_BUCKET: &str = "PARLEY_WS_TICKETS";
pub const ATTACHMENTS_BUCKET: &str = "PARLEY_ATTACHMENTS";

/// Every durable event (the projectors' and replay's filter).
pub const ALL_EVENTS: &str = "parley.*.*.*";
pub const ALL_CONVERSATION_EVENTS: &str = "parley.conv.*.*";
pub const ALL_USER_EVENTS: &str = "parley.user.*.*";
/// Prefix the events stream republishes stored events under.
pub const LIVE_PREFIX: &str = "parley.live.";
pub const ALL_LIVE: &str = "parley.live.>";
pub const ALL_SIGNALS: &str = "parley.signal.>";
/// What the ATS publishes.
pub const ATS_SUBJECTS: &str = "ats.applications.*.*";

/// Where an ATS event Parley could not process is kept, by its ATS_EVENTS sequence.
pub fn ats_dead_letter(original_seq: u64) -> String {
    format!("ats_dead_letters.{original_seq}")
}

/// Where an ATS event of `change` about `application_id` is published.
pub fn ats_application(application_id: &str, change: &str) -> String {
    format!("ats.applications.{application_id}.{change}")
}

/// Every durable consumer Parley creates, as (stream, name). Persisted names: never rename
/// one. nats.conf denies the analyst user creating, changing and pulling from each by name
/// (NATS permissions match whole subject tokens, so `projector_*` cannot be denied as a
/// pattern); `tests/it/nats_accounts.rs` checks that every one listed here is denied there.
/// One projector consumer per partition, up to `partition::MAX_PARTITIONS`, on the
/// partitioned copy (which the analyst cannot reach at all).
pub const DURABLE_CONSUMERS: &[(&str, &str)] = &[
    (PARTITIONS_STREAM, "projector_read_models_p0"),
    (PARTITIONS_STREAM, "projector_read_models_p1"),
    (PARTITIONS_STREAM, "projector_read_models_p2"),
    (PARTITIONS_STREAM, "projector_read_models_p3"),
    (PARTITIONS_STREAM, "projector_read_models_p4"),
    (PARTITIONS_STREAM, "projector_read_models_p5"),
    (PARTITIONS_STREAM, "projector_read_models_p6"),
    (PARTITIONS_STREAM, "projector_read_models_p7"),
    (ATS_STREAM, "ats_applications"),
];

pub fn conversation(id: &ConversationId, event_name: &str) -> String {
    format!("parley.conv.{id}.{event_name}")
}

/// Every event of one conversation: the scope of its expected-sequence checks.
pub fn conversation_filter(id: &ConversationId) -> String {
    format!("parley.conv.{id}.*")
}

pub fn user(id: &UserId, event_name: &str) -> String {
    format!("parley.user.{}.{event_name}", user_token(id))
}

pub fn user_filter(id: &UserId) -> String {
    format!("parley.user.{}.*", user_token(id))
}

pub fn conversation_signal(id: &ConversationId, name: &str) -> String {
    format!("parley.signal.conv.{id}.{name}")
}

pub fn user_signal(id: &UserId, name: &str) -> String {
    format!("parley.signal.user.{}.{name}", user_token(id))
}

/// The subject an event is stored under.
pub fn of(event: &Event) -> String {
    match event {
        Event::Conversation(id, e) => conversation(id, e.name()),
        Event::User(id, e) => user(id, e.name()),
    }
}

/// Which aggregate a durable or signal subject belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    Conversation(ConversationId),
    User(UserId),
}

/// Splits `parley.conv.<id>.<name>` (optionally under `parley.live.` or `parley.signal.`)
/// into its key and event name.
pub fn parse(subject: &str) -> Option<(Key, &str)> {
    let subject = subject.strip_prefix(LIVE_PREFIX).unwrap_or(subject);
    let rest = subject.strip_prefix("parley.")?;
    let rest = rest.strip_prefix("signal.").unwrap_or(rest);
    let mut tokens = rest.split('.');
    let scope = tokens.next()?;
    let id = tokens.next()?;
    let name = tokens.next()?;
    if tokens.next().is_some() {
        return None;
    }
    let key = match scope {
        "conv" => Key::Conversation(ConversationId::parse(id).ok()?),
        "user" => Key::User(parse_user_token(id)?),
        _ => return None,
    };
    Some((key, name))
}

/// Escapes a user id into one subject token that is also a valid key-value key.
pub fn user_token(id: &UserId) -> String {
    let mut out = String::with_capacity(id.as_str().len() + 4);
    for c in id.as_str().chars() {
        match c {
            '_' => out.push_str("__"),
            '.' => out.push_str("_d"),
            ':' => out.push_str("_c"),
            '@' => out.push_str("_a"),
            other => out.push(other),
        }
    }
    out
}

pub fn parse_user_token(token: &str) -> Option<UserId> {
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c != '_' {
            out.push(c);
            continue;
        }
        out.push(match chars.next()? {
            '_' => '_',
            'd' => '.',
            'c' => ':',
            'a' => '@',
            _ => return None,
        });
    }
    UserId::parse(&out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_tokens_round_trip_and_never_contain_separators() {
        for raw in ["alice", "jane.doe@acme.io", "a_b", "__", "x:y_d", "-_.-"] {
            let id = UserId::parse(raw).unwrap();
            let token = user_token(&id);
            assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'), "{token}");
            assert_eq!(parse_user_token(&token), Some(id));
        }
    }

    #[test]
    fn subjects_parse_back_to_their_key() {
        let conv = ConversationId::new();
        let subject = conversation(&conv, "message_sent");
        assert_eq!(parse(&subject), Some((Key::Conversation(conv), "message_sent")));
        let live = format!("{LIVE_PREFIX}{subject}");
        assert_eq!(parse(&live), Some((Key::Conversation(conv), "message_sent")));
        let user_id = UserId::parse("jane.doe").unwrap();
        assert_eq!(
            parse(&user(&user_id, "user_profile_updated")),
            Some((Key::User(user_id), "user_profile_updated"))
        );
        assert_eq!(parse("parley.conv.not-a-uuid.x"), None);
        assert_eq!(parse("ats.applications.1.submitted"), None);
    }
}
