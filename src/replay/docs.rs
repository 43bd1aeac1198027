//! Renders `docs/events.md`: the record envelope and the `data` of every event type, each
//! example produced by the real replay encoder from the golden wire samples, so the document
//! cannot drift from the code. A test compares the rendering with the committed file.

use std::fmt::Write as _;

use super::record::{Body, Encoder, Key, Record};
use super::{Format, filter};
use crate::domain::{Actor, Event, Role, Signal, UserId};
use crate::event_log::wire::{
    known_versions,
    samples::{self, Sample},
};

/// What each event means and what each of its `data` fields holds, in encoding order.
type FieldDoc = (&'static str, &'static str, &'static str);
pub const EVENT_DOCS: &[(&str, &str, &[FieldDoc])] = &[
    (
        "conversation_created",
        "A conversation was opened.",
        &[
            ("title", "string or null", "its title"),
            (
                "kind",
                "`direct` or `group`",
                "a direct conversation has exactly two participants and is unique per pair",
            ),
            (
                "participants",
                "array of `{user_id, role}`",
                "who takes part from the start, with their roles",
            ),
            (
                "application_id",
                "string or null",
                "the ATS application it belongs to",
            ),
            ("job_id", "string or null", "the ATS job it belongs to"),
            (
                "created_by",
                "user id",
                "who asked for it (a service may create conversations for others)",
            ),
        ],
    ),
    (
        "participant_added",
        "Someone joined a conversation.",
        &[
            ("user_id", "user id", "who joined"),
            ("role", "role", "their role in the conversation"),
        ],
    ),
    (
        "participant_removed",
        "Someone left, or was removed from, a conversation.",
        &[(
            "user_id",
            "user id",
            "who left; the actor is who removed them (the same user when they left)",
        )],
    ),
    (
        "message_sent",
        "A message was posted.",
        &[
            ("message_id", "UUID", "the message"),
            (
                "sender_id",
                "user id",
                "who sent it (for `system` messages, the service that caused it)",
            ),
            ("sender_role", "role", "the sender's role"),
            (
                "kind",
                "`text`, `file` or `system`",
                "`system` messages record ATS updates",
            ),
            ("content", "string", "the text, trimmed"),
            (
                "reply_to",
                "UUID or null",
                "the message it answers, in the same conversation",
            ),
            (
                "attachments",
                "array of `{id, name, content_type, size}`",
                "uploaded files; `size` in bytes",
            ),
            (
                "client_msg_id",
                "string or null",
                "the sender's idempotency key",
            ),
        ],
    ),
    (
        "message_edited",
        "A message's content was replaced by its sender.",
        &[
            ("message_id", "UUID", "the message"),
            ("content", "string", "the new content"),
        ],
    ),
    (
        "message_deleted",
        "A message was deleted: its content is gone, the fact that it existed is not.",
        &[("message_id", "UUID", "the message")],
    ),
    (
        "messages_read",
        "A participant read the conversation up to a position (a read receipt).",
        &[
            ("reader_id", "user id", "who read"),
            (
                "up_to_seq",
                "integer",
                "every event of the conversation up to this `seq` is read",
            ),
        ],
    ),
    (
        "message_delivered",
        "Events up to a position reached one of the participant's devices.",
        &[
            ("recipient_id", "user id", "who received them"),
            (
                "up_to_seq",
                "integer",
                "every event of the conversation up to this `seq` is delivered",
            ),
        ],
    ),
    (
        "reaction_added",
        "A participant reacted to a message.",
        &[
            ("message_id", "UUID", "the message"),
            ("user_id", "user id", "who reacted"),
            ("emoji", "string", "the reaction"),
        ],
    ),
    (
        "reaction_removed",
        "A participant took a reaction back.",
        &[
            ("message_id", "UUID", "the message"),
            ("user_id", "user id", "whose reaction"),
            ("emoji", "string", "the reaction"),
        ],
    ),
    (
        "application_status_received",
        "An ATS event was recorded, with the system message that shows it.",
        &[
            ("message_id", "UUID", "the system message"),
            (
                "ats_event_id",
                "string",
                "the ATS's `event_id` (replays of it have no further effect)",
            ),
            (
                "change",
                "`submitted`, `status_changed` or `withdrawn`",
                "what happened to the application",
            ),
            ("application_id", "string", "the application"),
            ("job_id", "string or null", "its job"),
            ("job_title", "string or null", "the job's title"),
            ("candidate_id", "user id", "the applicant"),
            ("recruiter_id", "user id", "the recruiter"),
            ("status", "string", "the application's status in the ATS"),
            (
                "ats_occurred_at",
                "time",
                "when the ATS says it happened (`occurred_at` is when Parley recorded it)",
            ),
            ("text", "string", "the system message's text"),
        ],
    ),
    (
        "user_profile_updated",
        "A user's profile changed.",
        &[
            (
                "name",
                "string or null",
                "the new display name; null: unchanged",
            ),
            (
                "role",
                "role or null",
                "the new role (set by a service only); null: unchanged",
            ),
        ],
    ),
    (
        "typing_changed",
        "A participant started or stopped typing.",
        &[
            ("user_id", "user id", "who"),
            (
                "is_typing",
                "boolean",
                "expires by itself after 10 s without renewal",
            ),
        ],
    ),
    (
        "presence_changed",
        "A user came online or went offline.",
        &[
            (
                "online",
                "boolean",
                "whether any of their sessions is connected",
            ),
            ("last_seen", "time", "when they were last connected"),
        ],
    ),
];

const HEADER: &str = "<!-- Generated from the code by parley::replay::docs::render: do not edit.
     Regenerate with: PARLEY_BLESS_DOCS=1 cargo test --lib replay::docs -->

# Events

`parley replay` writes one record per event of the event log (`PARLEY_EVENTS`, and with
`--include-ats` the ATS's own events in `ATS_EVENTS`), as JSON lines (the default) or CSV
(`--format csv`). This is the shape analysts can rely on: fields are only ever added, never
renamed or given another meaning.

## The record

| field | type | what |
|---|---|---|
| `seq` | integer | the event's position in its stream (`PARLEY_EVENTS`; `ATS_EVENTS` for `ats.*` records); only grows |
| `type` | string | the persisted event name (`message_sent`), or `ats.<change>` for an ATS event |
| `version` | integer or null | the version of the stored body (null for ATS events, whose JSON has none) |
| `occurred_at` | time | when it happened: Parley's clock when it decided the event; for ATS events, their own `occurred_at` (the time the stream stored them when that is missing) |
| `actor` | `{id, role}` or null | the authenticated principal that caused it; a service acting for a user is the service. Null for ATS events |
| `conversation_id` | UUID | for conversation events, and for ATS events the conversation of their application |
| `user_id` | user id | for user events (instead of `conversation_id`) |
| `data` | object | the event's fields, below |
| `error` | string | instead of `data`, when the stored event could not be decoded |

Conventions: snake_case field names; every field of `data` is always present (`null` when it
has no value); UUIDs are strings; times are RFC 3339, UTC, with milliseconds
(`2026-11-21T09:30:00.000Z`); user ids are the identity provider's strings; roles are
`recruiter`, `applicant`, `service` or `analyst`.

`--since` and `--until` select by the time the log stored an event, which is the moment it
happened for Parley (the append's acknowledgement) and at most milliseconds after
`occurred_at`.

An event that cannot be decoded (a damaged body, a version newer than the `parley` binary)
is still written, with `type` from its headers (or subject) and `error` instead of `data`;
replay counts these and never stops on one. With `--user`, such records are kept, since
whom they concern cannot be known.

### CSV

The columns are fixed: `seq,type,version,occurred_at,actor_id,actor_role,conversation_id,user_id,data`.
`data` holds the record's `data` as JSON (or `{\"error\": \"...\"}`); fields are quoted as
RFC 4180 says when they hold a comma, a quote or a line break; absent values are empty.
";

fn actor_for(name: &str) -> Actor {
    let (id, role) = match name {
        "message_sent" | "typing_changed" | "presence_changed" => ("abe", Role::Applicant),
        "application_status_received" => ("ats-backend", Role::Service),
        "user_profile_updated" => ("ats-backend", Role::Service),
        _ => ("rita", Role::Recruiter),
    };
    Actor {
        user_id: UserId::parse(id).expect("a valid sample user id"),
        role,
    }
}

/// The example record of one sample, encoded as `format` by the replay encoder.
fn example(name: &str, version: u32, sample: &Sample, format: Format) -> String {
    let actor = actor_for(name);
    let key = match sample {
        Sample::Event(Event::Conversation(id, _)) => Key::Conversation(*id),
        Sample::Event(Event::User(id, _)) => Key::User(id),
        Sample::Signal(Signal::TypingChanged {
            conversation_id, ..
        }) => Key::Conversation(*conversation_id),
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
    let events: Vec<(&str, u32)> = known_versions()
        .into_iter()
        .filter(|(name, _)| filter::scope_of(name).is_some())
        .collect();
    let signals: Vec<(&str, u32)> = known_versions()
        .into_iter()
        .filter(|(name, _)| filter::scope_of(name).is_none())
        .collect();
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
        Format::Csv => Encoder::new(Format::Csv)
            .write(&mut out, record)
            .map_err(|e| e.to_string()),
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
        .unwrap_or((
            "UNDOCUMENTED: add it to EVENT_DOCS in src/replay/docs.rs.",
            &[],
        ));
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

const ATS_SECTION: &str = "
## ATS events (`--include-ats`)

What the ATS published to `ats.applications.<application_id>.<change>`: `data` is the ATS's
JSON object with its values unchanged, re-encoded on one line with its keys in alphabetical
order (`{event_id, application_id, job_id, job_title, candidate_id, recruiter_id, status,
occurred_at}` by the API contract). `type` is
`ats.submitted`, `ats.status_changed` or `ats.withdrawn`; `version` and `actor` are null;
`conversation_id` is the conversation Parley keeps for the application. While catching up,
replay merges both streams by the time they stored each event. A payload that is not a JSON
object becomes an error record.
";

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
            assert!(
                rendered.contains(&format!("\"type\": \"{name}\"")),
                "{name} has no example"
            );
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
            let mut written: Vec<&str> = json["data"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
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
