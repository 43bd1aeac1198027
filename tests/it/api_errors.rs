//! The error contract and the operations surface: malformed requests, outages answered with
//! 503 and nothing half-written, the OpenAPI document, metrics.

use std::time::Duration;

use parley::domain::Role;
use serde_json::json;

use crate::harness::client::problem;
use crate::harness::{TestApp, TestEnv};

#[tokio::test]
async fn malformed_bodies_get_problem_documents() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let send = |body: &'static str, content_type: &'static str| {
        app.http
            .post(app.url("/api/messages"))
            .bearer_auth(&rita)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    for (body, content_type, status) in [
        ("{\"conversation_id\": ", "application/json", 400),
        ("[1, 2]", "application/json", 400),
        ("\u{0}\u{1}", "application/json", 400),
        ("content=x", "application/x-www-form-urlencoded", 415),
        ("{}", "text/plain", 415),
    ] {
        let response = send(body, content_type).await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{body:?} as {content_type}");
        assert_eq!(response.headers()["content-type"], "application/problem+json");
    }
    let invalid_utf8 = app.post_raw("/api/messages", &rita, vec![b'{', b'"', 0xff, 0xfe, b'"', b'}']).await;
    assert_eq!(invalid_utf8.status(), 400);
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_with_413() {
    let env = TestEnv::start().await;
    let app = TestApp::spawn_with(env, |config| config.max_body_bytes = 1024).await;
    let rita = app.token("rita", Role::Recruiter);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let answer =
        app.post("/api/messages", &rita, json!({"conversation_id": id, "content": "x".repeat(2000)})).await;
    problem(answer, 413);
}

#[tokio::test]
async fn with_nats_down_writes_answer_503_and_leave_nothing_behind() {
    let mut app = TestApp::spawn_with(TestEnv::start().await, |config| {
        config.publish_timeout = Duration::from_millis(500);
    })
    .await;
    let rita = app.token("rita", Role::Recruiter);
    let id = app.create_conversation(&rita, &["abe"]).await;
    app.env.nats.kill().await;
    let response = app
        .http
        .post(app.url("/api/messages"))
        .bearer_auth(&rita)
        .json(&json!({"conversation_id": id, "content": "lost?", "client_msg_id": "during-outage"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    // Reads keep working from PostgreSQL.
    let (status, history) = app.get_json(&format!("/api/conversations/{id}/messages"), &rita).await;
    assert_eq!((status, history["messages"].as_array().unwrap().len()), (200, 0));

    app.env.nats.restart().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let retried = loop {
        let answer = app
            .post(
                "/api/messages",
                &rita,
                json!({"conversation_id": id, "content": "lost?", "client_msg_id": "during-outage"}),
            )
            .await;
        if answer.0 != 503 || std::time::Instant::now() > deadline {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(retried.0 == 201 || retried.0 == 200, "{retried:?}");
    let (_, history) = app.get_json(&format!("/api/conversations/{id}/messages"), &rita).await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 1, "the retry made exactly one message");
}

#[tokio::test]
async fn with_postgres_down_reads_answer_503() {
    let mut app = TestApp::spawn_in(TestEnv::start_with(true).await).await;
    let rita = app.token("rita", Role::Recruiter);
    let id = app.create_conversation(&rita, &["abe"]).await;
    app.env.pg.as_mut().unwrap().kill().await;
    let answer = app.get_json(&format!("/api/conversations/{id}"), &rita).await;
    problem(answer, 503);
}

/// Every REST route of the contract, as (method, path).
const CONTRACT: &[(&str, &str)] = &[
    ("get", "/api/users/me"),
    ("put", "/api/users/me"),
    ("put", "/api/users/{user_id}"),
    ("get", "/api/users/{user_id}"),
    ("get", "/api/users/{user_id}/conversations"),
    ("get", "/api/users/{user_id}/unread"),
    ("get", "/api/presence"),
    ("post", "/api/conversations"),
    ("get", "/api/conversations/{id}"),
    ("get", "/api/conversations/{id}/messages"),
    ("put", "/api/conversations/{id}/read"),
    ("post", "/api/conversations/{id}/participants"),
    ("delete", "/api/conversations/{id}/participants/{user_id}"),
    ("post", "/api/messages"),
    ("get", "/api/messages/{id}"),
    ("put", "/api/messages/{id}/read"),
    ("patch", "/api/messages/{id}"),
    ("delete", "/api/messages/{id}"),
    ("post", "/api/messages/{id}/reactions"),
    ("delete", "/api/messages/{id}/reactions/{emoji}"),
    ("post", "/api/attachments"),
    ("get", "/api/attachments/{id}"),
    ("get", "/api/search"),
    ("get", "/api/conversations/{id}/export"),
    ("post", "/api/conversations/{id}/typing"),
    ("get", "/api/ws"),
    ("get", "/api/ws/{user_id}"),
    ("post", "/api/ws/ticket"),
];

#[tokio::test]
async fn the_openapi_document_describes_every_route_of_the_contract() {
    let app = TestApp::spawn().await;
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status(), 200);
    let document: serde_json::Value = response.json().await.unwrap();
    for (method, path) in CONTRACT {
        let operation = &document["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} is missing from /openapi.json");
        assert!(operation["responses"].is_object(), "{method} {path} documents no responses");
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            let name = parameter["name"].as_str().unwrap();
            let in_path = path.contains(&format!("{{{name}}}"));
            let expected = if in_path { "path" } else { "query" };
            assert_eq!(parameter["in"], expected, "{method} {path}: parameter {name}");
            if !in_path && parameter["schema"]["type"].as_array().is_some_and(|t| t.contains(&"null".into()))
            {
                assert_ne!(parameter["required"], true, "{method} {path}: optional {name} is required");
            }
        }
    }
    assert_eq!(document["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    let docs = app.get("/docs/").await;
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger-ui"));
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let id = app.create_conversation(&rita, &["abe"]).await;
    app.send_message(&rita, &id, "hello").await;
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains(r#"parley_http_requests_total{method="POST",route="/api/messages",status="201"}"#),
        "{text}"
    );
    assert!(text.contains("parley_http_request_duration_seconds_bucket"), "{text}");
    assert!(text.contains("parley_append_seconds_bucket"), "{text}");
    assert!(text.contains("parley_projector_checkpoint"), "{text}");
}
