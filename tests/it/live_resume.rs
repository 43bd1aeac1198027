//! Resuming with `since`: every event of the user's conversations after it, in order, then
//! live, with no gap and no duplicate, however the disconnects fall.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use parley::domain::Role;
use serde_json::{Value, json};

use crate::harness::TestApp;
use crate::harness::ws::WsClient;

/// The seqs of every durable event frame received, in order.
fn seqs(frames: &[Value]) -> Vec<u64> {
    frames.iter().filter_map(|f| f["seq"].as_u64()).collect()
}

#[tokio::test]
async fn resuming_replays_what_was_missed_then_goes_live() {
    let app = TestApp::spawn().await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let first = app.send_message(&rita, &id, "one").await;
    let seen = first["seq"].as_u64().unwrap();
    let second = app.send_message(&rita, &id, "two").await;
    let elsewhere = app.create_conversation(&rita, &["cy"]).await;
    app.send_message(&rita, &elsewhere, "not for Abe").await;
    let third = app.send_message(&abe, &id, "three").await;
    let mut abe_ws = app.ws(&abe, Some(seen)).await;
    assert_eq!(abe_ws.frames[0]["resumed_from"], seen);
    let replayed = abe_ws.next_frame().await;
    assert_eq!(replayed["seq"], second["seq"]);
    assert_eq!(abe_ws.next_frame().await["seq"], third["seq"]);
    let live = app.send_message(&rita, &id, "four").await;
    assert_eq!(abe_ws.next_frame_of_type("message.sent").await["seq"], live["seq"]);
    let received: Vec<u64> = seqs(&abe_ws.frames);
    assert_eq!(received, [&second, &third, &live].map(|m| m["seq"].as_u64().unwrap()));

    let (status, body) = app
        .ws_connect(crate::harness::ws::Connect {
            path: "/api/ws?since=999999",
            bearer: Some(&abe),
            ..Default::default()
        })
        .await
        .map(|_| (101, Value::Null))
        .unwrap_or_else(|refused| (refused.status, refused.body));
    assert_eq!(status, 400, "a since beyond the log is refused: {body}");
}

struct Client {
    user: &'static str,
    token: String,
    socket: Option<WsClient>,
    /// Seqs received across every connection, in order.
    received: Vec<u64>,
}

impl Client {
    fn last(&self) -> Option<u64> {
        self.received.last().copied()
    }

    /// Moves what the open socket received into `received`.
    fn collect(&mut self) {
        if let Some(socket) = &mut self.socket {
            self.received.extend(seqs(&socket.frames));
            socket.frames.clear();
        }
    }
}

#[tokio::test]
async fn resume_under_continuous_sending_is_gap_free_and_duplicate_free() {
    let app = TestApp::spawn().await;
    let users = ["rita", "abe", "cy", "dana"];
    let tokens: HashMap<&str, String> = users
        .iter()
        .map(|u| (*u, app.token(u, if *u == "rita" { Role::Recruiter } else { Role::Applicant })))
        .collect();
    // Overlapping conversations: each client sees a different subset of the log.
    let groups = [vec!["abe"], vec!["abe", "cy"], vec!["dana"], vec!["cy", "dana"]];
    let mut conversations = Vec::new();
    for group in &groups {
        conversations.push(app.create_conversation(&tokens["rita"], group).await);
    }
    let mut clients: Vec<Client> = ["abe", "cy", "dana"]
        .into_iter()
        .map(|user| Client { user, token: tokens[user].clone(), socket: None, received: Vec::new() })
        .collect();
    let start = app.state.log.last_seq().await.unwrap();
    for client in &mut clients {
        client.socket = Some(app.ws(&client.token, Some(start)).await);
    }

    // A sender appends continuously on every conversation while clients drop and resume.
    let sending = {
        let server_url = app.url("/api/messages");
        let http = app.http.clone();
        let senders: Vec<(String, String)> = conversations
            .iter()
            .zip(&groups)
            .map(|(conversation, group)| {
                (conversation.clone(), tokens[if group.len() > 1 { group[0] } else { "rita" }].clone())
            })
            .collect();
        tokio::spawn(async move {
            for round in 0..60 {
                for (conversation, token) in &senders {
                    let body =
                        json!({"conversation_id": conversation, "content": format!("message {round}")});
                    let response =
                        http.post(&server_url).bearer_auth(token).json(&body).send().await.unwrap();
                    assert!(response.status().is_success(), "{}", response.status());
                }
            }
        })
    };
    // A fixed-seed xorshift: a failure replays the same disconnects.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut random = move |below: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % below
    };
    while !sending.is_finished() {
        let pick = random(clients.len() as u64) as usize;
        let pause = 5 + random(55);
        let client = &mut clients[pick];
        // Read for a while, then drop the connection and resume where the frames ended.
        if let Some(socket) = &mut client.socket {
            while socket.try_next_frame(Duration::from_millis(pause)).await.is_some() {}
        }
        client.collect();
        client.socket = None;
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let since = client.last().unwrap_or(start);
        client.socket = Some(app.ws(&client.token, Some(since)).await);
    }
    sending.await.unwrap();
    let tip = app.state.log.last_seq().await.unwrap();

    for client in &mut clients {
        let mine: BTreeSet<usize> =
            groups.iter().enumerate().filter(|(_, g)| g.contains(&client.user)).map(|(i, _)| i).collect();
        let mut expected = Vec::new();
        for seq in start + 1..=tip {
            let raw = app.state.log.get(seq).await.unwrap().unwrap();
            let conversation = raw.subject.split('.').nth(2).unwrap().to_owned();
            if mine.iter().any(|i| conversations[*i] == conversation) {
                expected.push(seq);
            }
        }
        let last = *expected.last().unwrap();
        client.collect();
        while client.last() != Some(last) {
            let socket = client.socket.as_mut().unwrap();
            if socket.try_next_frame(crate::harness::ws::WAIT).await.is_none() {
                break;
            }
            client.collect();
        }
        assert_eq!(
            client.received, expected,
            "{} received exactly its conversations' events, in order",
            client.user
        );
    }
}
