//! Two instances sharing NATS and PostgreSQL: delivery, typing and presence cross between
//! them.

use std::time::Duration;

use parley::domain::Role;
use serde_json::{Value, json};

use crate::harness::TestApp;
use crate::harness::app::Server;

/// Polls `GET /api/presence` on `server` until `user` has `status`, returning the entry.
async fn presence_becomes(server: &Server, token: &str, user: &str, status: &str, within: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let (_, answer) = server.get_json(&format!("/api/presence?user_ids={user}"), token).await;
        if answer[0]["status"] == status {
            return answer[0].clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "{user} did not become {status}: {answer}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn two_instances_deliver_messages_and_typing_across_instances() {
    let app = TestApp::spawn().await;
    let other = app.peer(|_| {}).await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let mut rita_ws = app.ws(&rita, None).await;
    let mut abe_ws = other.ws(&abe, None).await;
    let sent = other.send_message(&abe, &id, "from the other instance").await;
    assert_eq!(rita_ws.next_frame_of_type("message.sent").await["seq"], sent["seq"]);
    let reply = app.send_message(&rita, &id, "back to you").await;
    // Abe hears his own message first (every participant does), then Rita's reply.
    assert_eq!(abe_ws.next_frame_of_type("message.sent").await["seq"], sent["seq"]);
    assert_eq!(abe_ws.next_frame_of_type("message.sent").await["seq"], reply["seq"]);
    rita_ws.send_json(json!({"type": "typing", "conversation_id": id, "is_typing": true})).await;
    let typing = abe_ws.next_frame_of_type("typing").await;
    assert_eq!(
        typing,
        json!({"type": "typing", "conversation_id": id, "user_id": "rita", "is_typing": true})
    );
}

#[tokio::test]
async fn presence_goes_online_and_offline_across_instances() {
    let app = TestApp::spawn().await;
    let other = app.peer(|_| {}).await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    app.create_conversation(&rita, &["abe"]).await;
    let mut rita_ws = app.ws(&rita, None).await;
    let absent = presence_becomes(&app, &rita, "abe", "offline", Duration::from_secs(5)).await;
    assert_eq!(absent["last_seen"], Value::Null, "never seen: {absent}");

    let phone = other.ws(&abe, None).await;
    let laptop = other.ws(&abe, None).await;
    let online = rita_ws.next_frame_of_type("presence").await;
    assert_eq!((&online["user_id"], &online["status"]), (&json!("abe"), &json!("online")));
    presence_becomes(&app, &rita, "abe", "online", Duration::from_secs(5)).await;
    let (_, profile) = app.get_json("/api/users/abe", &rita).await;
    assert_eq!(profile["status"], "online", "{profile}");

    // Online while any session is connected.
    drop(phone);
    let still = presence_becomes(&app, &rita, "abe", "online", Duration::from_secs(1)).await;
    assert_eq!(still["status"], "online");
    drop(laptop);
    let offline = rita_ws.next_frame_of_type("presence").await;
    assert_eq!((&offline["user_id"], &offline["status"]), (&json!("abe"), &json!("offline")));
    assert!(offline["last_seen"].is_string(), "{offline}");
    let answer = presence_becomes(&app, &rita, "abe", "offline", Duration::from_secs(5)).await;
    assert!(answer["last_seen"].is_string(), "last_seen is kept: {answer}");
}

/// A `parley serve` process of its own on the test's services, with short presence timers.
fn serve_process(app: &TestApp, port: u16) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("NATS_URL", app.env.nats_url())
        .env("DATABASE_URL", &app.env.database_url)
        .env("PARLEY_DATA_DIR", app.env.dir.path().join("doomed"))
        .env("PARLEY_JWT_SECRET", crate::harness::app::TEST_JWT_SECRET)
        .env("PARLEY_PRESENCE_HEARTBEAT", "300ms")
        .env("PARLEY_PRESENCE_TTL", "1s")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starting parley serve")
}

#[tokio::test]
async fn an_instance_killed_outright_takes_its_users_offline_when_their_keys_expire() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    app.create_conversation(&rita, &["abe"]).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut doomed = serve_process(&app, port);
    let address = format!("127.0.0.1:{port}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while app.http.get(format!("http://{address}/healthz")).send().await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "the second instance did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut rita_ws = app.ws(&rita, None).await;
    let abe_ws = crate::harness::ws::connect_at(&address, "/api/ws", Some(&abe)).await;
    presence_becomes(&app, &rita, "abe", "online", Duration::from_secs(5)).await;
    // Renewals keep the key alive well past its one-second TTL.
    tokio::time::sleep(Duration::from_secs(2)).await;
    presence_becomes(&app, &rita, "abe", "online", Duration::from_millis(100)).await;
    doomed.kill().expect("killing the instance");
    doomed.wait().expect("reaping it");
    let offline = rita_ws.next_frame_where(|f| f["type"] == "presence" && f["status"] == "offline").await;
    assert_eq!(offline["user_id"], "abe");
    let answer = presence_becomes(&app, &rita, "abe", "offline", Duration::from_secs(10)).await;
    assert!(answer["last_seen"].is_string(), "{answer}");
    drop(abe_ws);
}

#[tokio::test]
async fn a_ticket_from_one_instance_opens_a_session_on_another_once() {
    let app = TestApp::spawn().await;
    let other = app.peer(|_| {}).await;
    let abe = app.token("abe", Role::Applicant);
    let (status, body) = app.call(reqwest::Method::POST, "/api/ws/ticket", Some(&abe), None).await;
    assert_eq!(status, 200, "{body}");
    let path = format!("/api/ws?ticket={}", body["ticket"].as_str().unwrap());
    let connect = || crate::harness::ws::Connect { path: &path, ..Default::default() };
    let mut session = other.ws_connect(connect()).await.expect("the other instance accepts the ticket");
    assert_eq!(session.next_frame().await["user_id"], "abe");
    let again = app.ws_connect(connect()).await;
    assert_eq!(again.err().map(|refused| refused.status), Some(401), "used up, on every instance");
}
