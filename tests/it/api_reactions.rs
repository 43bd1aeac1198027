//! Reactions over HTTP: one per user and emoji, counted and listed on the message, removable
//! by percent-encoded path, refused on deleted messages and to people who left.

use parley::domain::Role;
use serde_json::{Value, json};

use crate::harness::TestApp;
use crate::harness::client::problem;

fn reactions(message: &Value) -> String {
    format!("/api/messages/{}/reactions", message["id"].as_str().expect("a message id"))
}

#[tokio::test]
async fn reactions_are_one_per_user_and_emoji_and_list_who_reacted_in_order() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let message = app.send_message(&rita, &id, "Offer attached").await;
    let (status, body) = app.post(&reactions(&message), &rita, json!({"emoji": "👍"})).await;
    assert_eq!((status, &body["reactions"]), (201, &json!({"👍": ["rita"]})));
    assert_eq!(app.post(&reactions(&message), &abe, json!({"emoji": "👍"})).await.0, 201);
    let (status, body) = app.post(&reactions(&message), &abe, json!({"emoji": "👍"})).await;
    assert_eq!((status, &body["reactions"]), (200, &json!({"👍": ["rita", "abe"]})), "a repeat adds nothing");
    let (status, body) = app.post(&reactions(&message), &abe, json!({"emoji": ":tada:"})).await;
    assert_eq!(status, 201);
    assert_eq!(body["reactions"], json!({"👍": ["rita", "abe"], ":tada:": ["abe"]}));
    let (_, seen) = app.get_json(&format!("/api/messages/{}", message["id"].as_str().unwrap()), &rita).await;
    assert_eq!(seen["reactions"], body["reactions"]);
}

#[tokio::test]
async fn a_reaction_is_removed_by_its_percent_encoded_emoji_and_only_ones_own() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let message = app.send_message(&rita, &id, "hello").await;
    for token in [&rita, &abe] {
        app.post(&reactions(&message), token, json!({"emoji": "👨‍👩‍👧"})).await;
    }
    let family = "%F0%9F%91%A8%E2%80%8D%F0%9F%91%A9%E2%80%8D%F0%9F%91%A7";
    let (status, body) = app.delete(&format!("{}/{family}", reactions(&message)), &abe).await;
    assert_eq!((status, &body["reactions"]), (200, &json!({"👨‍👩‍👧": ["rita"]})), "{body}");
    let (status, body) = app.delete(&format!("{}/{family}", reactions(&message)), &abe).await;
    assert_eq!((status, &body["reactions"]), (200, &json!({"👨‍👩‍👧": ["rita"]})), "removing twice is harmless");
    let (status, body) = app.delete(&format!("{}/%3Atada%3A", reactions(&message)), &rita).await;
    assert_eq!((status, &body["reactions"]), (200, &json!({"👨‍👩‍👧": ["rita"]})));
    let (_, body) = app.delete(&format!("{}/{family}", reactions(&message)), &rita).await;
    assert_eq!(body["reactions"], json!({}));
}

#[tokio::test]
async fn reactions_that_are_not_an_emoji_are_refused() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let message = app.send_message(&rita, &id, "hello").await;
    for bad in ["a", "👍👍", "", ":no spaces:", "<script>"] {
        let answer = app.post(&reactions(&message), &rita, json!({"emoji": bad})).await;
        assert_eq!(problem(answer, 400)["errors"][0]["field"], "emoji", "{bad:?}");
    }
    problem(app.delete(&format!("{}/abc", reactions(&message)), &rita).await, 400);
    let (_, seen) = app.get_json(&format!("/api/messages/{}", message["id"].as_str().unwrap()), &rita).await;
    assert_eq!(seen["reactions"], json!({}));
}

#[tokio::test]
async fn reacting_in_a_conversation_one_left_or_never_joined_is_refused() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let eve = app.token("eve", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let message = app.send_message(&rita, &id, "hello").await;
    app.post(&reactions(&message), &abe, json!({"emoji": "👍"})).await;
    let (status, _) = app.delete(&format!("/api/conversations/{id}/participants/abe"), &abe).await;
    assert_eq!(status, 204);
    problem(app.post(&reactions(&message), &abe, json!({"emoji": "🎉"})).await, 404);
    problem(app.delete(&format!("{}/%F0%9F%91%8D", reactions(&message)), &abe).await, 404);
    problem(app.post(&reactions(&message), &eve, json!({"emoji": "🎉"})).await, 404);
    let (_, seen) = app.get_json(&format!("/api/messages/{}", message["id"].as_str().unwrap()), &rita).await;
    assert_eq!(seen["reactions"], json!({"👍": ["abe"]}), "nothing changed");
}

#[tokio::test]
async fn a_deleted_message_loses_its_reactions_and_takes_no_new_ones() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let message = app.send_message(&rita, &id, "hello").await;
    app.post(&reactions(&message), &abe, json!({"emoji": "👍"})).await;
    let (_, deleted) = app.delete(&format!("/api/messages/{}", message["id"].as_str().unwrap()), &rita).await;
    assert_eq!(deleted["reactions"], json!({}));
    problem(app.post(&reactions(&message), &abe, json!({"emoji": "🎉"})).await, 409);
}
