//! The wire format: event bodies as postcard, metadata in NATS headers. `encode` writes the
//! current version of every event; `decode` reads every version ever released and upcasts it
//! to the domain event.

mod convert;
#[doc(hidden)]
pub mod samples;
pub mod v1;

use async_nats::HeaderMap;
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

use crate::domain::{Actor, Envelope, Event, EventId, Role, Signal, UserId};

use super::subjects::{self, Key};

pub const HEADER_EVENT_ID: &str = "Parley-Event-Id";
pub const HEADER_TYPE: &str = "Parley-Event-Type";
pub const HEADER_VERSION: &str = "Parley-Event-Version";
pub const HEADER_OCCURRED_AT: &str = "Parley-Occurred-At";
pub const HEADER_ACTOR: &str = "Parley-Actor";
pub const HEADER_ACTOR_ROLE: &str = "Parley-Actor-Role";

/// The version `encode` writes for every event type.
pub const CURRENT_VERSION: u32 = 1;

/// Why stored bytes could not be read back as an event.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("bad header {0}: {1}")]
    BadHeader(&'static str, String),
    #[error("subject {0} is not a Parley event subject")]
    BadSubject(String),
    #[error("unknown event type {name} version {version}")]
    UnknownType { name: String, version: u32 },
    #[error("body of {name} v{version}: {source}")]
    Body { name: String, version: u32, source: postcard::Error },
    #[error("{name} v{version} carries an invalid value: {reason}")]
    Value { name: String, version: u32, reason: String },
}

/// An event ready to publish.
#[derive(Clone, Debug)]
pub struct Encoded {
    pub subject: String,
    pub headers: HeaderMap,
    pub payload: Bytes,
}

pub fn encode(envelope: &Envelope) -> Encoded {
    let (subject, payload) = match &envelope.event {
        Event::Conversation(id, event) => {
            (subjects::conversation(id, event.name()), convert::encode_conversation_event(event))
        }
        Event::User(id, event) => (subjects::user(id, event.name()), convert::encode_user_event(event)),
    };
    Encoded {
        subject,
        headers: metadata_headers(
            envelope.event_id,
            envelope.event.name(),
            envelope.occurred_at,
            &envelope.actor,
        ),
        payload: payload.into(),
    }
}

pub fn encode_signal(signal: &Signal, actor: &Actor, at: DateTime<Utc>) -> Encoded {
    let (subject, payload) = convert::encode_signal(signal);
    Encoded {
        subject,
        headers: metadata_headers(EventId::new(), signal.name(), at, actor),
        payload: payload.into(),
    }
}

fn metadata_headers(event_id: EventId, name: &str, at: DateTime<Utc>, actor: &Actor) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(HEADER_EVENT_ID, event_id.to_string().as_str());
    headers.insert(HEADER_TYPE, name);
    headers.insert(HEADER_VERSION, CURRENT_VERSION.to_string().as_str());
    headers.insert(HEADER_OCCURRED_AT, format_time(at).as_str());
    headers.insert(HEADER_ACTOR, actor.user_id.as_str());
    headers.insert(HEADER_ACTOR_ROLE, actor.role.as_str());
    headers
}

