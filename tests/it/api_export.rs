//! Exporting a conversation over HTTP: the whole history, streamed, as NDJSON or CSV that
//! round-trips tricky content exactly; participants only.

use parley::domain::{ConversationId, Role};
use serde_json::{Value, json};

use crate::harness::TestApp;
use crate::harness::client::problem;
use crate::harness::scenario::{actor, exec, send};

const TRICKY: &[&str] = &[
    "Hello, \"Abe\", welcome",
    "line one\nline two\r\nline three",
    "Zoë 👍 履歴書, «quoted»",
    "=SUM(A1:A9) ;tab\there",
    "trailing backslash \\",
];

async fn history(app: &TestApp, token: &str, id: &str) -> Vec<Value> {
    let (_, page) = app.get_json(&format!("/api/conversations/{id}/messages?after=0&limit=200"), token).await;
    page["messages"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_export_is_the_whole_history_as_ndjson_or_csv_and_round_trips_tricky_content() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    for text in TRICKY {
        app.send_message(&rita, &id, text).await;
    }
    let edited = app.send_message(&abe, &id, "typo'd").await;
    app.patch(
        &format!("/api/messages/{}", edited["id"].as_str().unwrap()),
        &abe,
        json!({"content": "fixed, \"really\""}),
    )
    .await;
    let gone = app.send_message(&abe, &id, "delete me").await;
    app.delete(&format!("/api/messages/{}", gone["id"].as_str().unwrap()), &abe).await;
    app.post(
        &format!("/api/messages/{}/reactions", edited["id"].as_str().unwrap()),
        &rita,
        json!({"emoji": "👍"}),
    )
    .await;
    let expected = history(&app, &abe, &id).await;
    assert_eq!(expected.len(), TRICKY.len() + 2);

    let response = app.get_as(&format!("/api/conversations/{id}/export"), &abe).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    assert!(response.headers()["content-disposition"].to_str().unwrap().contains(".ndjson"));
    let text = response.text().await.unwrap();
    let lines: Vec<Value> =
        text.lines().map(|line| serde_json::from_str(line).expect("one JSON message per line")).collect();
    assert_eq!(lines, expected, "the same messages as the history, oldest first");

    let response = app.get_as(&format!("/api/conversations/{id}/export?format=csv"), &abe).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    let body = response.bytes().await.unwrap();
    let mut reader = csv::Reader::from_reader(body.as_ref());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header[..7], ["id", "seq", "created_at", "sender_id", "sender_type", "kind", "content"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("well-formed CSV")).collect();
    assert_eq!(rows.len(), expected.len());
    for (row, message) in rows.iter().zip(&expected) {
        assert_eq!(&row[0], message["id"].as_str().unwrap());
        assert_eq!(&row[1], message["seq"].to_string().as_str());
        assert_eq!(&row[2], message["created_at"].as_str().unwrap());
        assert_eq!(&row[6], message["content"].as_str().unwrap(), "content round-trips exactly");
        assert_eq!(&row[9], message["deleted"].to_string().as_str());
        assert_eq!(serde_json::from_str::<Value>(&row[11]).unwrap(), message["reactions"]);
    }
    assert_eq!(&rows[TRICKY.len()][6], "fixed, \"really\"");
    assert_eq!((&rows[TRICKY.len() + 1][6], &rows[TRICKY.len() + 1][9]), ("", "true"));
}

#[tokio::test]
async fn an_export_holds_every_message_not_one_page() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let conversation = ConversationId::parse(&id).unwrap();
    let sender = actor("rita", Role::Recruiter);
    for i in 0..450 {
        let (_, command) = send("rita", &format!("message {i}: {}", "padding ".repeat(20)));
        exec(&app, &sender, conversation, command).await;
    }
    app.catch_up().await;
    let text = app.get_as(&format!("/api/conversations/{id}/export"), &rita).await.text().await.unwrap();
    let seqs: Vec<u64> =
        text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs.len(), 450);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "oldest first");
    let csv =
        app.get_as(&format!("/api/conversations/{id}/export?format=csv"), &rita).await.bytes().await.unwrap();
    assert_eq!(csv::Reader::from_reader(csv.as_ref()).records().count(), 450);
}

#[tokio::test]
async fn only_participants_and_services_may_export() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let eve = app.token("eve", Role::Applicant);
    let service = app.token("ats", Role::Service);
    let id = app.create_conversation(&rita, &["abe"]).await;
    app.send_message(&rita, &id, "private").await;
    let path = format!("/api/conversations/{id}/export");
    problem(app.get_json(&path, &eve).await, 404);
    problem(app.get_json(&format!("/api/conversations/{}/export", uuid::Uuid::now_v7()), &rita).await, 404);
    problem(app.get_json(&format!("{path}?format=xml"), &rita).await, 400);
    assert_eq!(app.get_as(&path, &service).await.status(), 200);
    app.delete(&format!("/api/conversations/{id}/participants/abe"), &abe).await;
    problem(app.get_json(&path, &abe).await, 404);
}
