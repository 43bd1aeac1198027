//! Auth attacks end to end that the other suites do not cover: a participant removed from a
//! conversation keeps a valid token, and must lose every way in (REST reads and writes, the
//! WebSocket's frames, live delivery). Expired tokens, `alg: none`, forged signatures
//! (tests/it/auth.rs), replayed tickets and foreign Origins (tests/it/live_auth.rs) are
//! tested where their feature is.

use parley::domain::Role;
use reqwest::Method;
use serde_json::json;

use crate::harness::TestApp;
use crate::harness::client::problem;

#[tokio::test]
async fn a_removed_participant_with_a_valid_token_gets_404_everywhere_in_that_conversation() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let before = app.send_message(&abe, &id, "before removal").await;
    let message_id = before["id"].as_str().unwrap().to_owned();
    let mut abe_ws = app.ws(&abe, None).await;

    let (status, body) = app.delete(&format!("/api/conversations/{id}/participants/abe"), &rita).await;
    assert_eq!(status, 204, "{body}");
    abe_ws.next_frame_where(|f| f["type"] == "participant.removed").await;
    app.catch_up().await;

    let conversation = format!("/api/conversations/{id}");
    let reads = [
        conversation.clone(),
        format!("{conversation}/messages"),
        format!("{conversation}/export"),
        format!("/api/messages/{message_id}"),
    ];
    for path in &reads {
        problem(app.get_json(path, &abe).await, 404);
    }
    let writes = [
        (
            Method::POST,
            "/api/messages".to_owned(),
            Some(json!({"conversation_id": id, "content": "still here?"})),
        ),
        (Method::PUT, format!("{conversation}/read"), Some(json!({}))),
        (Method::POST, format!("{conversation}/typing"), Some(json!({"is_typing": true}))),
        (
            Method::POST,
            format!("{conversation}/participants"),
            Some(json!({"user_id": "abe", "role": "applicant"})),
        ),
        (
            Method::PATCH,
            format!("/api/messages/{message_id}"),
            Some(json!({"content": "edited after removal"})),
        ),
        (Method::POST, format!("/api/messages/{message_id}/reactions"), Some(json!({"emoji": "👍"}))),
        (Method::PUT, format!("/api/messages/{message_id}/read"), None),
    ];
    let tip = app.state.log.last_seq().await.unwrap();
    for (method, path, body) in writes {
        let answer = app.call(method.clone(), &path, Some(&abe), body).await;
        assert!(matches!(answer.0, 403 | 404), "{method} {path}: {answer:?}");
        problem(answer.clone(), answer.0);
    }
    abe_ws
        .send_json(json!({"type": "message.send", "conversation_id": id, "content": "hello?", "client_msg_id": "late"}))
        .await;
    let refused = abe_ws.next_frame_where(|f| f["client_msg_id"] == "late").await;
    assert_eq!((&refused["type"], &refused["code"]), (&json!("error"), &json!("not_found")), "{refused}");
    assert_eq!(app.state.log.last_seq().await.unwrap(), tip, "a refused write changed nothing");

    // Rita's next message does not reach Abe's session, nor his search.
    let after = app.send_message(&rita, &id, "secret plans after removal").await;
    // Live delivery follows the log's order: once a later event of another conversation
    // arrives, the earlier message would have arrived before it.
    let other = app.create_conversation(&rita, &["abe"]).await;
    let marker = app.send_message(&rita, &other, "a conversation Abe is still in").await;
    abe_ws.next_frame_where(|f| f["seq"] == marker["seq"]).await;
    assert!(
        !abe_ws.frames.iter().any(|f| f["seq"] == after["seq"]),
        "a removed participant received a later message"
    );
    app.catch_up().await;
    let (status, found) = app.get_json("/api/search?q=secret", &abe).await;
    assert_eq!(status, 200, "{found}");
    assert!(!found.to_string().contains("secret plans"), "{found}");
}
