//! Limits that stop one client from exhausting the server: the connection cap, the per-user
//! WebSocket session cap, and the request timeout.

use std::time::{Duration, Instant};

use parley::domain::{Role, UserId};
use serde_json::json;

use crate::harness::raw::head;
use crate::harness::ws::Connect;
use crate::harness::{TestApp, TestEnv};

#[tokio::test]
async fn connections_over_the_cap_are_turned_away_with_503_and_served_again_once_one_closes() {
    let app = TestApp::spawn_with(TestEnv::start().await, |config| config.limits.max_connections = 3).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(app.raw().await);
    }
    // The server accepts in order; a request on a held connection proves they are all counted.
    assert!(held[2].write(format!("{}\r\n", head("GET", "/healthz", None)).as_bytes()).await);
    assert_eq!(held[2].answer(Duration::from_secs(5)).await.status, Some(200));

    let mut extra = app.raw().await;
    // A client that sends its request at once still reads the answer (no reset destroys it).
    extra.write(format!("{}\r\n", head("GET", "/api/users/me", None)).as_bytes()).await;
    let answer = extra.answer(Duration::from_secs(5)).await;
    assert_eq!(answer.status, Some(503), "{answer:?}");
    assert!(answer.text.contains("retry-after: 1") && answer.text.contains("too many open connections"));
    assert!(extra.closed_within(Duration::from_secs(5)).await, "the extra connection is closed");

    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut again = app.raw().await;
        assert!(again.write(format!("{}\r\n", head("GET", "/healthz", None)).as_bytes()).await);
        let answer = again.answer(Duration::from_secs(5)).await;
        if answer.status == Some(200) {
            // The same (kept-alive) connection: no new place needed.
            assert!(again.write(format!("{}\r\n", head("GET", "/metrics", None)).as_bytes()).await);
            let metrics = again.answer(Duration::from_secs(5)).await;
            assert!(metrics.text.contains("parley_connections_refused_total"), "{}", metrics.text);
            break;
        }
        assert_eq!(answer.status, Some(503), "{answer:?}");
        assert!(Instant::now() < deadline, "the closed connection's place was never given back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_users_session_over_the_cap_is_closed_with_1008_and_others_may_connect() {
    let app =
        TestApp::spawn_with(TestEnv::start().await, |config| config.limits.max_sessions_per_user = 2).await;
    let abe = app.token("abe", Role::Applicant);
    let rita = app.token("rita", Role::Recruiter);
    let first = app.ws(&abe, None).await;
    let _second = app.ws(&abe, None).await;
    let mut third =
        app.ws_connect(Connect { path: "/api/ws", bearer: Some(&abe), ..Connect::default() }).await.unwrap();
    let closed = third.closed().await;
    assert_eq!(closed.code, Some(1008), "{closed:?}");
    assert_eq!(closed.reason, "too many sessions: at most 2 per user");
    assert!(third.frames.is_empty(), "a refused session receives nothing: {:?}", third.frames);
    let _rita = app.ws(&rita, None).await;

    drop(first);
    let user = UserId::parse("abe").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.state.sessions.count(&user) > 1 {
        assert!(Instant::now() < deadline, "the closed session's slot was never given back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut again = app.ws(&abe, None).await;
    again.send_json(json!({"type": "ping"})).await;
    again.next_frame_of_type("pong").await;
}

#[tokio::test]
async fn a_request_whose_body_never_finishes_is_answered_408_and_others_are_served_meanwhile() {
    let app = TestApp::spawn_with(TestEnv::start().await, |config| {
        config.limits.request_timeout = Duration::from_secs(1);
    })
    .await;
    let rita = app.token("rita", Role::Recruiter);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let mut slow = app.raw().await;
    let request = format!(
        "{}content-type: application/json\r\ncontent-length: 200\r\n\r\n{{\"conversation_id\": \"{id}\",",
        head("POST", "/api/messages", Some(&rita))
    );
    let started = Instant::now();
    assert!(slow.write(request.as_bytes()).await);
    // Meanwhile, others are served at once.
    let message = app.send_message(&rita, &id, "not stuck behind the slow one").await;
    let served = started.elapsed();
    let answer = slow.answer(Duration::from_secs(10)).await;
    let waited = started.elapsed();
    assert!(served < waited, "the other request ({served:?}) waited for the slow one ({waited:?})");
    assert_eq!(answer.status, Some(408), "{answer:?}");
    assert!(answer.text.contains("application/problem+json"), "{}", answer.text);
    assert!(answer.text.contains("did not complete within 1 s"), "{}", answer.text);
    assert!(waited >= Duration::from_secs(1) && waited < Duration::from_secs(5), "{waited:?}");
    app.catch_up().await;
    let (_, history) = app.get_json(&format!("/api/conversations/{id}/messages"), &rita).await;
    let ids: Vec<_> = history["messages"].as_array().unwrap().iter().map(|m| m["id"].clone()).collect();
    assert_eq!(ids, vec![message["id"].clone()], "the unfinished request left nothing behind");
}
