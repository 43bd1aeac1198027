//! The event log against a real nats-server: idempotent appends, expected sequences, atomic
//! batches, reading back, republishing, and stream setup.

use chrono::Utc;
use futures::StreamExt;
use parley::domain::{
    Actor, ConversationEvent, ConversationId, ConversationKind, Envelope, Event, EventId, ParticipantSpec,
    Role, UserId,
};
use parley::event_log::streams::{self, Applied, StreamSetupError};
use parley::event_log::{AppendError, EventLog, Expectation, subjects};

use crate::harness::TestEnv;

async fn log_for(env: &TestEnv) -> EventLog {
    let client = async_nats::connect(env.nats_url()).await.expect("connecting to NATS");
    let log = EventLog::new(client);
    streams::apply(log.jetstream(), 1).await.expect("applying streams");
    log
}

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

fn envelope(conversation: ConversationId, event: ConversationEvent) -> Envelope {
    Envelope {
        event_id: EventId::new(),
        occurred_at: Utc::now(),
        actor: Actor { user_id: user("rita"), role: Role::Recruiter },
        event: Event::Conversation(conversation, event),
    }
}

fn created() -> ConversationEvent {
    ConversationEvent::Created {
        title: None,
        kind: ConversationKind::Group,
        participants: vec![
            ParticipantSpec { user_id: user("rita"), role: Role::Recruiter },
            ParticipantSpec { user_id: user("abe"), role: Role::Applicant },
        ],
        application_id: None,
        job_id: None,
        created_by: user("rita"),
    }
}

fn read(reader: u64) -> ConversationEvent {
    ConversationEvent::MessagesRead { reader_id: user("abe"), up_to_seq: reader }
}

#[tokio::test]
async fn a_repeated_msg_id_stores_the_event_once_and_names_the_original() {
    let env = TestEnv::start().await;
    let log = log_for(&env).await;
    let conv = ConversationId::new();
    let scope = subjects::conversation_filter(&conv);
    let event = envelope(conv, created());
    let first = log.append(&scope, std::slice::from_ref(&event), Expectation::Any, "create-1").await.unwrap();
    let again = log.append(&scope, &[envelope(conv, created())], Expectation::Any, "create-1").await.unwrap();
    assert!(!first.duplicate);
    assert!(again.duplicate);
    assert_eq!(again.first_seq, first.first_seq);
    assert_eq!(log.last_seq().await.unwrap(), first.last_seq);
}

#[tokio::test]
async fn an_expectation_that_no_longer_holds_is_a_conflict() {
    let env = TestEnv::start().await;
    let log = log_for(&env).await;
    let conv = ConversationId::new();
    let other = ConversationId::new();
    let scope = subjects::conversation_filter(&conv);
    let created = log.append(&scope, &[envelope(conv, created())], Expectation::Empty, "a").await.unwrap();
    let twice = log.append(&scope, &[envelope(conv, self::created())], Expectation::Empty, "b").await;
    assert!(matches!(twice, Err(AppendError::Conflict(_))), "{twice:?}");

    // Another conversation's events do not move this conversation's sequence.
    let other_scope = subjects::conversation_filter(&other);
    log.append(&other_scope, &[envelope(other, self::created())], Expectation::Empty, "c").await.unwrap();
    let read1 = log
        .append(&scope, &[envelope(conv, read(1))], Expectation::LastSeq(created.last_seq), "d")
        .await
        .unwrap();

    // Every event type of the conversation counts: a stale expectation fails.
    let stale =
        log.append(&scope, &[envelope(conv, read(2))], Expectation::LastSeq(created.last_seq), "e").await;
    assert!(matches!(stale, Err(AppendError::Conflict(_))), "{stale:?}");
    log.append(&scope, &[envelope(conv, read(2))], Expectation::LastSeq(read1.last_seq), "f").await.unwrap();
}

#[tokio::test]
async fn several_events_are_stored_together_or_not_at_all() {
    let env = TestEnv::start().await;
    let log = log_for(&env).await;
    let conv = ConversationId::new();
    let scope = subjects::conversation_filter(&conv);
    let events = [envelope(conv, created()), envelope(conv, read(1)), envelope(conv, read(2))];
    let appended = log.append(&scope, &events, Expectation::Empty, "batch-1").await.unwrap();
    assert_eq!(appended.last_seq - appended.first_seq, 2);

    let before = log.last_seq().await.unwrap();
    let refused = log.append(&scope, &events, Expectation::Empty, "batch-2").await;
    assert!(matches!(refused, Err(AppendError::Conflict(_))), "{refused:?}");
    assert_eq!(log.last_seq().await.unwrap(), before, "a refused batch stored nothing");

    let mut reader = log.read(std::slice::from_ref(&scope), 1, None).await.unwrap();
    let mut seqs = Vec::new();
    while let Some(event) = reader.next().await {
        let event = event.unwrap();
        event.decode().unwrap();
        seqs.push(event.seq);
    }
    assert_eq!(seqs, (appended.first_seq..=appended.last_seq).collect::<Vec<_>>());
}

