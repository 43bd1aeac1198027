//! Erasing a conversation's events for a legal request (`event_log::erase`): the events and
//! attachments of that conversation leave the log, every other event keeps its sequence and
//! bytes, the stream's denials come back, and the rebuilt read models know nothing of it.

use parley::domain::{ConversationId, Role};
use parley::event_log::{EventLog, RawEvent, erase, partition, subjects};
use parley::projections::rebuild;
use serde_json::json;

use crate::harness::TestApp;

async fn all_events(log: &EventLog) -> Vec<RawEvent> {
    let mut reader = log.read(&[], 1, None).await.unwrap();
    let mut events = Vec::new();
    while let Some(event) = reader.next().await {
        events.push(event.unwrap());
    }
    events
}

/// The events of PARLEY_EVENTS_BY_PARTITION, as (original sequence, original subject), once it
/// holds `expected` of them.
async fn partition_copy(js: &async_nats::jetstream::Context, expected: usize) -> Vec<(u64, String)> {
    let mut copy = js.get_stream(subjects::PARTITIONS_STREAM).await.unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let state = loop {
        let state = copy.info().await.unwrap().state.clone();
        if state.messages as usize >= expected || tokio::time::Instant::now() > deadline {
            break state;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let mut events = Vec::new();
    for seq in state.first_sequence..=state.last_sequence {
        if let Ok(stored) = copy.get_raw_message(seq).await {
            events.push((
                partition::original_seq(Some(&stored.headers)).unwrap(),
                partition::original_subject(&stored.subject).unwrap(),
            ));
        }
    }
    events
}

fn of(events: &[RawEvent], conversation: &str) -> Vec<(u64, String, bytes::Bytes)> {
    let prefix = format!("parley.conv.{conversation}.");
    events
        .iter()
        .filter(|e| e.subject.starts_with(&prefix))
        .map(|e| (e.seq, e.subject.clone(), e.payload.clone()))
        .collect()
}

#[tokio::test]
async fn erasing_a_conversation_removes_its_events_and_files_and_keeps_every_other_sequence() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let [a, b, c] = [
        app.create_conversation(&rita, &["abe"]).await,
        app.create_conversation(&rita, &["cy"]).await,
        app.create_conversation(&rita, &["dana"]).await,
    ];
    let (_, upload) = app.upload(&rita, "abe-cv.pdf", b"%PDF-1.7\n% abe's CV\n".to_vec()).await;
    let (status, _) = app
        .post("/api/messages", &rita, json!({"conversation_id": a, "content": "secret salary for abe", "attachment_ids": [upload["id"]]}))
        .await;
    assert_eq!(status, 201);
    for round in 0..3 {
        app.send_message(&rita, &b, &format!("secret plan for cy, part {round}")).await;
        let sent = app.send_message(&rita, &a, &format!("more for abe {round}")).await;
        app.post(
            &format!("/api/messages/{}/reactions", sent["id"].as_str().unwrap()),
            &rita,
            json!({"emoji": "👍"}),
        )
        .await;
        app.send_message(&rita, &c, &format!("dana {round}")).await;
    }
    app.catch_up().await;
    let before = all_events(&app.state.log).await;
    let last_before = app.state.log.last_seq().await.unwrap();
    let kept_b = of(&before, &b);
    let env = app.stop().await;

    let client = async_nats::connect(env.nats_url()).await.unwrap();
    let log = EventLog::new(client);
    let js = log.jetstream();
    let first = erase::erase_conversation(js, &ConversationId::parse(&a).unwrap(), 1).await.unwrap();
    assert_eq!(first.erased_events, of(&before, &a).len() as u64);
    assert_eq!(first.erased_attachments.len(), 1);
    assert_eq!(first.erased_attachments[0].to_string(), upload["id"].as_str().unwrap());
    assert_eq!(first.last_seq, last_before);
    // A second erasure works on a log that has gaps already.
    let second = erase::erase_conversation(js, &ConversationId::parse(&c).unwrap(), 1).await.unwrap();
    assert_eq!(second.erased_events, of(&before, &c).len() as u64);

    let after = all_events(&log).await;
    assert!(of(&after, &a).is_empty() && of(&after, &c).is_empty());
    assert_eq!(of(&after, &b), kept_b, "every kept event has its sequence, subject and bytes");
    assert_eq!(after.len() as u64, second.kept_events);
    let mut stream = js.get_stream(subjects::EVENTS_STREAM).await.unwrap();
    let info = stream.info().await.unwrap();
    assert!(info.config.deny_delete && info.config.deny_purge && info.config.republish.is_some());
    assert_eq!(info.state.last_sequence, last_before);
    assert!(js.get_stream(erase::BACKUP_STREAM).await.is_err(), "the backup is gone");
    let bucket = js.get_object_store(subjects::ATTACHMENTS_BUCKET).await.unwrap();
    assert!(bucket.get(upload["id"].as_str().unwrap()).await.is_err(), "the file is gone");
    // The denial holds again: nobody purges the rebuilt stream by accident.
    assert!(stream.purge().filter(format!("parley.conv.{b}.*")).await.is_err());
    // The projectors' copy was made again from the rebuilt log: the kept events, in order.
    let wanted: Vec<(u64, String)> = after.iter().map(|e| (e.seq, e.subject.clone())).collect();
    assert_eq!(partition_copy(js, wanted.len()).await, wanted);

    rebuild::rebuild(&log, &env.database_url, true, |_, _| {}).await.unwrap();
    let app = TestApp::spawn_in(env).await;
    let rita = app.token("rita", Role::Recruiter);
    assert_eq!(app.get_json(&format!("/api/conversations/{a}"), &rita).await.0, 404);
    let (_, found) = app.get_json("/api/search?q=secret", &rita).await;
    let texts: Vec<&str> = found["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["message"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts.len(), 3, "{found}");
    assert!(texts.iter().all(|t| t.contains("for cy")), "{texts:?}");
    let (_, history) = app.get_json(&format!("/api/conversations/{b}/messages?after=0"), &rita).await;
    let seqs: Vec<u64> =
        history["messages"].as_array().unwrap().iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    let expected: Vec<u64> =
        kept_b.iter().filter(|(_, s, _)| s.ends_with("message_sent")).map(|(seq, _, _)| *seq).collect();
    assert_eq!(seqs, expected, "history cursors stay valid");
    let next = app.send_message(&rita, &b, "after the erasure").await;
    assert!(next["seq"].as_u64().unwrap() > last_before);
}

/// Two conversations with a few messages each, projected; returns their ids.
async fn two_conversations(app: &TestApp) -> (String, String) {
    let rita = app.token("rita", Role::Recruiter);
    let a = app.create_conversation(&rita, &["abe"]).await;
    let b = app.create_conversation(&rita, &["cy"]).await;
    for round in 0..3 {
        app.send_message(&rita, &a, &format!("for abe {round}")).await;
        app.send_message(&rita, &b, &format!("for cy {round}")).await;
    }
    app.catch_up().await;
    (a, b)
}

#[tokio::test]
async fn an_erasure_interrupted_after_the_log_was_deleted_resumes_from_the_backup() {
    let app = TestApp::spawn().await;
    let (a, b) = two_conversations(&app).await;
    let before = all_events(&app.state.log).await;
    let env = app.stop().await;
    let log = EventLog::new(async_nats::connect(env.nats_url()).await.unwrap());
    let js = log.jetstream();
    // What a run leaves when it stops right after deleting the log: a complete mirror only.
    let mut backup = js
        .create_stream(async_nats::jetstream::stream::Config {
            name: erase::BACKUP_STREAM.into(),
            mirror: Some(async_nats::jetstream::stream::Source {
                name: subjects::EVENTS_STREAM.into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    while backup.info().await.unwrap().state.messages < before.len() as u64 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    js.delete_stream(subjects::EVENTS_STREAM).await.unwrap();

    let erasure = erase::erase_conversation(js, &ConversationId::parse(&a).unwrap(), 1).await.unwrap();
    assert_eq!(erasure.erased_events, of(&before, &a).len() as u64);
    let after = all_events(&log).await;
    assert_eq!(of(&after, &b), of(&before, &b));
    assert!(of(&after, &a).is_empty());
}

#[tokio::test]
async fn the_erase_command_says_what_it_would_do_then_erases_and_rebuilds() {
    let app = TestApp::spawn().await;
    let (a, b) = two_conversations(&app).await;
    let events_of_a = of(&all_events(&app.state.log).await, &a).len();
    let run = |env: &crate::harness::TestEnv, args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_parley"))
            .args(["events", "erase-conversation"])
            .args(args)
            .env("NATS_URL", env.nats_url())
            .env("DATABASE_URL", &env.database_url)
            .output()
            .expect("running parley")
    };
    // Refused while an instance runs, and nothing touched.
    let refused = run(&app.env, &[&a, "--yes"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && stderr.contains("1 `parley serve` instance(s)"), "{stderr}");
    assert_eq!(of(&all_events(&app.state.log).await, &a).len(), events_of_a);
    let env = app.stop().await;
    let parley = |args: &[&str]| {
        let output = run(&env, args);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    let dry = parley(&[&a]);
    assert!(dry.contains(&format!("has {events_of_a} events")), "{dry}");
    let log = EventLog::new(async_nats::connect(env.nats_url()).await.unwrap());
    assert_eq!(of(&all_events(&log).await, &a).len(), events_of_a, "a dry run erases nothing");
    let done = parley(&[&a, "--yes"]);
    assert!(done.contains(&format!("erased {events_of_a} events")) && done.contains("swapped in"), "{done}");

    let app = TestApp::spawn_in(env).await;
    let rita = app.token("rita", Role::Recruiter);
    assert_eq!(app.get_json(&format!("/api/conversations/{a}"), &rita).await.0, 404);
    let (_, history) = app.get_json(&format!("/api/conversations/{b}/messages"), &rita).await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 3);
}
