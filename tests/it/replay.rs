//! `parley replay` against a real nats-server: every event in order, the filters, error
//! records and the ATS merge. Follow mode and the binary are in `replay_follow.rs`.

use std::time::Duration;

use chrono::Utc;
use parley::domain::{
    Actor, ConversationEvent, ConversationId, Envelope, Event, EventId, Role, UserEvent, UserId,
};
use parley::event_log::streams;
use parley::event_log::{EventLog, Expectation, subjects, wire};
use parley::replay::{self, Options, Progress, Summary};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::harness::TestEnv;

pub async fn log_for(url: String) -> EventLog {
    let client = async_nats::connect(url).await.expect("connecting to NATS");
    let log = EventLog::new(client);
    streams::apply(log.jetstream(), 1).await.expect("applying streams");
    log
}

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

/// Appends one conversation event by `actor` and returns its sequence.
pub async fn append(log: &EventLog, conv: ConversationId, actor: &str, event: ConversationEvent) -> u64 {
    let envelope = Envelope {
        event_id: EventId::new(),
        occurred_at: Utc::now(),
        actor: Actor { user_id: user(actor), role: Role::Recruiter },
        event: Event::Conversation(conv, event),
    };
    log.append(
        &subjects::conversation_filter(&conv),
        &[envelope],
        Expectation::Any,
        &EventId::new().to_string(),
    )
    .await
    .expect("appending")
    .first_seq
}

pub fn read_by(reader: &str, up_to_seq: u64) -> ConversationEvent {
    ConversationEvent::MessagesRead { reader_id: user(reader), up_to_seq }
}

fn removed(who: &str) -> ConversationEvent {
    ConversationEvent::ParticipantRemoved { user_id: user(who) }
}

/// Runs a replay to its end and returns its records as JSON values.
pub async fn replay_json(log: &EventLog, options: Options) -> (Vec<Value>, Summary) {
    let mut out = Vec::new();
    let summary =
        replay::run(log.jetstream(), &options, &mut out, &Progress::default(), &CancellationToken::new())
            .await
            .expect("replaying");
    let records = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is one JSON object"))
        .collect();
    (records, summary)
}

fn seqs(records: &[Value]) -> Vec<u64> {
    records.iter().map(|r| r["seq"].as_u64().unwrap()).collect()
}

#[tokio::test]
async fn every_event_is_written_in_order_with_its_envelope_and_data() {
    let env = TestEnv::start().await;
    let log = log_for(env.nats_url()).await;
    let (a, b) = (ConversationId::new(), ConversationId::new());
    let first = append(&log, a, "rita", read_by("abe", 1)).await;
    let second = append(&log, b, "cy", removed("cy")).await;
    let profile = Envelope {
        event_id: EventId::new(),
        occurred_at: Utc::now(),
        actor: Actor { user_id: user("ats-backend"), role: Role::Service },
        event: Event::User(
            user("jane.doe@acme.io"),
            UserEvent::ProfileUpdated { name: Some("Jane".into()), role: None },
        ),
    };
    log.append(&subjects::user_filter(&user("jane.doe@acme.io")), &[profile], Expectation::Any, "p1")
        .await
        .unwrap();

    let (records, summary) = replay_json(&log, Options::default()).await;
    assert_eq!(summary.written, 3);
    assert_eq!(summary.errors, 0);
    assert_eq!(seqs(&records), [first, second, second + 1]);
    assert_eq!(records[0]["type"], "messages_read");
    assert_eq!(records[0]["version"], 1);
    assert_eq!(records[0]["conversation_id"], a.to_string());
    assert_eq!(records[0]["actor"]["id"], "rita");
    assert_eq!(records[0]["data"]["reader_id"], "abe");
    assert_eq!(records[0]["data"]["up_to_seq"], 1);
    let occurred = records[0]["occurred_at"].as_str().unwrap();
    assert_eq!(occurred.len(), "2026-11-21T09:30:00.000Z".len(), "{occurred}");
    assert_eq!(records[1]["data"]["user_id"], "cy");
    assert_eq!(records[2]["user_id"], "jane.doe@acme.io");
    assert!(records[2].get("conversation_id").is_none());
    assert_eq!(records[2]["data"]["name"], "Jane");
}

#[tokio::test]
async fn filters_select_by_conversation_type_sequence_and_user() {
    let env = TestEnv::start().await;
    let log = log_for(env.nats_url()).await;
    let (a, b) = (ConversationId::new(), ConversationId::new());
    let a1 = append(&log, a, "rita", read_by("abe", 1)).await;
    let b1 = append(&log, b, "rita", read_by("abe", 2)).await;
    let a2 = append(&log, a, "cy", removed("cy")).await;
    let a3 = append(&log, a, "rita", read_by("dan", 3)).await;

    let only = |f: fn(&mut Options)| {
        let mut options = Options::default();
        f(&mut options);
        options
    };
    let (records, _) = replay_json(&log, Options { conversation: Some(a), ..only(|_| {}) }).await;
    assert_eq!(seqs(&records), [a1, a2, a3]);
    let (records, _) = replay_json(&log, only(|o| o.types = vec!["messages_read".into()])).await;
    assert_eq!(seqs(&records), [a1, b1, a3]);
    let options = Options {
        conversation: Some(a),
        types: vec!["messages_read".into(), "participant_removed".into()],
        from_seq: Some(a2),
        to_seq: Some(a2),
        ..Options::default()
    };
    assert_eq!(seqs(&replay_json(&log, options).await.0), [a2]);
    // dan is named in the data of a3; cy is the actor of a2 and named in its data.
    let (records, _) = replay_json(&log, only(|o| o.user = Some(user("dan")))).await;
    assert_eq!(seqs(&records), [a3]);
    let (records, _) = replay_json(&log, only(|o| o.user = Some(user("cy")))).await;
    assert_eq!(seqs(&records), [a2]);
    let (records, _) = replay_json(&log, only(|o| o.from_seq = Some(3))).await;
    assert_eq!(seqs(&records), [a2, a3]);
    let unknown = replay::run(
        log.jetstream(),
        &only(|o| o.types = vec!["message_send".into()]),
        Vec::new(),
        &Progress::default(),
        &CancellationToken::new(),
    )
    .await;
    assert!(matches!(unknown, Err(replay::ReplayError::Options(_))));
}

