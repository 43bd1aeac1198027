//! Hostile HTTP input: deeply nested JSON, invalid UTF-8 where text is expected, huge
//! headers, slowloris clients and chunked bodies over the limit. Each is refused with a
//! clear answer (or cut off), changes nothing, and the server goes on serving others.

use std::time::{Duration, Instant};

use parley::domain::Role;
use serde_json::json;

use crate::harness::client::problem;
use crate::harness::raw::head;
use crate::harness::{TestApp, TestEnv};

/// The server still answers, and nothing was written to the log by the hostile requests.
async fn unharmed(app: &TestApp, tip_before: u64) {
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.state.log.last_seq().await.unwrap(), tip_before, "a refused request wrote events");
}

#[tokio::test]
async fn deeply_nested_json_is_refused_with_400_without_exhausting_the_stack() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let tip = app.state.log.last_seq().await.unwrap();
    // Deep enough to overflow a naive recursive parser, small enough to pass the body limit.
    let depth = 20_000;
    let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let objects = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
    // Nested inside a field the server ignores or rejects, and as the whole body.
    let in_field = format!(r#"{{"conversation_id":"{id}","content":"hi","extra":{arrays}}}"#);
    let in_content = format!(r#"{{"conversation_id":"{id}","content":{objects}}}"#);
    for body in [arrays.clone(), objects.clone(), in_field, in_content] {
        let response = app.post_raw("/api/messages", &rita, body).await;
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()["content-type"], "application/problem+json");
    }
    let event = format!(r#"{{"type":"submitted","event_id":{arrays}}}"#);
    let ats = app.token("ats", Role::Service);
    let response = app.post_raw("/api/system/application-events", &ats, event).await;
    assert_eq!(response.status(), 400);
    unharmed(&app, tip).await;
}

#[tokio::test]
async fn invalid_utf8_in_strings_paths_queries_and_headers_is_refused_as_a_client_error() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let tip = app.state.log.last_seq().await.unwrap();
    // A lone surrogate escape is valid JSON syntax but no Unicode text.
    let lone = format!(r#"{{"conversation_id":"{id}","content":"\ud800 hi"}}"#);
    let answer = app.post_raw("/api/messages", &rita, lone).await;
    assert_eq!(answer.status(), 400);
    for path in [
        "/api/users/%FF%FE".to_owned(),
        format!("/api/conversations/{id}/participants/%ED%A0%80"),
        format!("/api/messages/{id}/reactions/%F0%9F"),
    ] {
        let method = if path.contains("users") { "GET" } else { "DELETE" };
        let response = app
            .http
            .request(method.parse().unwrap(), app.url(&path))
            .bearer_auth(&rita)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert!((400..500).contains(&status), "{method} {path}: {status}");
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{path}");
    }
    // Query strings are decoded leniently (invalid sequences become U+FFFD, as browsers do):
    // a search for them finds nothing, and nothing fails.
    for path in
        [format!("/api/search?q=%FF%FE&conversation_id={id}"), "/api/presence?user_ids=%C3%28".to_owned()]
    {
        let (status, body) = app.get_json(&path, &rita).await;
        assert!(status == 200 || (400..500).contains(&status), "{path}: {status} {body}");
    }
    // A header value of raw non-ASCII bytes.
    let mut raw = app.raw().await;
    let mut request = head("GET", "/api/users/me", None).into_bytes();
    request.extend_from_slice(b"authorization: Bearer \xff\xfe\xfd\r\n\r\n");
    assert!(raw.write(&request).await);
    let answer = raw.answer(Duration::from_secs(5)).await;
    assert!(matches!(answer.status, Some(400) | Some(401)), "{answer:?}");
    unharmed(&app, tip).await;
}

#[tokio::test]
async fn huge_headers_are_refused_with_431_and_the_server_stays_up() {
    let app =
        TestApp::spawn_with(TestEnv::start().await, |config| config.limits.max_header_bytes = 8192).await;
    let rita = app.token("rita", Role::Recruiter);
    let tip = app.state.log.last_seq().await.unwrap();
    let big = "x".repeat(64 * 1024);
    let many: String = (0..500).map(|i| format!("x-filler-{i}: {i}\r\n")).collect();
    for extra in [format!("x-big: {big}\r\n"), many, format!("cookie: {big}\r\n")] {
        let mut raw = app.raw().await;
        let request = format!("{}{extra}\r\n", head("GET", "/api/users/me", Some(&rita)));
        // The server may stop reading (and close) before the whole head is written.
        raw.write(request.as_bytes()).await;
        let answer = raw.answer(Duration::from_secs(5)).await;
        assert!(answer.status == Some(431) || (answer.status.is_none() && answer.closed), "{answer:?}");
    }
    // Just under the limit is fine.
    let response = app
        .http
        .get(app.url("/api/users/me"))
        .bearer_auth(&rita)
        .header("x-padding", "y".repeat(4000))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    unharmed(&app, tip).await;
}

#[tokio::test]
async fn a_slowloris_client_is_cut_off_at_the_header_timeout_while_others_are_served() {
    let app = TestApp::spawn_with(TestEnv::start().await, |config| {
        config.limits.header_read_timeout = Duration::from_secs(2);
    })
    .await;
    let rita = app.token("rita", Role::Recruiter);
    let request = format!("{}x-slow: {}\r\n\r\n", head("GET", "/api/users/me", Some(&rita)), "z".repeat(64));
    let mut slow = Vec::new();
    for _ in 0..20 {
        slow.push(app.raw().await);
    }
    let started = Instant::now();
    let mut others = Vec::new();
    let mut cut_off_after = None;
    // One byte per 250 ms on every slow connection: the whole head would take over a minute.
    'trickle: for byte in request.as_bytes().chunks(1) {
        for connection in &mut slow {
            if !connection.write(byte).await {
                cut_off_after = Some(started.elapsed());
                break 'trickle;
            }
        }
        let asked = Instant::now();
        let response = app.get_as("/api/users/me", &rita).await;
        assert_eq!(response.status(), 200);
        others.push(asked.elapsed());
        tokio::time::sleep(Duration::from_millis(250)).await;
        if started.elapsed() > Duration::from_secs(10) {
            break;
        }
    }
    // Writes may still succeed into the socket buffer after the server closed; reading tells.
    for connection in &mut slow {
        assert!(connection.closed_within(Duration::from_secs(5)).await, "a slow client was not cut off");
    }
    let closed_at = cut_off_after.unwrap_or_else(|| started.elapsed());
    assert!(closed_at < Duration::from_secs(8), "cut off after {closed_at:?}");
    others.sort();
    let slowest = *others.last().unwrap();
    println!("slowloris: 20 slow clients cut off after {closed_at:?}; others' slowest answer {slowest:?}");
    assert!(slowest < Duration::from_secs(1), "others waited {slowest:?}");
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_refused_with_413_and_nothing_is_written() {
    let app = TestApp::spawn_with(TestEnv::start().await, |config| config.max_body_bytes = 4096).await;
    let rita = app.token("rita", Role::Recruiter);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let tip = app.state.log.last_seq().await.unwrap();
    // A valid JSON document whose content grows past the limit, sent without a length.
    let opening = format!(r#"{{"conversation_id":"{id}","content":""#);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = std::iter::once(Ok(opening.into_bytes()))
        .chain((0..64).map(|_| Ok(vec![b'a'; 1024])))
        .chain(std::iter::once(Ok(br#""}"#.to_vec())))
        .collect();
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let response = app
        .http
        .post(app.url("/api/messages"))
        .bearer_auth(&rita)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    match response {
        Ok(response) => {
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap();
            problem((status, body), 413);
        }
        // The server may answer and close before the client has finished sending.
        Err(e) => assert!(e.is_request() || e.is_body(), "{e:?}"),
    }
    // The same by hand, chunk by chunk, to see the answer whatever the client does.
    let mut raw = app.raw().await;
    let mut request = format!(
        "{}content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        head("POST", "/api/messages", Some(&rita))
    );
    let chunk = format!(r#"{{"conversation_id":"{id}","content":""#);
    request.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    assert!(raw.write(request.as_bytes()).await);
    for _ in 0..8 {
        let piece = "b".repeat(1024);
        if !raw.write(format!("{:x}\r\n{piece}\r\n", piece.len()).as_bytes()).await {
            break;
        }
    }
    let answer = raw.answer(Duration::from_secs(5)).await;
    assert_eq!(answer.status, Some(413), "{answer:?}");
    assert!(answer.text.contains("application/problem+json"), "{}", answer.text);
    let small = app.post("/api/messages", &rita, json!({"conversation_id": id, "content": "small"})).await;
    assert_eq!(small.0, 201, "{}", small.1);
    assert_eq!(app.state.log.last_seq().await.unwrap(), tip + 1, "only the small message was written");
}
