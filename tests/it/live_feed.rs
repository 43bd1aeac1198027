//! The hub's feed: events its subscription missed are read from the stream by sequence, and
//! a live message seen twice is delivered once.

use parley::domain::Role;

use crate::harness::TestApp;
use crate::harness::scenario::send;

#[tokio::test]
async fn events_appended_around_a_nats_restart_arrive_in_order() {
    let mut app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let mut abe_ws = app.ws(&abe, None).await;
    let before = app.send_message(&rita, &id, "before").await;
    assert_eq!(abe_ws.next_frame_of_type("message.sent").await["seq"], before["seq"]);

    app.env.nats.kill().await;
    app.env.nats.restart().await.unwrap();
    // Appended through a connection of the test's own, the moment the server is back: the
    // app's connection (and its live subscription) may not be back yet.
    let client = async_nats::connect(app.env.nats_url()).await.unwrap();
    let log = parley::event_log::EventLog::new(client);
    let commands = parley::commands::Commands::new(log.clone(), parley::domain::Limits::default());
    let conversation = parley::domain::ConversationId(uuid::Uuid::parse_str(&id).unwrap());
    let rita_actor = crate::harness::scenario::actor("rita", Role::Recruiter);
    let mut expected = Vec::new();
    for n in 0..5 {
        let (_, command) = send("rita", &format!("during {n}"));
        let outcome = commands.execute(&rita_actor, conversation, &command, None).await.unwrap();
        expected.push(outcome.visible_at());
    }
    // And one more through the app once it is connected again.
    let (_, command) = send("rita", "after");
    let deadline = tokio::time::Instant::now() + crate::harness::ws::WAIT;
    let last = loop {
        match app.state.commands.execute(&rita_actor, conversation, &command, None).await {
            Ok(outcome) => break outcome.visible_at(),
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await
            }
            Err(e) => panic!("the app did not reconnect: {e}"),
        }
    };
    expected.push(last);
    let mut received = Vec::new();
    while received.last() != Some(&last) {
        let frame = abe_ws.next_frame_of_type("message.sent").await;
        received.push(frame["seq"].as_u64().unwrap());
    }
    assert_eq!(received, expected, "every event once, in order");
}

#[tokio::test]
async fn live_messages_the_feed_loses_are_read_from_the_stream_in_order() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let mut abe_ws = app.ws(&abe, None).await;
    // Lost in the middle: the next message reveals the gap.
    app.state.live.hub.lose_next_messages(3);
    let mut expected = Vec::new();
    for n in 0..4 {
        expected.push(app.send_message(&rita, &id, &format!("m{n}")).await["seq"].as_u64().unwrap());
    }
    // Lost at the tail: nothing comes after them, the feed finds them at the stream's tip.
    app.state.live.hub.lose_next_messages(2);
    for n in 4..6 {
        expected.push(app.send_message(&rita, &id, &format!("m{n}")).await["seq"].as_u64().unwrap());
    }
    let mut received = Vec::new();
    while received.len() < expected.len() {
        received.push(abe_ws.next_frame_of_type("message.sent").await["seq"].as_u64().unwrap());
    }
    assert_eq!(received, expected);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("parley_live_recovered_events_total 5"), "{metrics}");
}

#[tokio::test]
async fn a_live_message_seen_twice_is_delivered_once() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let mut abe_ws = app.ws(&abe, None).await;
    let first = app.send_message(&rita, &id, "once").await;
    let seq = first["seq"].as_u64().unwrap();
    abe_ws.next_frame_where(|f| f["seq"].as_u64() == Some(seq)).await;
    // The same stored event published again on the live feed (as a NATS redelivery would).
    let stored = app.state.log.get(seq).await.unwrap().unwrap();
    let mut headers = stored.headers.clone().unwrap();
    headers.insert("Nats-Sequence", seq.to_string().as_str());
    headers.insert("Nats-Subject", stored.subject.as_str());
    let client = app.state.log.client();
    client
        .publish_with_headers(format!("parley.live.{}", stored.subject), headers, stored.payload.clone())
        .await
        .unwrap();
    client.flush().await.unwrap();
    let second = app.send_message(&rita, &id, "twice?").await;
    abe_ws.next_frame_where(|f| f["seq"] == second["seq"]).await;
    let copies = abe_ws.frames.iter().filter(|f| f["seq"].as_u64() == Some(seq)).count();
    assert_eq!(copies, 1, "{:?}", abe_ws.frames);
}