#[tokio::test]
async fn events_read_back_in_order_within_a_range_and_filter() {
    let env = TestEnv::start().await;
    let log = log_for(&env).await;
    let (a, b) = (ConversationId::new(), ConversationId::new());
    let mut a_seqs = Vec::new();
    for i in 0..10u64 {
        let (conv, scope) = if i % 2 == 0 {
            (a, subjects::conversation_filter(&a))
        } else {
            (b, subjects::conversation_filter(&b))
        };
        let appended =
            log.append(&scope, &[envelope(conv, read(i))], Expectation::Any, &format!("r{i}")).await.unwrap();
        if conv == a {
            a_seqs.push(appended.first_seq);
        }
    }
    let mut reader =
        log.read(&[subjects::conversation_filter(&a)], a_seqs[1], Some(a_seqs[3])).await.unwrap();
    let mut got = Vec::new();
    while let Some(event) = reader.next().await {
        let event = event.unwrap();
        assert_eq!(event.decode().unwrap().event, Event::Conversation(a, read((got.len() as u64 + 1) * 2)));
        got.push(event.seq);
    }
    assert_eq!(got, a_seqs[1..=3].to_vec());

    let mut empty = log.read(&[], 1_000, None).await.unwrap();
    assert!(empty.next().await.is_none());
    assert_eq!(log.get(a_seqs[0]).await.unwrap().unwrap().seq, a_seqs[0]);
    assert!(log.get(9_999).await.unwrap().is_none());
}

#[tokio::test]
async fn stored_events_are_republished_with_their_sequence() {
    let env = TestEnv::start().await;
    let log = log_for(&env).await;
    let mut live = log.client().subscribe(subjects::ALL_LIVE).await.unwrap();
    log.client().flush().await.unwrap();
    let conv = ConversationId::new();
    let appended = log
        .append(&subjects::conversation_filter(&conv), &[envelope(conv, created())], Expectation::Any, "x")
        .await
        .unwrap();
    let message =
        tokio::time::timeout(std::time::Duration::from_secs(5), live.next()).await.unwrap().unwrap();
    let raw = parley::event_log::RawEvent::from_republished(&message).expect("republish headers");
    assert_eq!(raw.seq, appended.first_seq);
    assert_eq!(raw.decode().unwrap().event, Event::Conversation(conv, created()));
}

#[tokio::test]
async fn applying_the_streams_again_changes_nothing() {
    let env = TestEnv::start().await;
    let log = log_for(&env).await;
    let again = streams::apply(log.jetstream(), 1).await.unwrap();
    assert!(again.iter().all(|a| matches!(a, Applied::Unchanged(_))), "{again:?}");
}

#[tokio::test]
async fn a_stream_with_settings_that_cannot_change_stops_setup_with_the_reason() {
    let env = TestEnv::start().await;
    let client = async_nats::connect(env.nats_url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "PARLEY_SIGNALS".into(),
        subjects: vec!["parley.signal.>".into()],
        storage: async_nats::jetstream::stream::StorageType::File,
        ..Default::default()
    })
    .await
    .unwrap();
    let error = streams::apply(&js, 1).await.unwrap_err();
    assert!(matches!(error, StreamSetupError::Incompatible { setting: "storage", .. }), "{error}");
    assert!(error.to_string().contains("PARLEY_SIGNALS"));
}

#[tokio::test]
async fn the_events_stream_refuses_deletes_and_purges() {
    let env = TestEnv::start().await;
    let log = log_for(&env).await;
    let conv = ConversationId::new();
    let appended = log
        .append(&subjects::conversation_filter(&conv), &[envelope(conv, created())], Expectation::Any, "x")
        .await
        .unwrap();
    let stream = log.jetstream().get_stream(subjects::EVENTS_STREAM).await.unwrap();
    assert!(stream.delete_message(appended.first_seq).await.is_err());
    assert!(stream.purge().await.is_err());
    assert_eq!(log.last_seq().await.unwrap(), appended.last_seq);
}

#[tokio::test]
async fn a_projector_finds_its_start_in_the_partitioned_copy_by_original_sequence() {
    let env = TestEnv::start().await;
    let log = log_for(&env).await;
    let js = log.jetstream();
    // A copy that began at the log's 8th event: its sequence k holds the log's k + 7.
    js.delete_stream(subjects::PARTITIONS_STREAM).await.unwrap();
    let conv = ConversationId::new();
    let scope = subjects::conversation_filter(&conv);
    for n in 1..=20u64 {
        let event = if n == 1 { created() } else { read(n) };
        log.append(&scope, &[envelope(conv, event)], Expectation::Any, &format!("e{n}")).await.unwrap();
    }
    let mut copy =
        streams::definitions(1).unwrap().into_iter().find(|c| c.name == subjects::PARTITIONS_STREAM).unwrap();
    copy.sources.as_mut().unwrap()[0].start_sequence = Some(8);
    let mut stream = js.create_stream(copy).await.unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while stream.info().await.unwrap().state.messages < 13 {
        assert!(tokio::time::Instant::now() < deadline, "the copy was not filled");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(log.partition_copy_reached().await.unwrap(), 20);
    for after in 0..=25u64 {
        let expected = (after + 1).saturating_sub(7).clamp(1, 14);
        assert_eq!(log.partition_copy_start(after).await.unwrap(), expected, "the start after {after}");
    }
}

#[tokio::test]
async fn the_partitioned_copy_takes_the_largest_event_the_log_takes() {
    let env = TestEnv::start().await;
    let log = log_for(&env).await;
    let js = log.jetstream();
    let mut events = js.get_stream(subjects::EVENTS_STREAM).await.unwrap();
    let largest = events.info().await.unwrap().config.max_message_size as usize;
    let conv = ConversationId::new();
    // The largest the log stores, with a header as every event has; then a small one.
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Parley-Event-Type", "message_sent");
    let payload = vec![b'x'; largest - 64];
    js.publish_with_headers(subjects::conversation(&conv, "message_sent"), headers, payload.into())
        .await
        .unwrap()
        .await
        .expect("the log stores it");
    js.publish(subjects::conversation(&conv, "message_sent"), "small".into()).await.unwrap().await.unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while log.partition_copy_reached().await.unwrap() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "the copy stopped at the large event");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
