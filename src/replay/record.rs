//! One output record per event, and its two encodings: a JSON line, or a CSV row with fixed
//! columns. Owns the record envelope (`seq`, `type`, `version`, `occurred_at`, `actor`, the
//! aggregate id, then `data` or `error`); the `data` shapes live in `data.rs`.

use std::io::{self, Write};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::data::{EventData, SignalData};
use crate::domain::{Actor, ConversationId, Event, Signal, UserId};
use crate::event_log::wire::format_time;

/// The CSV header: fixed columns, `data` holding the record's JSON `data` (or `{"error"}`).
pub const CSV_HEADER: &str =
    "seq,type,version,occurred_at,actor_id,actor_role,conversation_id,user_id,data\n";

/// What a record says about one event.
pub struct Record<'a> {
    pub seq: u64,
    /// The persisted event name (`message_sent`), or `ats.<change>` for an ATS event.
    pub kind: &'a str,
    pub version: Option<u32>,
    pub occurred_at: Option<DateTime<Utc>>,
    pub actor: Option<&'a Actor>,
    pub key: Option<Key<'a>>,
    pub body: Body<'a>,
}

/// The aggregate a record belongs to.
#[derive(Clone, Copy)]
pub enum Key<'a> {
    Conversation(ConversationId),
    User(&'a UserId),
}

pub enum Body<'a> {
    Event(&'a Event),
    Signal(&'a Signal),
    /// An ATS event's JSON, as the ATS published it.
    Json(&'a serde_json::Value),
    /// Why the event could not be decoded.
    Error(&'a str),
}

impl Body<'_> {
    fn serialize_into<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        match self {
            Body::Event(event) => map.serialize_entry("data", &EventData(event)),
            Body::Signal(signal) => map.serialize_entry("data", &SignalData(signal)),
            Body::Json(value) => map.serialize_entry("data", value),
            Body::Error(reason) => map.serialize_entry("error", reason),
        }
    }
}

struct ActorJson<'a>(&'a Actor);

impl Serialize for ActorJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("id", self.0.user_id.as_str())?;
        map.serialize_entry("role", self.0.role.as_str())?;
        map.end()
    }
}

impl Serialize for Record<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("seq", &self.seq)?;
        map.serialize_entry("type", self.kind)?;
        map.serialize_entry("version", &self.version)?;
        map.serialize_entry("occurred_at", &self.occurred_at.map(format_time))?;
        map.serialize_entry("actor", &self.actor.map(ActorJson))?;
        match self.key {
            Some(Key::Conversation(id)) => map.serialize_entry("conversation_id", &id)?,
            Some(Key::User(id)) => map.serialize_entry("user_id", id)?,
            None => {}
        }
        self.body.serialize_into(&mut map)?;
        map.end()
    }
}

/// The `data` column of a CSV row: the data, or `{"error": ...}`.
struct DataColumn<'a>(&'a Body<'a>);

impl Serialize for DataColumn<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Body::Event(event) => EventData(event).serialize(serializer),
            Body::Signal(signal) => SignalData(signal).serialize(serializer),
            Body::Json(value) => value.serialize(serializer),
            Body::Error(reason) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("error", reason)?;
                map.end()
            }
        }
    }
}

/// Writes records in one format, reusing its scratch buffer between records.
pub struct Encoder {
    format: super::Format,
    scratch: Vec<u8>,
}

impl Encoder {
    pub fn new(format: super::Format) -> Self {
        Self { format, scratch: Vec::with_capacity(4096) }
    }

    /// What goes before the first record (the CSV header line).
    pub fn start(&self, out: &mut impl Write) -> io::Result<()> {
        match self.format {
            super::Format::Json => Ok(()),
            super::Format::Csv => out.write_all(CSV_HEADER.as_bytes()),
        }
    }

    pub fn write(&mut self, out: &mut impl Write, record: &Record<'_>) -> io::Result<()> {
        match self.format {
            super::Format::Json => {
                serde_json::to_writer(&mut *out, record)?;
                out.write_all(b"\n")
            }
            super::Format::Csv => self.write_csv(out, record),
        }
    }