/// RFC 3339, UTC, millisecond precision: the API's timestamp format.
pub fn format_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn millis_to_time(ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

/// The metadata of a stored event, readable without decoding its body.
#[derive(Clone, Debug, PartialEq)]
pub struct Metadata {
    pub event_id: EventId,
    pub name: String,
    pub version: u32,
    pub occurred_at: DateTime<Utc>,
    pub actor: Actor,
}

pub fn decode_metadata(headers: Option<&HeaderMap>) -> Result<Metadata, DecodeError> {
    let headers = headers.ok_or(DecodeError::MissingHeader(HEADER_TYPE))?;
    // One pass over the headers, borrowing the values: replay decodes every event of the log,
    // and six hashed lookups with an owned copy each cost it measurably.
    const NAMES: [&str; 6] =
        [HEADER_EVENT_ID, HEADER_TYPE, HEADER_VERSION, HEADER_OCCURRED_AT, HEADER_ACTOR, HEADER_ACTOR_ROLE];
    let mut values: [Option<&str>; 6] = [None; 6];
    for (name, value) in headers.iter() {
        let name: &[u8] = name.as_ref();
        if let Some(i) = NAMES.iter().position(|n| n.as_bytes() == name) {
            values[i] = value.first().map(|v| v.as_str());
        }
    }
    let get = |i: usize| values[i].ok_or(DecodeError::MissingHeader(NAMES[i]));
    let bad = |name: &'static str, value: &str| DecodeError::BadHeader(name, value.to_owned());
    let event_id = get(0)?;
    let name = get(1)?;
    let version = get(2)?;
    let occurred_at = get(3)?;
    let actor = get(4)?;
    let role = get(5)?;
    Ok(Metadata {
        event_id: EventId::parse(event_id).map_err(|_| bad(HEADER_EVENT_ID, event_id))?,
        name: name.to_owned(),
        version: version.parse().map_err(|_| bad(HEADER_VERSION, version))?,
        occurred_at: DateTime::parse_from_rfc3339(occurred_at)
            .map_err(|_| bad(HEADER_OCCURRED_AT, occurred_at))?
            .with_timezone(&Utc),
        actor: Actor {
            user_id: UserId::parse(actor).map_err(|_| bad(HEADER_ACTOR, actor))?,
            role: Role::parse(role).map_err(|_| bad(HEADER_ACTOR_ROLE, role))?,
        },
    })
}

/// Reads a stored durable event back into the domain, whatever version wrote it.
pub fn decode(subject: &str, headers: Option<&HeaderMap>, payload: &[u8]) -> Result<Envelope, DecodeError> {
    decode_versioned(subject, headers, payload).map(|(envelope, _)| envelope)
}

/// `decode`, also saying which version of the body was stored (replay reports it).
pub fn decode_versioned(
    subject: &str,
    headers: Option<&HeaderMap>,
    payload: &[u8],
) -> Result<(Envelope, u32), DecodeError> {
    let meta = decode_metadata(headers)?;
    let (key, subject_name) =
        subjects::parse(subject).ok_or_else(|| DecodeError::BadSubject(subject.to_owned()))?;
    if subject_name != meta.name {
        return Err(DecodeError::BadHeader(HEADER_TYPE, meta.name));
    }
    let event = match key {
        Key::Conversation(id) => {
            Event::Conversation(id, convert::decode_conversation_event(&meta.name, meta.version, payload)?)
        }
        Key::User(id) => Event::User(id, convert::decode_user_event(&meta.name, meta.version, payload)?),
    };
    let envelope =
        Envelope { event_id: meta.event_id, occurred_at: meta.occurred_at, actor: meta.actor, event };
    Ok((envelope, meta.version))
}

pub fn decode_signal(
    subject: &str,
    headers: Option<&HeaderMap>,
    payload: &[u8],
) -> Result<(Metadata, Signal), DecodeError> {
    let meta = decode_metadata(headers)?;
    let (key, name) = subjects::parse(subject).ok_or_else(|| DecodeError::BadSubject(subject.to_owned()))?;
    if name != meta.name {
        return Err(DecodeError::BadHeader(HEADER_TYPE, meta.name));
    }
    let signal = convert::decode_signal(key, &meta.name, meta.version, payload)?;
    Ok((meta, signal))
}

/// Every (event name, version) pair `decode` accepts, for docs and fixture checks.
pub fn known_versions() -> Vec<(&'static str, u32)> {
    convert::KNOWN.to_vec()
}

#[doc(hidden)]
pub fn encode_body(event: &Event) -> Vec<u8> {
    match event {
        Event::Conversation(_, e) => convert::encode_conversation_event(e),
        Event::User(_, e) => convert::encode_user_event(e),
    }
}

#[doc(hidden)]
pub fn decode_body(key: Key, name: &str, version: u32, payload: &[u8]) -> Result<Event, DecodeError> {
    Ok(match key {
        Key::Conversation(id) => {
            Event::Conversation(id, convert::decode_conversation_event(name, version, payload)?)
        }
        Key::User(id) => Event::User(id, convert::decode_user_event(name, version, payload)?),
    })
}

#[cfg(test)]
#[path = "golden_tests.rs"]
mod golden_tests;
