//! Full-text search over HTTP: ranked, paginated, highlighted, and never showing a message of
//! a conversation the caller is not in (now).

use parley::domain::Role;
use serde_json::{Value, json};

use crate::harness::TestApp;
use crate::harness::client::problem;

async fn search(app: &TestApp, token: &str, query: &str) -> Value {
    let (status, page) = app.get_json(&format!("/api/search?{query}"), token).await;
    assert_eq!(status, 200, "{page}");
    page
}

fn contents(page: &Value) -> Vec<String> {
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["message"]["content"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn search_finds_the_best_matches_first_with_escaped_highlighted_snippets() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let id = app.create_conversation(&rita, &["abe"]).await;
    for text in [
        "We use Rust and PostgreSQL",
        "Rust, rust and more Rust: we love rust",
        "Python only",
        "<b>Rust</b> & friends",
    ] {
        app.send_message(&rita, &id, text).await;
    }
    let page = search(&app, &rita, "q=RUST").await;
    let found = contents(&page);
    assert_eq!(found.len(), 3, "{page}");
    assert_eq!(found[0], "Rust, rust and more Rust: we love rust", "most matches rank first");
    let ranks: Vec<f64> =
        page["results"].as_array().unwrap().iter().map(|r| r["rank"].as_f64().unwrap()).collect();
    assert!(ranks.windows(2).all(|w| w[0] >= w[1]), "{ranks:?}");
    let tagged = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["message"]["content"] == "<b>Rust</b> & friends")
        .unwrap();
    let snippet = tagged["snippet"].as_str().unwrap();
    assert!(snippet.contains("<mark>Rust</mark>&lt;/b&gt; &amp; friends"), "{snippet}");
    assert!(!snippet.contains("<b>"), "the message's own markup is escaped: {snippet}");
    assert_eq!(page["next_cursor"], Value::Null);
    let both = contents(&search(&app, &rita, "q=rust%20postgresql").await);
    assert_eq!(both, ["We use Rust and PostgreSQL"], "every word must match");
    let phrase = contents(&search(&app, &rita, "q=%22python%20only%22").await);
    assert_eq!(phrase, ["Python only"]);
}

#[tokio::test]
async fn search_never_leaks_messages_of_conversations_the_caller_is_not_in() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let cy = app.token("cy", Role::Applicant);
    let eve = app.token("eve", Role::Applicant);
    let service = app.token("ats", Role::Service);
    let with_abe = app.create_conversation(&rita, &["abe"]).await;
    let with_cy = app.create_conversation(&rita, &["cy"]).await;
    let left = app.create_conversation(&rita, &["abe", "cy"]).await;
    app.send_message(&rita, &with_abe, "secret salary for abe").await;
    app.send_message(&rita, &with_cy, "secret bonus for cy").await;
    app.send_message(&rita, &left, "secret handshake before abe left").await;
    app.delete(&format!("/api/conversations/{left}/participants/abe"), &abe).await;
    app.send_message(&rita, &left, "secret plan after abe left").await;

    assert_eq!(contents(&search(&app, &abe, "q=secret").await), ["secret salary for abe"]);
    let mut seen_by_cy = contents(&search(&app, &cy, "q=secret").await);
    seen_by_cy.sort();
    assert_eq!(
        seen_by_cy,
        ["secret bonus for cy", "secret handshake before abe left", "secret plan after abe left"]
    );
    assert_eq!(contents(&search(&app, &eve, "q=secret").await), Vec::<String>::new());
    for other in [&with_cy, &left] {
        problem(app.get_json(&format!("/api/search?q=secret&conversation_id={other}"), &abe).await, 404);
    }
    let only = contents(&search(&app, &rita, &format!("q=secret&conversation_id={with_cy}")).await);
    assert_eq!(only, ["secret bonus for cy"]);
    problem(app.get_json("/api/search?q=secret", &service).await, 400);
    let for_service =
        contents(&search(&app, &service, &format!("q=secret&conversation_id={with_abe}")).await);
    assert_eq!(for_service, ["secret salary for abe"]);
}

#[tokio::test]
async fn deleted_and_edited_away_text_is_not_found() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let gone = app.send_message(&rita, &id, "confidential offer").await;
    let typo = app.send_message(&rita, &id, "teh contract").await;
    app.delete(&format!("/api/messages/{}", gone["id"].as_str().unwrap()), &rita).await;
    app.patch(
        &format!("/api/messages/{}", typo["id"].as_str().unwrap()),
        &rita,
        json!({"content": "the contract"}),
    )
    .await;
    assert!(contents(&search(&app, &rita, "q=confidential").await).is_empty());
    assert!(contents(&search(&app, &rita, "q=teh").await).is_empty());
    assert_eq!(contents(&search(&app, &rita, "q=contract").await), ["the contract"]);
}

#[tokio::test]
async fn pages_follow_the_cursor_without_gaps_or_repeats() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let id = app.create_conversation(&rita, &["abe"]).await;
    for i in 0..7 {
        // Some share a rank: the sequence breaks the tie.
        let text = format!("{} report number {i}", "report ".repeat(i % 3));
        app.send_message(&rita, &id, &text).await;
    }
    let all = search(&app, &rita, "q=report&limit=100").await;
    let expected: Vec<&Value> =
        all["results"].as_array().unwrap().iter().map(|r| &r["message"]["id"]).collect();
    assert_eq!(expected.len(), 7);
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("q=report&limit=3&cursor={c}"),
            None => "q=report&limit=3".to_owned(),
        };
        let page = search(&app, &rita, &query).await;
        paged.extend(page["results"].as_array().unwrap().iter().map(|r| r["message"]["id"].clone()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged.iter().collect::<Vec<_>>(), expected);
}

#[tokio::test]
async fn malformed_searches_are_refused() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    for (query, field) in [
        ("q=%20%20", "q"),
        ("q=x&limit=0", "limit"),
        ("q=x&limit=101", "limit"),
        ("q=x&cursor=bogus", "cursor"),
        ("q=x&conversation_id=nope", "conversation_id"),
        ("limit=5", "query"),
    ] {
        let answer = problem(app.get_json(&format!("/api/search?{query}"), &rita).await, 400);
        assert_eq!(answer["errors"][0]["field"], field, "{query}: {answer}");
    }
    problem(app.get_json(&format!("/api/search?q={}", "x".repeat(257)), &rita).await, 400);
}
