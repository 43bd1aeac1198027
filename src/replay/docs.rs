//! Renders `docs/events.md`: the record envelope and the `data` of every event type, each
//! example produced by the real replay encoder from the golden wire samples, so the document
//! cannot drift from the code. A test compares the rendering with the committed file.

mod text;

use std::fmt::Write as _;

pub use text::EVENT_DOCS;
use text::{ATS_SECTION, HEADER};

use super::record::{Body, Encoder, Key, Record};
use super::{Format, filter};
use crate::domain::{Actor, Event, Role, Signal, UserId};
use crate::event_log::wire::{
    known_versions,
    samples::{self, Sample},
};

fn actor_for(name: &str) -> Actor {
    let (id, role) = match name {
        "message_sent" | "typing_changed" | "presence_changed" => ("abe", Role::Applicant),
        "application_status_received" => ("ats-backend", Role::Service),
        "user_profile_updated" => ("ats-backend", Role::Service),
        _ => ("rita", Role::Recruiter),
    };
    Actor { user_id: UserId::parse(id).expect("a valid sample user id"), role }
}

/// The example record of one sample, encoded as `format` by the replay encoder.
fn example(name: &str, version: u32, sample: &Sample, format: Format) -> String {
    let actor = actor_for(name);
    let key = match sample {
        Sample::Event(Event::Conversation(id, _)) => Key::Conversation(*id),
        Sample::Event(Event::User(id, _)) => Key::User(id),
        Sample::Signal(Signal::TypingChanged { conversation_id, .. }) => Key::Conversation(*conversation_id),
        Sample::Signal(Signal::PresenceChanged { user_id, .. }) => Key::User(user_id),
    };
    let body = match sample {
        Sample::Event(event) => Body::Event(event),
        Sample::Signal(signal) => Body::Signal(signal),
    };
    let record = Record {
        seq: 1042,
        kind: name,
        version: Some(version),
        occurred_at: Some(samples::sample_time() + chrono::Duration::milliseconds(123)),
        actor: Some(&actor),
        key: Some(key),
        body,
    };
    encode(&record, format)
}

/// Renders the whole document.
pub fn render() -> String {
    let mut doc = String::from(HEADER);
    let events: Vec<(&str, u32)> =
        known_versions().into_iter().filter(|(name, _)| filter::scope_of(name).is_some()).collect();
    let signals: Vec<(&str, u32)> =
        known_versions().into_iter().filter(|(name, _)| filter::scope_of(name).is_none()).collect();
    doc.push_str(
        "\n## Event types\n\nEach example is pretty-printed here; replay writes every record on \
         one line. The CSV row after it is the same record with `--format csv`.\n",
    );
    for (name, version) in events {
        section(&mut doc, name, version);
    }
    doc.push_str(ATS_SECTION);
    let _ = write!(
        doc,
        "\n```json\n{}\n```\n\n```csv\n{}\n```\n",
        ats_example(Format::Json),
        ats_example(Format::Csv)
    );
    doc.push_str(
        "\n## Signals\n\nTyping and presence are signals, not history: they live in \
         `PARLEY_SIGNALS` for seconds and replay never writes them. Live sessions show them \
         with the same `data`.\n",
    );
    for (name, version) in signals {
        section(&mut doc, name, version);
    }
    doc
}

/// An ATS event as the contract describes it, through the same reading and encoding as replay.
fn ats_example(format: Format) -> String {
    let payload = serde_json::json!({
        "event_id": "evt-9",
        "application_id": "app-1",
        "job_id": "job-3",
        "job_title": "Backend engineer",
        "candidate_id": "abe",
        "recruiter_id": "rita",
        "status": "interview",
        "occurred_at": "2026-11-21T10:30:00+01:00",
    });
    let event = super::ats::read(
        "ats.applications.app-1.status_changed",
        payload.to_string().as_bytes(),
        samples::sample_time(),
    );
    let json = event.json.as_ref().map_err(String::as_str);
    let record = Record {
        seq: 17,
        kind: &event.kind,
        version: None,
        occurred_at: Some(event.occurred_at),
        actor: None,
        key: event.conversation.map(Key::Conversation),
        body: match &json {
            Ok(value) => Body::Json(value),
            Err(reason) => Body::Error(reason),
        },
    };
    encode(&record, format)
}

