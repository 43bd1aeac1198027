//! Golden byte fixtures: every released (event, version) has a checked-in encoding under
//! `tests/golden/wire/`. Each must decode, forever, to the event it was written from, and the
//! current version must still encode to exactly those bytes. Adding a field to a released
//! struct, reordering one, or changing an enum breaks these tests, which is the point.
//!
//! A new event or version gets its fixture written once with
//! `PARLEY_BLESS_GOLDEN=1 cargo test golden`; existing fixtures are never overwritten.

use std::path::PathBuf;

use chrono::{TimeZone, Utc};

use super::samples::{self, Sample, conv};
use super::*;
use crate::domain::Signal;

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

fn sample(name: &str, version: u32) -> Sample {
    samples::sample(name, version)
        .unwrap_or_else(|| panic!("no golden sample for {name} v{version}: add one to samples.rs"))
}

fn fixture_path(name: &str, version: u32) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/wire/{name}.v{version}.hex"))
}

fn sample_bytes(sample: &Sample) -> Vec<u8> {
    match sample {
        Sample::Event(event) => encode_body(event),
        Sample::Signal(signal) => convert::encode_signal(signal).1,
    }
}

fn read_fixture(name: &str, version: u32, fresh: &[u8]) -> Vec<u8> {
    let path = fixture_path(name, version);
    match std::fs::read_to_string(&path) {
        Ok(text) => decode_hex(text.trim()),
        Err(_) if std::env::var_os("PARLEY_BLESS_GOLDEN").is_some() => {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, format!("{}\n", encode_hex(fresh))).unwrap();
            fresh.to_vec()
        }
        Err(e) => panic!(
            "missing golden fixture {} ({e}); write it once with PARLEY_BLESS_GOLDEN=1",
            path.display()
        ),
    }
}

fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("golden fixtures are hex"))
        .collect()
}

#[test]
fn every_released_version_decodes_from_its_golden_bytes() {
    for (name, version) in known_versions() {
        let expected = sample(name, version);
        let bytes = read_fixture(name, version, &sample_bytes(&expected));
        match expected {
            Sample::Event(event) => {
                let key = match &event {
                    Event::Conversation(id, _) => Key::Conversation(*id),
                    Event::User(id, _) => Key::User(id.clone()),
                };
                let decoded = decode_body(key, name, version, &bytes)
                    .unwrap_or_else(|e| panic!("{name} v{version} no longer decodes: {e}"));
                assert_eq!(decoded, event, "{name} v{version} decodes to something else");
            }
            Sample::Signal(signal) => {
                let key = match &signal {
                    Signal::TypingChanged { conversation_id, .. } => Key::Conversation(*conversation_id),
                    Signal::PresenceChanged { user_id, .. } => Key::User(user_id.clone()),
                };
                let decoded = convert::decode_signal(key, name, version, &bytes)
                    .unwrap_or_else(|e| panic!("{name} v{version} no longer decodes: {e}"));
                assert_eq!(decoded, signal);
            }
        }
    }
}

#[test]
fn the_current_version_still_encodes_to_its_golden_bytes() {
    for (name, version) in known_versions() {
        if version != CURRENT_VERSION {
            continue;
        }
        let fresh = sample_bytes(&sample(name, version));
        let golden = read_fixture(name, version, &fresh);
        assert_eq!(
            encode_hex(&fresh),
            encode_hex(&golden),
            "the wire encoding of {name} v{version} changed: released versions are frozen, add a new version instead"
        );
    }
}

#[test]
fn a_whole_envelope_round_trips_through_headers_and_subject() {
    let Sample::Event(event) = sample("message_sent", 1) else { unreachable!() };
    let envelope = Envelope {
        event_id: EventId(uuid::Uuid::from_u128(42)),
        occurred_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap() + chrono::Duration::milliseconds(678),
        actor: Actor { user_id: user("abe"), role: Role::Applicant },
        event,
    };
    let encoded = encode(&envelope);
    assert_eq!(encoded.subject, format!("parley.conv.{}.message_sent", conv()));
    assert_eq!(encoded.headers.get(HEADER_OCCURRED_AT).unwrap().as_str(), "2026-01-02T03:04:05.678Z");
    let decoded = decode(&encoded.subject, Some(&encoded.headers), &encoded.payload).unwrap();
    assert_eq!(decoded, envelope);
}

#[test]
fn trailing_bytes_and_truncation_are_decode_errors() {
    let Sample::Event(event) = sample("messages_read", 1) else { unreachable!() };
    let mut bytes = encode_body(&event);
    bytes.push(0);
    assert!(decode_body(Key::Conversation(conv()), "messages_read", 1, &bytes).is_err());
    bytes.truncate(bytes.len() - 3);
    assert!(decode_body(Key::Conversation(conv()), "messages_read", 1, &bytes).is_err());
    assert!(matches!(
        decode_body(Key::Conversation(conv()), "messages_read", 9, &bytes),
        Err(DecodeError::UnknownType { .. })
    ));
}
