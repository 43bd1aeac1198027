//! The prose of `docs/events.md`: what each event and each of its `data` fields means. The
//! examples are not here: `docs.rs` renders them from the code.

/// A `data` field: its name, its type, what it holds.
pub type FieldDoc = (&'static str, &'static str, &'static str);

/// What each event means and what each of its `data` fields holds, in encoding order.
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
            ("participants", "array of `{user_id, role}`", "who takes part from the start, with their roles"),
            ("application_id", "string or null", "the ATS application it belongs to"),
            ("job_id", "string or null", "the ATS job it belongs to"),
            ("created_by", "user id", "who asked for it (a service may create conversations for others)"),
        ],
    ),
    (
        "participant_added",
        "Someone joined a conversation.",
        &[("user_id", "user id", "who joined"), ("role", "role", "their role in the conversation")],
    ),
    (
        "participant_removed",
        "Someone left, or was removed from, a conversation.",
        &[("user_id", "user id", "who left; the actor is who removed them (the same user when they left)")],
    ),
    (
        "message_sent",
        "A message was posted.",
        &[
            ("message_id", "UUID", "the message"),
            ("sender_id", "user id", "who sent it (for `system` messages, the service that caused it)"),
            ("sender_role", "role", "the sender's role"),
            ("kind", "`text`, `file` or `system`", "`system` messages record ATS updates"),
            ("content", "string", "the text, trimmed"),
            ("reply_to", "UUID or null", "the message it answers, in the same conversation"),
            ("attachments", "array of `{id, name, content_type, size}`", "uploaded files; `size` in bytes"),
            ("client_msg_id", "string or null", "the sender's idempotency key"),
        ],
    ),
    (
        "message_edited",
        "A message's content was replaced by its sender.",
        &[("message_id", "UUID", "the message"), ("content", "string", "the new content")],
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
            ("up_to_seq", "integer", "every event of the conversation up to this `seq` is read"),
        ],
    ),
    (
        "message_delivered",
        "Events up to a position reached one of the participant's devices.",
        &[
            ("recipient_id", "user id", "who received them"),
            ("up_to_seq", "integer", "every event of the conversation up to this `seq` is delivered"),
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
            ("ats_event_id", "string", "the ATS's `event_id` (replays of it have no further effect)"),
            ("change", "`submitted`, `status_changed` or `withdrawn`", "what happened to the application"),
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
            ("name", "string or null", "the new display name; null: unchanged"),
            ("role", "role or null", "the new role (set by a service only); null: unchanged"),
        ],
    ),
    (
        "typing_changed",
        "A participant started or stopped typing.",
        &[
            ("user_id", "user id", "who"),
            ("is_typing", "boolean", "expires by itself after 10 s without renewal"),
        ],
    ),
    (
        "presence_changed",
        "A user came online or went offline.",
        &[
            ("online", "boolean", "whether any of their sessions is connected"),
            ("last_seen", "time", "when they were last connected"),
        ],
    ),
];

pub const HEADER: &str = "<!-- Generated from the code by parley::replay::docs::render: do not edit.
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

pub const ATS_SECTION: &str = "
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