fn encode(record: &Record<'_>, format: Format) -> String {
    let mut out = Vec::new();
    let written = match format {
        Format::Json => serde_json::to_writer_pretty(&mut out, record).map_err(|e| e.to_string()),
        Format::Csv => Encoder::new(Format::Csv).write(&mut out, record).map_err(|e| e.to_string()),
    };
    match written {
        Ok(()) => String::from_utf8_lossy(&out).trim_end().to_owned(),
        Err(e) => format!("(cannot encode the sample: {e})"),
    }
}

fn section(doc: &mut String, name: &str, version: u32) {
    let (what, fields) = EVENT_DOCS
        .iter()
        .find(|(documented, _, _)| *documented == name)
        .map(|(_, what, fields)| (*what, *fields))
        .unwrap_or(("UNDOCUMENTED: add it to EVENT_DOCS in src/replay/docs.rs.", &[]));
    let _ = write!(doc, "\n### `{name}` (version {version})\n\n{what}\n\n");
    doc.push_str("| field | type | what |\n|---|---|---|\n");
    for (field, kind, meaning) in fields {
        let _ = writeln!(doc, "| `{field}` | {kind} | {meaning} |");
    }
    match samples::sample(name, version) {
        Some(sample) => {
            let json = example(name, version, &sample, Format::Json);
            let csv = example(name, version, &sample, Format::Csv);
            let _ = write!(doc, "\n```json\n{json}\n```\n\n```csv\n{csv}\n```\n");
        }
        None => doc.push_str("\nNO SAMPLE: add one to src/event_log/wire/samples.rs.\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn committed_path() -> std::path::PathBuf {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/events.md")
    }

    #[test]
    fn the_committed_events_doc_is_what_the_code_renders() {
        let rendered = render();
        let path = committed_path();
        if std::env::var_os("PARLEY_BLESS_DOCS").is_some() {
            std::fs::write(&path, &rendered).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == rendered,
            "docs/events.md is out of date with the code: regenerate it with \
             `PARLEY_BLESS_DOCS=1 cargo test --lib replay::docs` and commit the result"
        );
    }

    #[test]
    fn every_known_event_name_is_documented_with_its_sample() {
        let rendered = render();
        for (name, version) in known_versions() {
            assert!(
                rendered.contains(&format!("### `{name}` (version {version})")),
                "{name} v{version} has no section"
            );
            assert!(rendered.contains(&format!("\"type\": \"{name}\"")), "{name} has no example");
        }
        assert!(!rendered.contains("UNDOCUMENTED") && !rendered.contains("NO SAMPLE"));
        assert!(!rendered.contains("cannot encode"));
    }

    #[test]
    fn every_data_field_is_documented_in_the_order_it_is_written() {
        for (name, version) in known_versions() {
            let sample = samples::sample(name, version).unwrap();
            let json: serde_json::Value =
                serde_json::from_str(&example(name, version, &sample, Format::Json)).unwrap();
            let text = example(name, version, &sample, Format::Json);
            let data_text = &text[text.find("\"data\": {").unwrap()..];
            let mut written: Vec<&str> =
                json["data"].as_object().unwrap().keys().map(String::as_str).collect();
            written.sort_by_key(|field| data_text.find(&format!("\"{field}\":")));
            let documented: Vec<&str> = EVENT_DOCS
                .iter()
                .find(|(n, _, _)| *n == name)
                .map(|(_, _, fields)| fields.iter().map(|(f, _, _)| *f).collect())
                .unwrap_or_default();
            assert_eq!(written, documented, "the data fields of {name}");
        }
    }

    #[test]
    fn the_ats_example_names_the_conversation_of_its_application() {
        let id = crate::domain::ExternalId::parse("app-1").unwrap();
        let conversation = crate::domain::ConversationId::for_application(&id);
        let json: serde_json::Value = serde_json::from_str(&ats_example(Format::Json)).unwrap();
        assert_eq!(json["conversation_id"], conversation.to_string());
        assert_eq!(json["type"], "ats.status_changed");
        assert_eq!(json["occurred_at"], "2026-11-21T09:30:00.000Z");
        assert_eq!(json["data"]["status"], "interview");
    }
}
