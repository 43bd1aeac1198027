//! Projector partitions (`--projector-partitions 3`): conversations spread over three
//! projectors, each applied by exactly one instance; the read models still equal a rebuild;
//! a write waits for its own conversation's partition only; the count is fixed until a rebuild.

use std::time::Duration;

use parley::config::Config;
use parley::domain::{ConversationId, Role};
use parley::event_log::{partition, subjects};
use parley::projections::{rebuild, schema};
use serde_json::json;
use sqlx::Connection;

use crate::harness::scenario::*;
use crate::harness::{TestApp, TestEnv};
use crate::projections::rich_history;

fn three(config: &mut Config) {
    config.projector_partitions = 3;
}

async fn checkpoints(db: &sqlx::PgPool) -> Vec<(i32, i64)> {
    sqlx::query_as("SELECT partition, last_seq FROM parley.projector_checkpoints ORDER BY partition")
        .fetch_all(db)
        .await
        .unwrap()
}

#[tokio::test]
async fn three_partitions_on_two_instances_build_exactly_what_a_rebuild_builds() {
    let app = TestApp::spawn_with(TestEnv::start().await, three).await;
    let peer = app.peer(three).await;
    let mut conversations = Vec::new();
    for _ in 0..4 {
        conversations.extend(rich_history(&app).await);
    }
    let used: std::collections::BTreeSet<u32> =
        conversations.iter().map(|c| partition::of_conversation(c, 3)).collect();
    assert!(used.len() > 1, "the history spans several partitions: {used:?}");
    app.catch_up().await;
    peer.catch_up().await;
    let tip = app.state.log.last_seq().await.unwrap() as i64;
    // Every partition has read the whole log, whichever instance applies it.
    assert_eq!(checkpoints(&app.state.db).await, vec![(0, tip), (1, tip), (2, tip)]);
    let url = app.env.database_url.clone();
    rebuild::rebuild(&app.state.log, &url, false, |_, _| {}).await.unwrap();
    let live = snapshot(&app.state.db, schema::SCHEMA).await;
    assert!(live["messages"].len() > 100);
    assert_same(&live, &snapshot(&app.state.db, schema::REBUILD_SCHEMA).await);
    assert_eq!(unread_mismatches(&app.state.db).await, vec![]);

    // Swapped in while both instances project, then more history: still exact.
    rebuild::rebuild(&app.state.log, &url, true, |_, _| {}).await.unwrap();
    rich_history(&app).await;
    app.catch_up().await;
    rebuild::rebuild(&app.state.log, &url, false, |_, _| {}).await.unwrap();
    assert_same(
        &snapshot(&app.state.db, schema::SCHEMA).await,
        &snapshot(&app.state.db, schema::REBUILD_SCHEMA).await,
    );
    drop(peer);
}

