//! `/api/messages` over HTTP: sending, idempotency under racing retries, reading one.

use parley::domain::Role;
use serde_json::json;

use crate::harness::TestApp;
use crate::harness::client::problem;

#[tokio::test]
async fn a_sent_message_is_answered_with_itself_and_is_in_the_history() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let message = app.send_message(&rita, &id, "  Welcome!  ").await;
    assert_eq!(message["content"], "Welcome!");
    assert_eq!(message["sender_id"], "rita");
    assert_eq!(message["sender_type"], "recruiter");
    assert_eq!(message["kind"], "text");
    assert_eq!(message["deleted"], false);
    let created_at = message["created_at"].as_str().unwrap();
    assert!(
        created_at.ends_with('Z') && created_at.len() == 24,
        "RFC 3339 UTC with milliseconds: {created_at}"
    );
    let (status, fetched) =
        app.get_json(&format!("/api/messages/{}", message["id"].as_str().unwrap()), &abe).await;
    assert_eq!((status, &fetched), (200, &message));
    let (_, reply) = app
        .post(
            "/api/messages",
            &abe,
            json!({"conversation_id": id, "content": "Thanks", "reply_to": message["id"]}),
        )
        .await;
    assert_eq!(reply["reply_to"], message["id"]);
    assert_eq!(reply["reply_preview"], "Welcome!");
}

#[tokio::test]
async fn twenty_racing_retries_of_one_client_msg_id_make_one_message() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let body = json!({"conversation_id": id, "content": "only once", "client_msg_id": "retry-1"});
    let answers =
        futures::future::join_all((0..20).map(|_| app.post("/api/messages", &rita, body.clone()))).await;
    let created = answers.iter().filter(|(status, _)| *status == 201).count();
    assert_eq!(created, 1, "exactly one 201: {answers:?}");
    assert!(answers.iter().all(|(status, _)| *status == 201 || *status == 200), "{answers:?}");
    let ids: std::collections::HashSet<&str> =
        answers.iter().map(|(_, m)| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 1, "every answer is the same message");
    let (_, history) = app.get_json(&format!("/api/conversations/{id}/messages"), &rita).await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 1);
    // Much later (outside any duplicate window) the same key still finds the original.
    let (status, again) = app.post("/api/messages", &rita, body).await;
    assert_eq!((status, &again["id"]), (200, &answers[0].1["id"]));
}

#[tokio::test]
async fn the_same_client_msg_id_in_another_conversation_is_another_message() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let first = app.create_conversation(&rita, &["abe"]).await;
    let second = app.create_conversation(&rita, &["cy"]).await;
    for id in [&first, &second] {
        let (status, _) = app
            .post(
                "/api/messages",
                &rita,
                json!({"conversation_id": id, "content": "hi", "client_msg_id": "k"}),
            )
            .await;
        assert_eq!(status, 201);
    }
}

#[tokio::test]
async fn bad_sends_are_refused_and_store_nothing() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let other = app.create_conversation(&rita, &["cy"]).await;
    let foreign = app.send_message(&rita, &other, "elsewhere").await;
    let too_long = "x".repeat(16_385);
    for (body, status) in [
        (json!({"conversation_id": id, "content": ""}), 400),
        (json!({"conversation_id": id, "content": too_long}), 400),
        (json!({"conversation_id": id}), 400),
        (json!({"conversation_id": "nope", "content": "x"}), 400),
        (json!({"conversation_id": id, "content": "x", "kind": "system"}), 400),
        (json!({"conversation_id": id, "content": "x", "reply_to": foreign["id"]}), 400),
        (json!({"conversation_id": id, "content": "x", "client_msg_id": "has space"}), 400),
        (json!({"conversation_id": id, "content": "x", "sender_id": "rita"}), 403),
        (json!({"conversation_id": uuid::Uuid::now_v7(), "content": "x"}), 404),
    ] {
        let token = if status == 403 { &abe } else { &rita };
        problem(app.post("/api/messages", token, body).await, status);
    }
    let (_, history) = app.get_json(&format!("/api/conversations/{id}/messages"), &rita).await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn content_of_exactly_the_limit_is_accepted_in_characters() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let longest = "é".repeat(16_384);
    let (status, message) =
        app.post("/api/messages", &rita, json!({"conversation_id": id, "content": longest})).await;
    assert_eq!(status, 201, "{message}");
}

#[tokio::test]
async fn a_service_sends_on_behalf_of_a_participant() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let service = app.token("ats", Role::Service);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let (status, message) = app
        .post(
            "/api/messages",
            &service,
            json!({"conversation_id": id, "content": "hello", "sender_id": "abe"}),
        )
        .await;
    assert_eq!((status, &message["sender_id"]), (201, &json!("abe")));
    problem(
        app.post(
            "/api/messages",
            &service,
            json!({"conversation_id": id, "content": "x", "sender_id": "eve"}),
        )
        .await,
        403,
    );
}

#[tokio::test]
async fn marking_read_up_to_a_message_uses_its_sequence() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let eve = app.token("eve", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let first = app.send_message(&rita, &id, "one").await;
    app.send_message(&rita, &id, "two").await;
    let path = format!("/api/messages/{}/read", first["id"].as_str().unwrap());
    let (status, marker) = app.put(&path, &abe, json!({})).await;
    assert_eq!((status, &marker["last_read_seq"], &marker["unread"]), (200, &first["seq"], &json!(1)));
    problem(app.put(&path, &eve, json!({})).await, 404);
    problem(app.get_json(&format!("/api/messages/{}", first["id"].as_str().unwrap()), &eve).await, 404);
}