#[tokio::test]
async fn since_and_until_select_by_the_time_the_log_stored_each_event() {
    let env = TestEnv::start().await;
    let log = log_for(env.nats_url()).await;
    let conv = ConversationId::new();
    append(&log, conv, "rita", read_by("abe", 1)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let since = Utc::now();
    let middle = append(&log, conv, "rita", read_by("abe", 2)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let until = Utc::now();
    append(&log, conv, "rita", read_by("abe", 3)).await;

    let options = Options { since: Some(since), until: Some(until), ..Options::default() };
    assert_eq!(seqs(&replay_json(&log, options).await.0), [middle]);
    let options = Options { since: Some(since), from_seq: Some(1), ..Options::default() };
    assert_eq!(seqs(&replay_json(&log, options).await.0), [middle, middle + 1]);
}

#[tokio::test]
async fn an_undecodable_event_becomes_an_error_record_and_replay_goes_on() {
    let env = TestEnv::start().await;
    let log = log_for(env.nats_url()).await;
    let conv = ConversationId::new();
    let before = append(&log, conv, "rita", read_by("abe", 1)).await;
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(wire::HEADER_TYPE, "message_sent");
    headers.insert(wire::HEADER_VERSION, "1");
    let ack = log
        .jetstream()
        .publish_with_headers(
            subjects::conversation(&conv, "message_sent"),
            headers,
            vec![0xff, 0xff, 0xff].into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    let after = append(&log, conv, "rita", read_by("abe", 2)).await;

    let (records, summary) = replay_json(&log, Options::default()).await;
    assert_eq!(seqs(&records), [before, ack.sequence, after]);
    assert_eq!(summary.errors, 1);
    let bad = &records[1];
    assert_eq!(bad["type"], "message_sent");
    assert_eq!(bad["conversation_id"], conv.to_string());
    assert!(bad.get("data").is_none());
    assert!(bad["error"].as_str().unwrap().contains(wire::HEADER_EVENT_ID), "{bad}");
}

#[tokio::test]
async fn ats_events_are_merged_by_time_and_linked_to_their_conversation() {
    let env = TestEnv::start().await;
    let log = log_for(env.nats_url()).await;
    let conv = ConversationId::new();
    append(&log, conv, "rita", read_by("abe", 1)).await;
    let payload = serde_json::json!({
        "event_id": "e1", "application_id": "a1", "candidate_id": "abe",
        "recruiter_id": "rita", "status": "submitted", "occurred_at": "2026-11-21T09:30:00Z"
    });
    log.jetstream()
        .publish("ats.applications.a1.submitted", payload.to_string().into())
        .await
        .unwrap()
        .await
        .unwrap();
    append(&log, conv, "rita", read_by("abe", 2)).await;

    let options = Options { include_ats: true, ..Options::default() };
    let (records, summary) = replay_json(&log, options).await;
    let types: Vec<&str> = records.iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["messages_read", "ats.submitted", "messages_read"]);
    assert_eq!(summary.written, 3);
    let ats = &records[1];
    assert_eq!(ats["seq"], 1);
    assert!(ats["actor"].is_null() && ats["version"].is_null());
    let application = parley::domain::ExternalId::parse("a1").unwrap();
    assert_eq!(ats["conversation_id"], ConversationId::for_application(&application).to_string());
    assert_eq!(ats["data"]["status"], "submitted");

    let only_ats = Options {
        include_ats: true,
        types: vec!["ats.submitted".into()],
        user: Some(user("abe")),
        ..Options::default()
    };
    assert_eq!(replay_json(&log, only_ats).await.0.len(), 1);
}

#[tokio::test]
async fn the_progress_total_is_what_was_pending_within_the_range() {
    let env = TestEnv::start().await;
    let log = log_for(env.nats_url()).await;
    let conv = ConversationId::new();
    for n in 1..=4 {
        append(&log, conv, "rita", read_by("abe", n)).await;
    }
    for (from_seq, to_seq, total) in [(None, None, 4), (Some(2), Some(3), 2), (Some(3), None, 2)] {
        let progress = Progress::default();
        let options = Options { from_seq, to_seq, ..Options::default() };
        let stop = CancellationToken::new();
        replay::run(log.jetstream(), &options, Vec::new(), &progress, &stop).await.unwrap();
        assert_eq!(progress.total(), total, "{from_seq:?}..{to_seq:?}");
        assert_eq!(progress.read(), total);
        assert!(progress.caught_up());
    }
}
