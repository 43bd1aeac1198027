//! What a session does with clients that misbehave or fall behind: error frames for bad
//! frames, 1009 for oversized ones, 1013 for a client that cannot keep up (without slowing
//! anyone else), and dropping peers that went silent.

use std::time::Duration;

use parley::domain::{ConversationEvent, ConversationId, MessageId, MessageKind, Role};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::harness::TestApp;
use crate::harness::scenario::{actor, user};
use crate::harness::ws::Connect;

#[tokio::test]
async fn each_malformed_frame_gets_its_error_and_the_session_stays_open() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let mut ws = app.ws(&rita, None).await;
    let cases = [
        (Message::text("{not json"), "malformed"),
        (Message::text("[1, 2]"), "malformed"),
        (Message::text(r#"{"kind": "ping"}"#), "malformed"),
        (Message::text(r#"{"type": "dance"}"#), "unknown_type"),
        (Message::text(r#"{"type": "typing", "conversation_id": "nope", "is_typing": true}"#), "invalid"),
        (Message::text(r#"{"type": "read"}"#), "invalid"),
        (Message::text(r#"{"type": "ping", "extra": 1}"#), "invalid"),
        (Message::binary(vec![1u8, 2, 3]), "binary_not_supported"),
    ];
    for (frame, code) in cases {
        ws.send(frame).await;
        let error = ws.next_frame().await;
        assert_eq!((&error["type"], &error["code"]), (&json!("error"), &json!(code)), "{error}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{error}");
    }
    ws.send_json(json!({"type": "ping"})).await;
    let pong = ws.next_frame().await;
    assert_eq!(pong["type"], "pong");
    assert!(pong["server_time"].is_string(), "{pong}");
}

#[tokio::test]
async fn an_oversized_frame_closes_the_session_with_1009() {
    let app = TestApp::spawn_with(crate::harness::TestEnv::start().await, |config| {
        config.live.ws_max_message_bytes = 4096;
    })
    .await;
    let rita = app.token("rita", Role::Recruiter);
    let mut ws = app.ws(&rita, None).await;
    ws.send_json(json!({"type": "ping", "padding": "x".repeat(3000)})).await;
    assert_eq!(ws.next_frame().await["code"], "invalid", "under the limit: read and refused as a frame");
    ws.send_json(json!({"type": "ping", "padding": "x".repeat(5000)})).await;
    let closed = ws.closed().await;
    assert_eq!(closed.code, Some(1009), "{closed:?}");
}

#[tokio::test]
async fn a_client_that_never_reads_is_closed_with_1013_while_others_keep_receiving() {
    let app = TestApp::spawn_with(crate::harness::TestEnv::start().await, |config| {
        config.live.ws_send_queue = 8;
    })
    .await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let mut reader = app.ws(&abe, None).await;
    let mut sleeper = app
        .ws_connect(Connect {
            path: "/api/ws",
            bearer: Some(&abe),
            recv_buffer: Some(4096),
            ..Connect::default()
        })
        .await
        .unwrap();
    let conversation = ConversationId(uuid::Uuid::parse_str(&id).unwrap());
    let big = "x".repeat(16_000);
    // More than every buffer between the server and the sleeping client can hold.
    let count = 500;
    let first = app.state.log.last_seq().await.unwrap() + 1;
    let log = app.state.log.clone();
    let appending = tokio::spawn(async move {
        let scope = parley::event_log::subjects::conversation_filter(&conversation);
        for _ in 0..count {
            let event = ConversationEvent::MessageSent {
                message_id: MessageId::new(),
                sender_id: user("rita"),
                sender_role: Role::Recruiter,
                kind: MessageKind::Text,
                content: big.clone(),
                reply_to: None,
                attachments: vec![],
                client_msg_id: None,
            };
            let envelope = parley::domain::Envelope {
                event_id: parley::domain::EventId::new(),
                occurred_at: chrono::Utc::now(),
                actor: actor("rita", Role::Recruiter),
                event: parley::domain::Event::Conversation(conversation, event),
            };
            let dedup = uuid::Uuid::new_v4().to_string();
            log.append(&scope, &[envelope], parley::event_log::Expectation::Any, &dedup).await.unwrap();
        }
    });
    let last = first + count as u64 - 1;
    reader.next_frame_where(|f| f["seq"].as_u64() == Some(last)).await;
    appending.await.unwrap();
    let received = reader.frames.iter().filter(|f| f["type"] == "message.sent").count();
    assert_eq!(received, count, "the reading client got every message");
    let closed = sleeper.closed().await;
    assert_eq!(closed.code, Some(1013), "{closed:?}");
    assert_eq!(closed.reason, "cannot keep up; resume with since");
    let got = sleeper.frames.iter().filter(|f| f["type"] == "message.sent").count();
    assert!(got < count, "the sleeper was cut off before the end ({got} of {count})");
}

#[tokio::test]
async fn a_silent_peer_is_dropped_and_its_user_goes_offline() {
    let app = TestApp::spawn_with(crate::harness::TestEnv::start().await, |config| {
        config.live.ws_ping_interval = Duration::from_millis(200);
        config.live.ws_peer_timeout = Duration::from_secs(1);
    })
    .await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    app.create_conversation(&rita, &["abe"]).await;
    let mut rita_ws = app.ws(&rita, None).await;
    // Abe's client neither reads nor answers pings: to the server it is a dead peer.
    let silent = app.ws(&abe, None).await;
    rita_ws.next_frame_where(|f| f["type"] == "presence" && f["status"] == "online").await;
    let started = tokio::time::Instant::now();
    let offline = rita_ws.next_frame_where(|f| f["type"] == "presence" && f["status"] == "offline").await;
    assert_eq!(offline["user_id"], "abe");
    assert!(started.elapsed() >= Duration::from_millis(500), "dropped for silence, not at once");
    drop(silent);

    // Rita answers pings (her client reads), so she stays.
    rita_ws.send_json(json!({"type": "ping"})).await;
    rita_ws.next_frame_of_type("pong").await;
}

#[tokio::test]
async fn a_killed_client_takes_its_user_offline() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    app.create_conversation(&rita, &["abe"]).await;
    let mut rita_ws = app.ws(&rita, None).await;
    let abe_ws = app.ws(&abe, None).await;
    rita_ws.next_frame_where(|f| f["type"] == "presence" && f["status"] == "online").await;
    abe_ws.kill();
    let offline = rita_ws.next_frame_where(|f| f["type"] == "presence" && f["status"] == "offline").await;
    assert_eq!(offline["user_id"], "abe");
    assert!(offline["last_seen"].is_string(), "{offline}");
}
