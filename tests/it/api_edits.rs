//! Editing and deleting messages over HTTP, and reply previews that follow the original.

use parley::domain::Role;
use serde_json::{Value, json};

use crate::harness::TestApp;
use crate::harness::client::problem;

fn path(message: &Value) -> String {
    format!("/api/messages/{}", message["id"].as_str().expect("a message id"))
}

#[tokio::test]
async fn the_sender_edits_a_message_and_everyone_sees_the_new_content_with_edited_at() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let message = app.send_message(&rita, &id, "Interview on Mondy").await;
    assert!(message["edited_at"].is_null());
    let (status, edited) =
        app.patch(&path(&message), &rita, json!({"content": " Interview on Monday "})).await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["content"], "Interview on Monday");
    assert_eq!(edited["id"], message["id"]);
    assert_eq!(edited["seq"], message["seq"], "an edit keeps the message's place");
    assert!(edited["edited_at"].as_str().is_some_and(|at| at.ends_with('Z')), "{edited}");
    let (_, seen) = app.get_json(&path(&message), &abe).await;
    assert_eq!(seen, edited);
    problem(app.patch(&path(&message), &rita, json!({"content": "   "})).await, 400);
    problem(app.patch(&path(&message), &rita, json!({"text": "typo"})).await, 400);
}

#[tokio::test]
async fn editing_someone_elses_message_is_forbidden_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let service = app.token("ats", Role::Service);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let message = app.send_message(&rita, &id, "original").await;
    problem(app.patch(&path(&message), &abe, json!({"content": "hijacked"})).await, 403);
    problem(app.patch(&path(&message), &service, json!({"content": "hijacked"})).await, 403);
    let eve = app.token("eve", Role::Applicant);
    problem(app.patch(&path(&message), &eve, json!({"content": "hijacked"})).await, 404);
    let (_, seen) = app.get_json(&path(&message), &abe).await;
    assert_eq!((&seen["content"], &seen["edited_at"]), (&json!("original"), &Value::Null));
}

#[tokio::test]
async fn editing_a_deleted_message_is_a_conflict() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let message = app.send_message(&rita, &id, "soon gone").await;
    assert_eq!(app.delete(&path(&message), &rita).await.0, 200);
    problem(app.patch(&path(&message), &rita, json!({"content": "back?"})).await, 409);
    let (_, seen) = app.get_json(&path(&message), &rita).await;
    assert_eq!((&seen["content"], &seen["deleted"]), (&json!(""), &json!(true)));
}

#[tokio::test]
async fn a_deleted_message_keeps_its_place_without_content_and_deleting_again_is_harmless() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    app.send_message(&rita, &id, "first").await;
    let message = app.send_message(&abe, &id, "my phone number is 555-0100").await;
    app.send_message(&rita, &id, "third").await;
    let (status, deleted) = app.delete(&path(&message), &abe).await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!((&deleted["deleted"], &deleted["content"]), (&json!(true), &json!("")));
    assert_eq!(deleted["seq"], message["seq"]);
    let (status, again) = app.delete(&path(&message), &abe).await;
    assert_eq!((status, &again), (200, &deleted), "deleting twice answers the same");
    let (_, history) = app.get_json(&format!("/api/conversations/{id}/messages"), &rita).await;
    let messages = history["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3, "the deleted message keeps its place");
    assert_eq!(messages[1]["id"], message["id"]);
    assert_eq!((&messages[1]["deleted"], &messages[1]["content"]), (&json!(true), &json!("")));
    let text: String = sqlx::query_scalar("SELECT content FROM parley.messages WHERE message_id = $1::uuid")
        .bind(message["id"].as_str().unwrap())
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(text, "", "the content is gone from the read model");
}

#[tokio::test]
async fn only_the_sender_or_a_service_may_delete() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let eve = app.token("eve", Role::Applicant);
    let service = app.token("ats", Role::Service);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let message = app.send_message(&abe, &id, "please remove").await;
    problem(app.delete(&path(&message), &rita).await, 403);
    problem(app.delete(&path(&message), &eve).await, 404);
    problem(app.delete(&format!("/api/messages/{}", uuid::Uuid::now_v7()), &abe).await, 404);
    let (_, seen) = app.get_json(&path(&message), &abe).await;
    assert_eq!(seen["deleted"], false);
    let (status, deleted) = app.delete(&path(&message), &service).await;
    assert_eq!((status, &deleted["deleted"]), (200, &json!(true)));
}

#[tokio::test]
async fn a_reply_preview_follows_the_edit_and_the_deletion_of_the_original() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let original = app.send_message(&rita, &id, "Can you start in Mai?").await;
    let (status, reply) = app
        .post(
            "/api/messages",
            &abe,
            json!({"conversation_id": id, "content": "Yes", "reply_to": original["id"]}),
        )
        .await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(reply["reply_preview"], "Can you start in Mai?");
    app.patch(&path(&original), &rita, json!({"content": "Can you start in May?"})).await;
    let (_, seen) = app.get_json(&path(&reply), &abe).await;
    assert_eq!(seen["reply_preview"], "Can you start in May?");
    let long = "x".repeat(500);
    app.patch(&path(&original), &rita, json!({"content": long})).await;
    let (_, seen) = app.get_json(&path(&reply), &abe).await;
    assert_eq!(seen["reply_preview"].as_str().unwrap().chars().count(), 140, "a preview is short");
    app.delete(&path(&original), &rita).await;
    let (_, seen) = app.get_json(&path(&reply), &abe).await;
    assert_eq!((&seen["reply_to"], &seen["reply_preview"]), (&original["id"], &Value::Null));
}
