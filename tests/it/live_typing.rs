//! Typing indicators: they reach the other participants, expire by themselves, and are
//! rate-limited per user and conversation.

use std::time::Duration;

use parley::domain::Role;
use serde_json::json;

use crate::harness::TestApp;
use crate::harness::client::problem;

#[tokio::test]
async fn typing_reaches_the_others_and_expires_by_itself() {
    let app = TestApp::spawn_with(crate::harness::TestEnv::start().await, |config| {
        config.live.typing_timeout = Duration::from_secs(1);
    })
    .await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let mut rita_ws = app.ws(&rita, None).await;
    let mut abe_ws = app.ws(&abe, None).await;
    rita_ws.send_json(json!({"type": "typing_status", "conversation_id": id, "is_typing": true})).await;
    let started = abe_ws.next_frame_of_type("typing").await;
    let shown = tokio::time::Instant::now();
    assert_eq!(
        started,
        json!({"type": "typing", "conversation_id": id, "user_id": "rita", "is_typing": true})
    );
    // Rita never says she stopped: the receiving side clears it.
    let stopped = abe_ws.next_frame_of_type("typing").await;
    assert_eq!(stopped["is_typing"], false, "{stopped}");
    assert!(shown.elapsed() >= Duration::from_millis(800), "cleared by the timeout, not at once");
    // Rita's own sessions are not told about her typing.
    rita_ws.send_json(json!({"type": "ping"})).await;
    rita_ws.next_frame_of_type("pong").await;
    assert!(rita_ws.frames.iter().all(|f| f["type"] != "typing"), "{:?}", rita_ws.frames);
}

#[tokio::test]
async fn typing_over_rest_is_for_participants_and_rate_limited() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let eve = app.token("eve", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let mut abe_ws = app.ws(&abe, None).await;
    let path = format!("/api/conversations/{id}/typing");
    let (status, _) = app.post(&path, &rita, json!({"is_typing": true})).await;
    assert_eq!(status, 204);
    let frame = abe_ws.next_frame_of_type("typing").await;
    assert_eq!((&frame["user_id"], &frame["is_typing"]), (&json!("rita"), &json!(true)));
    problem(app.post(&path, &eve, json!({"is_typing": true})).await, 404);
    problem(app.post(&path, &rita, json!({"typing": true})).await, 400);
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(app.post(&path, &rita, json!({"is_typing": true})).await.0);
    }
    assert!(statuses.contains(&429), "a burst is limited: {statuses:?}");
    let response = app
        .http
        .post(app.url(&path))
        .bearer_auth(&rita)
        .json(&json!({"is_typing": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    // Another conversation has its own allowance.
    let other = app.create_conversation(&rita, &["cy"]).await;
    let (status, _) =
        app.post(&format!("/api/conversations/{other}/typing"), &rita, json!({"is_typing": true})).await;
    assert_eq!(status, 204);
}
