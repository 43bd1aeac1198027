//! Authentication and Origin checks at the WebSocket handshake, and closing a session when
//! its token expires.

use std::time::Duration;

use parley::domain::{Role, UserId};
use serde_json::{Value, json};

use crate::harness::TestApp;
use crate::harness::ws::{Connect, WsClient};

async fn refused(result: Result<WsClient, crate::harness::ws::Refused>) -> (u16, Value) {
    match result {
        Ok(_) => panic!("the handshake was accepted"),
        Err(refused) => (refused.status, refused.body),
    }
}

async fn established(mut client: WsClient) -> Value {
    let first = client.next_frame().await;
    assert_eq!(first["type"], "connection_established", "{first}");
    first
}

#[tokio::test]
async fn sessions_authenticate_by_header_access_token_or_ticket() {
    let app = TestApp::spawn().await;
    let abe = app.token("abe", Role::Applicant);
    let header = app.ws_connect(Connect { path: "/api/ws", bearer: Some(&abe), ..Connect::default() }).await;
    let first = established(header.unwrap()).await;
    assert_eq!((&first["user_id"], &first["resumed_from"]), (&json!("abe"), &Value::Null));
    assert!(first["session_id"].is_string() && first["server_time"].is_string(), "{first}");

    let query = format!("/api/ws?access_token={abe}");
    established(app.ws_connect(Connect { path: &query, ..Connect::default() }).await.unwrap()).await;

    let (status, body) = app.call(reqwest::Method::POST, "/api/ws/ticket", Some(&abe), None).await;
    assert_eq!(status, 200, "{body}");
    let ticket = body["ticket"].as_str().unwrap().to_owned();
    let path = format!("/api/ws?ticket={ticket}");
    let first =
        established(app.ws_connect(Connect { path: &path, ..Connect::default() }).await.unwrap()).await;
    assert_eq!(first["user_id"], "abe");
    let (status, body) = refused(app.ws_connect(Connect { path: &path, ..Connect::default() }).await).await;
    assert_eq!(status, 401, "a ticket works once: {body}");

    let (status, _) = refused(app.ws_connect(Connect { path: "/api/ws", ..Connect::default() }).await).await;
    assert_eq!(status, 401, "no credentials");
    let forged = Connect { path: "/api/ws?access_token=a.b.c", ..Connect::default() };
    assert_eq!(refused(app.ws_connect(forged).await).await.0, 401);
    let (status, _) = app.call(reqwest::Method::POST, "/api/ws/ticket", None, None).await;
    assert_eq!(status, 401);

    established(
        app.ws_connect(Connect { path: "/api/ws/abe", bearer: Some(&abe), ..Connect::default() })
            .await
            .unwrap(),
    )
    .await;
    let other = Connect { path: "/api/ws/rita", bearer: Some(&abe), ..Connect::default() };
    assert_eq!(refused(app.ws_connect(other).await).await.0, 403);
}

#[tokio::test]
async fn tickets_racing_to_be_redeemed_let_exactly_one_through() {
    let app = TestApp::spawn().await;
    let abe = app.token("abe", Role::Applicant);
    let (_, body) = app.call(reqwest::Method::POST, "/api/ws/ticket", Some(&abe), None).await;
    let path = format!("/api/ws?ticket={}", body["ticket"].as_str().unwrap());
    let attempts = futures::future::join_all(
        (0..5).map(|_| app.ws_connect(Connect { path: &path, ..Connect::default() })),
    )
    .await;
    let accepted = attempts.iter().filter(|a| a.is_ok()).count();
    assert_eq!(accepted, 1, "exactly one of the racing redemptions wins");
}

#[tokio::test]
async fn an_expired_ticket_is_refused() {
    let app = TestApp::spawn_with(crate::harness::TestEnv::start().await, |config| {
        config.live.ws_ticket_ttl = Duration::from_secs(1);
    })
    .await;
    let abe = app.token("abe", Role::Applicant);
    let (_, body) = app.call(reqwest::Method::POST, "/api/ws/ticket", Some(&abe), None).await;
    assert_eq!(body["expires_in"], 1);
    let path = format!("/api/ws?ticket={}", body["ticket"].as_str().unwrap());
    // Expiry is a matter of time passing; nothing to poll for.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, _) = refused(app.ws_connect(Connect { path: &path, ..Connect::default() }).await).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn browser_origins_are_checked_against_the_allowlist() {
    let app = TestApp::spawn_with(crate::harness::TestEnv::start().await, |config| {
        config.live.ws_allowed_origins = vec!["https://app.example.com".into()];
    })
    .await;
    let abe = app.token("abe", Role::Applicant);
    let with_origin =
        |origin| Connect { path: "/api/ws", bearer: Some(&abe), origin: Some(origin), ..Connect::default() };
    let (status, body) = refused(app.ws_connect(with_origin("https://evil.example.net")).await).await;
    assert_eq!(status, 403, "{body}");
    established(app.ws_connect(with_origin("https://app.example.com")).await.unwrap()).await;
    let own = app.address.clone();
    established(app.ws_connect(with_origin(&own)).await.unwrap()).await;
}

#[tokio::test]
async fn a_session_is_closed_when_its_token_expires() {
    let app = TestApp::spawn().await;
    let abe = UserId::parse("abe").unwrap();
    let token = app.signer().mint(&abe, Role::Applicant, None, Duration::from_secs(2)).unwrap();
    let mut ws = app.ws(&token, None).await;
    let closed = ws.closed().await;
    assert_eq!((closed.code, closed.reason.as_str()), (Some(1008), "token expired"));
}