#[tokio::test]
async fn each_partition_is_delivered_its_own_events_only_and_still_reaches_the_tip() {
    let app = TestApp::spawn_with(TestEnv::start().await, three).await;
    let mut used = std::collections::BTreeSet::new();
    for round in 0.. {
        if used.len() == 3 {
            break;
        }
        assert!(round < 30, "30 rounds of conversations all hashed to {used:?}");
        used.extend(rich_history(&app).await.iter().map(|c| partition::of_conversation(c, 3)));
    }
    app.catch_up().await;
    // How many events of the log each partition owns.
    let mut owned = [0u64; 3];
    let tip = app.state.log.last_seq().await.unwrap();
    let mut reader = app.state.log.read(&[], 1, None).await.unwrap();
    while let Some(raw) = reader.next().await {
        owned[partition::of_subject(&raw.unwrap().subject, 3) as usize] += 1;
    }
    assert!(owned.iter().all(|n| *n > 0), "every partition owns events: {owned:?}");
    let copy = app.state.log.jetstream().get_stream(subjects::PARTITIONS_STREAM).await.unwrap();
    for (p, own) in owned.iter().enumerate() {
        // Created once at start, before any event: what it delivered is what it was given.
        let mut consumer: async_nats::jetstream::consumer::PullConsumer =
            copy.get_consumer(&format!("projector_read_models_p{p}")).await.unwrap();
        let info = consumer.info().await.unwrap();
        assert_eq!(info.delivered.consumer_sequence, *own, "partition {p} was delivered only its own");
        assert_eq!(info.num_ack_pending, 0);
    }
    // A partition whose last event is older than the tip still moved its checkpoint there.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while checkpoints(&app.state.db).await != vec![(0, tip as i64), (1, tip as i64), (2, tip as i64)] {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?} did not reach {tip}",
            checkpoints(&app.state.db).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_write_waits_for_its_own_partition_and_a_stalled_partition_stalls_no_other() {
    let app = TestApp::spawn_with(TestEnv::start().await, |config| {
        three(config);
        config.write_wait = Duration::from_millis(500);
    })
    .await;
    let rita = app.token("rita", Role::Recruiter);
    // Conversations until one belongs to partition 1 and one to partition 2.
    let (mut moving, mut stalled) = (None, None);
    while moving.is_none() || stalled.is_none() {
        let id = app.create_conversation(&rita, &["abe"]).await;
        match partition::of_conversation(&ConversationId::parse(&id).unwrap(), 3) {
            1 => moving = Some(id),
            2 => stalled = Some(id),
            _ => {}
        }
    }
    let (moving, stalled) = (moving.unwrap(), stalled.unwrap());
    // Every batch of partition 2 takes this lock in its transaction: partition 2 stalls.
    let mut blocker = sqlx::PgConnection::connect(&app.env.database_url).await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(parley::projections::checkpoint::lock_key(2))
        .execute(&mut blocker)
        .await
        .unwrap();
    let send = |id: &str, text: &str| json!({"conversation_id": id, "content": text});
    let (status, body) = app.post("/api/messages", &rita, send(&stalled, "waits")).await;
    assert_eq!(status, 202, "partition 2 is stalled, so the write is not visible yet: {body}");
    let seq = body["seq"].as_u64().unwrap();
    let (status, body) = app.post("/api/messages", &rita, send(&moving, "visible at once")).await;
    assert_eq!(status, 201, "answered once its own partition applied it, stalled or not: {body}");

    blocker.close().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (status, history) = app.get_json(&format!("/api/conversations/{stalled}/messages"), &rita).await;
        if status == 200 && history["messages"][0]["seq"] == seq {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "partition 2 did not resume: {history}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_instance_with_another_partition_count_is_refused_until_a_rebuild_changes_it() {
    let app = TestApp::spawn_with(TestEnv::start().await, three).await;
    rich_history(&app).await;
    app.catch_up().await;
    let env = app.stop().await;
    let mut config = Config::for_tests(env.nats_url(), env.database_url.clone(), env.dir.path().join("data"));
    config.auth.jwt_secret = Some(crate::harness::app::TEST_JWT_SECRET.into());
    config.projector_partitions = 2;
    let refused = parley::startup::Application::build(config).await.err().expect("refused");
    let message = format!("{refused:#}");
    assert!(message.contains("built with 3") && message.contains("--partitions 2"), "{message}");

    let log = parley::event_log::EventLog::new(async_nats::connect(env.nats_url()).await.unwrap());
    rebuild::rebuild_with(&log, &env.database_url, true, Some(2), |_, _| {}).await.unwrap();
    let app = TestApp::spawn_with(env, |config| config.projector_partitions = 2).await;
    rich_history(&app).await;
    app.catch_up().await;
    let tip = app.state.log.last_seq().await.unwrap() as i64;
    assert_eq!(checkpoints(&app.state.db).await, vec![(0, tip), (1, tip)]);
    rebuild::rebuild(&app.state.log, &app.env.database_url, false, |_, _| {}).await.unwrap();
    assert_same(
        &snapshot(&app.state.db, schema::SCHEMA).await,
        &snapshot(&app.state.db, schema::REBUILD_SCHEMA).await,
    );
}

#[tokio::test]
async fn a_deleted_copy_is_made_again_and_every_partition_goes_on() {
    let app = TestApp::spawn_with(TestEnv::start().await, three).await;
    rich_history(&app).await;
    app.catch_up().await;
    app.state.log.jetstream().delete_stream(subjects::PARTITIONS_STREAM).await.unwrap();
    let rita = app.token("rita", Role::Recruiter);
    for n in 0..6 {
        let conversation = app.create_conversation(&rita, &["abe"]).await;
        app.send_message(&rita, &conversation, &format!("after the copy was deleted, {n}")).await;
    }
    app.catch_up().await;
    let tip = app.state.log.last_seq().await.unwrap() as i64;
    assert_eq!(checkpoints(&app.state.db).await, vec![(0, tip), (1, tip), (2, tip)]);
    let url = app.env.database_url.clone();
    let differences =
        parley::projections::verify::compare_with_rebuild(&app.state.log, &app.state.db, &url).await.unwrap();
    assert_eq!(differences, Vec::<String>::new());
}