    fn write_csv(&mut self, out: &mut impl Write, record: &Record<'_>) -> io::Result<()> {
        write!(out, "{},", record.seq)?;
        csv_field(out, record.kind.as_bytes())?;
        match record.version {
            Some(version) => write!(out, ",{version},")?,
            None => out.write_all(b",,")?,
        }
        if let Some(at) = record.occurred_at {
            out.write_all(format_time(at).as_bytes())?;
        }
        out.write_all(b",")?;
        if let Some(actor) = record.actor {
            csv_field(out, actor.user_id.as_str().as_bytes())?;
            write!(out, ",{}", actor.role.as_str())?;
        } else {
            out.write_all(b",")?;
        }
        match record.key {
            Some(Key::Conversation(id)) => write!(out, ",{id},")?,
            Some(Key::User(id)) => {
                out.write_all(b",,")?;
                csv_field(out, id.as_str().as_bytes())?;
            }
            None => out.write_all(b",,")?,
        }
        out.write_all(b",")?;
        self.scratch.clear();
        serde_json::to_writer(&mut self.scratch, &DataColumn(&record.body))?;
        csv_field(out, &self.scratch)?;
        out.write_all(b"\n")
    }
}

/// One CSV field (RFC 4180): quoted, with quotes doubled, when it holds a comma, a quote or a
/// line break.
fn csv_field(out: &mut impl Write, field: &[u8]) -> io::Result<()> {
    if !field.iter().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        return out.write_all(field);
    }
    out.write_all(b"\"")?;
    for (i, part) in field.split(|b| *b == b'"').enumerate() {
        if i > 0 {
            out.write_all(b"\"\"")?;
        }
        out.write_all(part)?;
    }
    out.write_all(b"\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;
    use crate::event_log::wire::samples::{Sample, conv, sample};
    use crate::replay::Format;

    fn actor() -> Actor {
        Actor { user_id: UserId::parse("abe").unwrap(), role: Role::Applicant }
    }

    fn encode(format: Format, record: &Record<'_>) -> String {
        let mut encoder = Encoder::new(format);
        let mut out = Vec::new();
        encoder.write(&mut out, record).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_json_record_has_the_envelope_in_a_fixed_order_then_data() {
        let Some(Sample::Event(event)) = sample("message_deleted", 1) else { unreachable!() };
        let actor = actor();
        let record = Record {
            seq: 7,
            kind: "message_deleted",
            version: Some(1),
            occurred_at: Some(crate::event_log::wire::samples::sample_time()),
            actor: Some(&actor),
            key: Some(Key::Conversation(conv())),
            body: Body::Event(&event),
        };
        assert_eq!(
            encode(Format::Json, &record),
            "{\"seq\":7,\"type\":\"message_deleted\",\"version\":1,\
             \"occurred_at\":\"2026-11-21T09:30:00.000Z\",\"actor\":{\"id\":\"abe\",\"role\":\"applicant\"},\
             \"conversation_id\":\"01920000-0000-7000-8000-000000000001\",\
             \"data\":{\"message_id\":\"01920000-0000-7000-8000-000000001001\"}}\n"
        );
    }

    #[test]
    fn a_csv_row_quotes_the_data_column_and_leaves_unknown_fields_empty() {
        let user = UserId::parse("jane.doe@acme.io").unwrap();
        let record = Record {
            seq: 9,
            kind: "user_profile_updated",
            version: None,
            occurred_at: None,
            actor: None,
            key: Some(Key::User(&user)),
            body: Body::Error("body of x v1: \"bad\", truncated"),
        };
        assert_eq!(
            encode(Format::Csv, &record),
            "9,user_profile_updated,,,,,,jane.doe@acme.io,\
             \"{\"\"error\"\":\"\"body of x v1: \\\"\"bad\\\"\", truncated\"\"}\"\n"
        );
        assert_eq!(CSV_HEADER.trim_end().split(',').count(), 9);
    }

    #[test]
    fn an_undecodable_event_becomes_an_error_record_without_data() {
        let record = Record {
            seq: 3,
            kind: "message_sent",
            version: Some(1),
            occurred_at: None,
            actor: None,
            key: None,
            body: Body::Error("truncated"),
        };
        let json: serde_json::Value = serde_json::from_str(&encode(Format::Json, &record)).unwrap();
        assert_eq!(json["error"], "truncated");
        assert_eq!(json["type"], "message_sent");
        assert!(json.get("data").is_none());
    }
}
