//! ATS events published to NATS (or posted over HTTP) become conversations and system
//! messages, once each; malformed ones are dead-lettered without blocking the rest.

use std::time::{Duration, Instant};

use bytes::Bytes;
use parley::domain::{ConversationId, ExternalId, Role};
use serde_json::{Value, json};

use crate::harness::TestApp;
use crate::harness::client::problem;

fn event(event_id: &str, application: &str, status: &str) -> Value {
    json!({
        "event_id": event_id, "application_id": application, "job_id": "job-7", "job_title": "Platform engineer",
        "candidate_id": "abe", "recruiter_id": "rita", "status": status, "occurred_at": "2026-11-21T09:00:00.000Z"
    })
}

async fn publish(app: &TestApp, subject: &str, event_id: &str, body: Vec<u8>) {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", event_id);
    app.state
        .log
        .jetstream()
        .publish_with_headers(subject.to_owned(), headers, Bytes::from(body))
        .await
        .unwrap()
        .await
        .unwrap();
}

/// The application's conversation's history as seen by `token`, once it has `count` messages.
async fn history_with(app: &TestApp, application: &str, token: &str, count: usize) -> Vec<Value> {
    let id = ConversationId::for_application(&ExternalId::parse(application).unwrap());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, page) = app.get_json(&format!("/api/conversations/{id}/messages?after=0"), token).await;
        if status == 200 && page["messages"].as_array().unwrap().len() >= count {
            return page["messages"].as_array().unwrap().clone();
        }
        assert!(Instant::now() < deadline, "the conversation never had {count} messages: {status} {page}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the ATS consumer has handled every event published so far.
async fn settled(app: &TestApp) {
    let stream = app.state.log.jetstream().get_stream("ATS_EVENTS").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(info) = stream.consumer_info(parley::ats::CONSUMER).await
            && info.num_pending == 0
            && info.num_ack_pending == 0
        {
            return;
        }
        assert!(Instant::now() < deadline, "the ATS consumer did not drain");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_application_submitted_on_nats_opens_a_conversation_with_a_system_message() {
    let app = TestApp::spawn().await;
    let body = serde_json::to_vec(&event("e-1", "app-1", "submitted")).unwrap();
    publish(&app, "ats.applications.app-1.submitted", "e-1", body).await;
    let rita = app.token("rita", Role::Recruiter);
    let messages = history_with(&app, "app-1", &rita, 1).await;
    assert_eq!(messages[0]["kind"], "system");
    assert_eq!(messages[0]["sender_id"], Value::Null);
    assert_eq!(messages[0]["content"], "Application submitted for Platform engineer.");
    assert_eq!(messages[0]["system"]["status"], "submitted");
    let id = messages[0]["conversation_id"].as_str().unwrap();
    let abe = app.token("abe", Role::Applicant);
    let (_, conversation) = app.get_json(&format!("/api/conversations/{id}"), &abe).await;
    assert_eq!(conversation["application_id"], "app-1");
    assert_eq!(conversation["job_id"], "job-7");
    assert_eq!(conversation["title"], "Platform engineer");
    assert_eq!(conversation["unread_count"], 1);
}

#[tokio::test]
async fn replays_of_an_event_id_have_no_second_effect_and_updates_follow_in_order() {
    let app = TestApp::spawn().await;
    for (id, change, status) in [("e-1", "submitted", "submitted"), ("e-2", "status_changed", "interview")] {
        let body = serde_json::to_vec(&event(id, "app-2", status)).unwrap();
        publish(&app, &format!("ats.applications.app-2.{change}"), id, body.clone()).await;
        // The same event again, with a different message id so the stream's own dedup does
        // not hide it: Parley's rules must.
        publish(&app, &format!("ats.applications.app-2.{change}"), &format!("{id}-again"), body).await;
    }
    let body = serde_json::to_vec(&event("e-3", "app-2", "withdrawn")).unwrap();
    publish(&app, "ats.applications.app-2.withdrawn", "e-3", body).await;
    let rita = app.token("rita", Role::Recruiter);
    settled(&app).await;
    app.catch_up().await;
    let messages = history_with(&app, "app-2", &rita, 3).await;
    assert_eq!(messages.len(), 3, "duplicates added messages: {messages:?}");
    let status = parley::projections::status(&app.state.log, &app.state.db).await.unwrap();
    assert_eq!(status[0].dead_letters, 0, "a duplicate reached the log and was refused by the read models");
    let texts: Vec<&str> = messages.iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(
        texts,
        [
            "Application submitted for Platform engineer.",
            "Application status for Platform engineer changed to interview.",
            "Application for Platform engineer withdrawn."
        ]
    );
}

#[tokio::test]
async fn a_malformed_event_is_dead_lettered_and_later_events_still_apply() {
    let app = TestApp::spawn().await;
    publish(&app, "ats.applications.app-3.submitted", "bad-1", b"{not json".to_vec()).await;
    let wrong_app = serde_json::to_vec(&event("bad-2", "app-other", "submitted")).unwrap();
    publish(&app, "ats.applications.app-3.submitted", "bad-2", wrong_app).await;
    let good = serde_json::to_vec(&event("good-1", "app-3", "submitted")).unwrap();
    publish(&app, "ats.applications.app-3.submitted", "good-1", good).await;
    let rita = app.token("rita", Role::Recruiter);
    history_with(&app, "app-3", &rita, 1).await;

    let stream = app.state.log.jetstream().get_stream("ATS_DEAD_LETTERS").await.unwrap();
    let first = stream.get_raw_message(1).await.unwrap();
    assert!(first.headers.get("Parley-Reason").unwrap().as_str().contains("not an ATS event"));
    assert_eq!(first.payload.as_ref(), b"{not json");
    let second = stream.get_raw_message(2).await.unwrap();
    assert!(second.headers.get("Parley-Reason").unwrap().as_str().contains("differs"));
    assert_eq!(
        second.headers.get("Parley-Original-Subject").unwrap().as_str(),
        "ats.applications.app-3.submitted"
    );
}

#[tokio::test]
async fn services_post_application_events_over_http() {
    let app = TestApp::spawn().await;
    let service = app.token("ats-backend", Role::Service);
    let mut body = event("h-1", "app-4", "submitted");
    body["type"] = json!("submitted");
    let (status, accepted) = app.post("/api/system/application-events", &service, body.clone()).await;
    assert_eq!(status, 202, "{accepted}");
    let expected = ConversationId::for_application(&ExternalId::parse("app-4").unwrap());
    assert_eq!(accepted["conversation_id"], expected.to_string());
    let rita = app.token("rita", Role::Recruiter);
    let messages = history_with(&app, "app-4", &rita, 1).await;
    assert_eq!(messages[0]["id"], accepted["message_id"]);

    problem(app.post("/api/system/application-events", &rita, body.clone()).await, 403);
    let mut no_type = body.clone();
    no_type.as_object_mut().unwrap().remove("type");
    problem(app.post("/api/system/application-events", &service, no_type).await, 400);
    let mut bad_time = body;
    bad_time["occurred_at"] = json!("last tuesday");
    problem(app.post("/api/system/application-events", &service, bad_time).await, 400);
}
