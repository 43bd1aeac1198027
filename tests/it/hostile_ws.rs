//! Hostile WebSocket input: a seeded fuzzer sends random, truncated, binary, ill-typed,
//! out-of-order and flooding frames on one session. The server answers each with a frame
//! from the documented set (never `internal`) or closes with the code RFC 6455 names, and
//! another session on the same conversation receives every message meanwhile.
//! `PARLEY_FUZZ_SEED` replays a run; the seed is printed.

use parley::domain::Role;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

use crate::harness::TestApp;
use crate::harness::ws::WsClient;

/// Error codes of docs/websocket.md a client may be sent for its own frames.
const CODES: &[&str] = &[
    "malformed",
    "unknown_type",
    "invalid",
    "binary_not_supported",
    "not_found",
    "forbidden",
    "conflict",
    "rate_limited",
];
const FRAMES: usize = 400;

/// Reads whatever has arrived.
async fn drain(client: &mut WsClient) {
    while client.try_next_frame(std::time::Duration::from_millis(1)).await.is_some() {}
}

fn seed() -> u64 {
    std::env::var("PARLEY_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_9a7e)
}

/// Ids and sequences the fuzzer aims at: some real, some not.
struct Targets {
    own: String,
    foreign: String,
    message: String,
}

fn any_value(rng: &mut StdRng, targets: &Targets) -> Value {
    match rng.random_range(0..12) {
        0 => json!(targets.own),
        1 => json!(targets.foreign),
        2 => json!(targets.message),
        3 => json!(uuid::Uuid::new_v4()),
        4 => json!(rng.random::<u64>()),
        5 => json!(-rng.random_range(1..1000i64)),
        6 => json!(rng.random::<bool>()),
        7 => Value::Null,
        // Eight fields of at most 7,000 bytes stay under the 64 KiB frame limit.
        8 => json!("x".repeat(rng.random_range(0..7_000))),
        9 => json!([1, "two", null]),
        10 => json!({"nested": {"deeper": [rng.random::<u32>()]}}),
        _ => json!(random_text(rng, 40)),
    }
}

fn random_text(rng: &mut StdRng, max: usize) -> String {
    let len = rng.random_range(0..max);
    (0..len).map(|_| rng.random::<char>()).collect()
}

/// A frame of a known (or unknown) type with a random choice of fields and values.
fn typed_frame(rng: &mut StdRng, targets: &Targets) -> Value {
    let types = ["message.send", "typing", "typing_status", "read", "delivered", "ping", "dance", ""];
    let fields = [
        "conversation_id",
        "content",
        "client_msg_id",
        "reply_to",
        "up_to_seq",
        "message_id",
        "is_typing",
        "kind",
    ];
    let mut frame = serde_json::Map::new();
    frame.insert("type".into(), json!(types[rng.random_range(0..types.len())]));
    for field in fields {
        if rng.random_bool(0.6) {
            frame.insert(field.into(), any_value(rng, targets));
        }
    }
    if rng.random_bool(0.1) {
        frame.insert("unexpected".into(), json!(1));
    }
    Value::Object(frame)
}

/// Frames in an order no client would send: acting before anything exists, in conversations
/// the user is not part of, on messages of other conversations, beyond the log's end.
fn out_of_order(rng: &mut StdRng, targets: &Targets) -> Value {
    match rng.random_range(0..5) {
        0 => json!({"type": "read", "conversation_id": targets.own, "up_to_seq": u64::MAX}),
        1 => json!({"type": "delivered", "conversation_id": targets.foreign, "up_to_seq": 1}),
        2 => json!({"type": "message.send", "conversation_id": targets.foreign, "content": "let me in",
                    "client_msg_id": format!("oo-{}", rng.random::<u32>())}),
        3 => json!({"type": "message.send", "conversation_id": targets.own, "content": "reply",
                    "reply_to": uuid::Uuid::new_v4(), "client_msg_id": format!("oo-{}", rng.random::<u32>())}),
        _ => json!({"type": "read", "message_id": uuid::Uuid::new_v4()}),
    }
}

fn fuzz_frame(rng: &mut StdRng, targets: &Targets) -> Vec<Message> {
    match rng.random_range(0..9) {
        0 => vec![Message::text(random_text(rng, 300))],
        1 => {
            let whole = typed_frame(rng, targets).to_string();
            let cut = rng.random_range(0..whole.len().max(1));
            let cut = (0..=cut).rev().find(|i| whole.is_char_boundary(*i)).unwrap_or(0);
            vec![Message::text(&whole[..cut])]
        }
        2 => vec![Message::binary(
            (0..rng.random_range(0..500)).map(|_| rng.random::<u8>()).collect::<Vec<_>>(),
        )],
        3 | 4 => vec![Message::text(typed_frame(rng, targets).to_string())],
        5 => vec![Message::text(out_of_order(rng, targets).to_string())],
        6 => {
            let depth = rng.random_range(1..5000);
            let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            vec![Message::text(
                [nested, "42".into(), "null".into(), r#""typing""#.into()][rng.random_range(0..4)].clone(),
            )]
        }
        7 => vec![Message::text(
            json!({"type": "message.send", "conversation_id": targets.own, "content": format!("hello {}", rng.random::<u32>()),
                   "client_msg_id": format!("ok-{}", rng.random::<u64>())})
            .to_string(),
        )],
        _ => (0..20).map(|_| Message::text(r#"{"type":"ping"}"#)).collect(),
    }
}

#[tokio::test]
async fn fuzzed_frames_get_documented_answers_and_another_session_keeps_receiving() {
    let seed = seed();
    println!("PARLEY_FUZZ_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let cy = app.token("cy", Role::Applicant);
    let own = app.create_conversation(&rita, &["abe", "cy"]).await;
    let foreign = app.create_conversation(&rita, &["cy"]).await;
    let first = app.send_message(&cy, &foreign, "elsewhere").await;
    let targets = Targets { own: own.clone(), foreign, message: first["id"].as_str().unwrap().to_owned() };
    let mut observer = app.ws(&rita, None).await;
    let mut fuzzer = app.ws(&abe, None).await;

    let mut expected = Vec::new();
    let mut sent = 0;
    for round in 0..FRAMES {
        for message in fuzz_frame(&mut rng, &targets) {
            fuzzer.send(message).await;
            sent += 1;
        }
        if round % 40 == 0 {
            let message = app.send_message(&cy, &own, &format!("round {round}")).await;
            expected.push(message["seq"].as_u64().unwrap());
        }
        // Both clients read as they go, as real ones do (a client that never reads is closed
        // with 1013: live_limits tests that).
        drain(&mut fuzzer).await;
        drain(&mut observer).await;
    }
    // Frames are answered in order: once this one's answer arrives, every earlier one has.
    fuzzer.send_json(json!({"type": "message.send", "client_msg_id": "end-of-fuzz"})).await;
    fuzzer.next_frame_where(|f| f["client_msg_id"] == "end-of-fuzz").await;
    let errors: Vec<&Value> = fuzzer.frames.iter().filter(|f| f["type"] == "error").collect();
    for error in &errors {
        let code = error["code"].as_str().unwrap_or_default();
        assert!(CODES.contains(&code), "undocumented or internal error: {error}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{error}");
    }
    let by_code = |code: &str| errors.iter().filter(|e| e["code"] == code).count();
    println!(
        "fuzz: {sent} frames sent; {} errors (malformed {}, invalid {}, binary {}, not_found {}), {} acks, {} pongs",
        errors.len(),
        by_code("malformed"),
        by_code("invalid"),
        by_code("binary_not_supported"),
        by_code("not_found"),
        fuzzer.frames.iter().filter(|f| f["type"] == "ack").count(),
        fuzzer.frames.iter().filter(|f| f["type"] == "pong").count(),
    );
    assert!(by_code("malformed") > 0 && by_code("invalid") > 0 && by_code("binary_not_supported") > 0);
    assert!(by_code("not_found") > 0, "out-of-order frames were tried");

    // The observer received every message sent meanwhile, in order.
    let last = *expected.last().unwrap();
    if !observer.frames.iter().any(|f| f["seq"].as_u64() == Some(last)) {
        observer.next_frame_where(|f| f["seq"].as_u64() == Some(last)).await;
    }
    let seen: Vec<u64> = observer
        .frames
        .iter()
        .filter(|f| f["type"] == "message.sent" && f["data"]["sender_id"] == "cy")
        .map(|f| f["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seen, expected);
    // Every send the fuzzer got an ack for reached the other session too, and nothing else did.
    let acked: Vec<u64> = fuzzer
        .frames
        .iter()
        .filter(|f| f["type"] == "ack")
        .map(|f| f["message"]["seq"].as_u64().unwrap())
        .collect();
    let last_acked = acked.iter().max().copied().unwrap_or_default();
    if !observer.frames.iter().any(|f| f["seq"].as_u64() >= Some(last_acked)) {
        observer.next_frame_where(|f| f["seq"].as_u64() >= Some(last_acked)).await;
    }
    let from_fuzzer: Vec<u64> = observer
        .frames
        .iter()
        .filter(|f| f["type"] == "message.sent" && f["data"]["sender_id"] == "abe")
        .map(|f| f["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(from_fuzzer, acked);
    assert!(!acked.is_empty(), "some fuzzed sends were valid");
    // Nothing reached the conversation abe is not part of.
    app.catch_up().await;
    let (_, history) = app.get_json(&format!("/api/conversations/{}/messages", targets.foreign), &rita).await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 1, "{history}");

    // The session survived all of it; an oversized frame ends it with 1009.
    fuzzer.send(Message::text("x".repeat(70_000))).await;
    assert_eq!(fuzzer.closed().await.code, Some(1009));
    observer.send_json(json!({"type": "ping"})).await;
    observer.next_frame_of_type("pong").await;
}

async fn closed_by(app: &TestApp, token: &str, frame: Frame) -> (Option<u16>, String) {
    let mut client: WsClient = app.ws(token, None).await;
    client.send(Message::Frame(frame)).await;
    let closed = client.closed().await;
    (closed.code, closed.reason)
}

#[tokio::test]
async fn frames_that_break_the_protocol_close_the_session_with_the_rfc_code() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let mut observer = app.ws(&rita, None).await;

    let not_utf8 = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
    assert_eq!(closed_by(&app, &abe, not_utf8).await, (Some(1007), "text frame is not UTF-8".into()));
    let mut reserved_bits = Frame::message(br#"{"type":"ping"}"#.to_vec(), OpCode::Data(Data::Text), true);
    reserved_bits.header_mut().rsv1 = true;
    assert_eq!(closed_by(&app, &abe, reserved_bits).await.0, Some(1002));
    let reserved_opcode = Frame::message(vec![1, 2, 3], OpCode::Data(Data::Reserved(3)), true);
    assert_eq!(closed_by(&app, &abe, reserved_opcode).await.0, Some(1002));
    let stray_continuation = Frame::message(vec![b'a'], OpCode::Data(Data::Continue), true);
    assert_eq!(closed_by(&app, &abe, stray_continuation).await.0, Some(1002));

    let message = app.send_message(&abe, &id, "still delivered").await;
    let seq = message["seq"].as_u64().unwrap();
    observer.next_frame_where(|f| f["seq"].as_u64() == Some(seq)).await;
}
