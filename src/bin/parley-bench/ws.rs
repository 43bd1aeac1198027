//! WebSocket scenarios: sending through `message.send` frames, delivery latency from a send
//! to the frame at the recipient (beside core NATS publish-to-subscriber latency), and the
//! server's memory with many idle authenticated sessions.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use parley::domain::Role;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::env::{Server, token};
use super::report::Sample;
use super::stats::{Latencies, rate};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Sink = SplitSink<Socket, Message>;
type Frames = SplitStream<Socket>;

/// Opens a session on the server at `base` and waits for `connection_established`.
pub async fn connect(base: &str, token: &str) -> anyhow::Result<Socket> {
    let url = format!("{}/api/ws?access_token={token}", base.replacen("http", "ws", 1));
    // Small buffers: the load generator holds thousands of these.
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(4096);
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Some(frame) = tokio::time::timeout_at(deadline.into(), socket.next()).await? {
        if let Message::Text(text) = frame?
            && serde_json::from_str::<Value>(&text)?["type"] == "connection_established"
        {
            return Ok(socket);
        }
    }
    anyhow::bail!("the session closed before connection_established")
}

fn send_frame(conversation: &str, key: &str) -> Message {
    Message::text(
        json!({"type": "message.send", "conversation_id": conversation, "content": "See you on Tuesday!",
               "client_msg_id": key})
        .to_string(),
    )
}

/// Closed-loop `message.send` from each client in its own conversation: rate and ack latency.
pub async fn send(
    server: &Server,
    clients: &[(String, String)],
    duration: Duration,
) -> anyhow::Result<Sample> {
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, (token, conversation)) in clients.iter().cloned().enumerate() {
        let socket = connect(&server.base, &token).await?;
        tasks.push(tokio::spawn(async move {
            let (mut sink, mut frames) = socket.split();
            let mut latencies = Latencies::with_capacity(16_384);
            let mut n = 0u64;
            while Instant::now() < deadline {
                let key = format!("w{i}-{n}-{}", uuid::Uuid::new_v4().simple());
                let sent = Instant::now();
                sink.send(send_frame(&conversation, &key)).await?;
                loop {
                    let frame = frames.next().await.ok_or_else(|| anyhow::anyhow!("session closed"))??;
                    let Message::Text(text) = frame else { continue };
                    let frame: Value = serde_json::from_str(&text)?;
                    match frame["type"].as_str() {
                        Some("ack") if frame["client_msg_id"] == key.as_str() => break,
                        Some("error") => anyhow::bail!("message.send refused: {frame}"),
                        _ => {}
                    }
                }
                latencies.record(sent.elapsed());
                n += 1;
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Latencies::default();
    for task in tasks {
        all.extend(task.await??);
    }
    let count = all.len() as u64;
    Ok(Sample::from([
        ("rate", rate(count, started.elapsed())),
        ("p50_ms", all.percentile_ms(50.0)),
        ("p99_ms", all.percentile_ms(99.0)),
    ]))
}

/// Pairs of users with a conversation each: `(sender token, recipient token, conversation)`.
pub async fn pairs(server: &Server, n: usize) -> anyhow::Result<Vec<(String, String, String)>> {
    let service = token("bench-service", Role::Service);
    let http = reqwest::Client::new();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let (a, b) = (format!("bench-rec-{i}"), format!("bench-app-{i}"));
        let body: Value = http
            .post(format!("{}/api/conversations", server.base))
            .bearer_auth(&service)
            .json(&json!({"participant_ids": [a, b], "participant_types": ["recruiter", "applicant"]}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        out.push((
            token(&a, Role::Recruiter),
            token(&b, Role::Applicant),
            body["id"].as_str().unwrap_or_default().to_owned(),
        ));
    }
    Ok(out)
}

/// Reads a recipient's frames, recording the latency of each `message.sent` from the
/// other side (its `client_msg_id` carries the send time).
async fn receive(
    mut frames: Frames,
    origin: Instant,
    seen: Arc<Mutex<Latencies>>,
    stop: Instant,
) -> anyhow::Result<u64> {
    let mut received = 0;
    while let Ok(Some(frame)) = tokio::time::timeout_at(stop.into(), frames.next()).await {
        let Message::Text(text) = frame? else { continue };
        let frame: Value = serde_json::from_str(&text)?;
        if frame["type"] != "message.sent"
            || !frame["data"]["sender_id"].as_str().unwrap_or("").starts_with("bench-rec")
        {
            continue;
        }
        let key = frame["data"]["client_msg_id"].as_str().unwrap_or_default();
        if let Some(sent_at) =
            key.strip_prefix("d-").and_then(|rest| rest.split('-').nth(1)).and_then(|n| n.parse::<u64>().ok())
        {
            let latency = origin.elapsed().saturating_sub(Duration::from_micros(sent_at));
            seen.lock().await.record(latency);
            received += 1;
        }
    }
    Ok(received)
}

/// Drains a sender's own frames (acks, echoes) so its session never backs up.
async fn drain(mut frames: Frames, stop: Instant) {
    while let Ok(Some(Ok(_))) = tokio::time::timeout_at(stop.into(), frames.next()).await {}
}

/// `users` connected users in pairs; the senders send `per_second` messages a second in
/// total for `duration`; every message must reach its recipient.
pub async fn delivery(
    server: &Server,
    pairs: &[(String, String, String)],
    per_second: u32,
    duration: Duration,
) -> anyhow::Result<Sample> {
    let origin = Instant::now();
    let stop = origin + duration + Duration::from_secs(60);
    let seen =
        Arc::new(Mutex::new(Latencies::with_capacity(per_second as usize * duration.as_secs() as usize)));
    let mut sinks: Vec<Sink> = Vec::with_capacity(pairs.len());
    let mut readers = Vec::new();
    for (sender, recipient, _) in pairs {
        let (sink, frames) = connect(&server.base, sender).await?.split();
        tokio::spawn(drain(frames, stop));
        sinks.push(sink);
        let (_, frames) = connect(&server.base, recipient).await?.split();
        readers.push(tokio::spawn(receive(frames, origin, seen.clone(), stop)));
    }
    // Sessions go live after catching up; give the last ones a moment.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let total = per_second as u64 * duration.as_secs();
    let interval = Duration::from_secs_f64(1.0 / f64::from(per_second));
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for n in 0..total {
        ticker.tick().await;
        let i = n as usize % pairs.len();
        let key = format!("d-{n}-{}", origin.elapsed().as_micros());
        sinks[i].send(send_frame(&pairs[i].2, &key)).await?;
    }
    // Wait (bounded) until every message arrived.
    let deadline = Instant::now() + Duration::from_secs(30);
    while (seen.lock().await.len() as u64) < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut latencies = std::mem::take(&mut *seen.lock().await);
    let received = latencies.len() as u64;
    for reader in readers {
        reader.abort();
    }
    Ok(Sample::from([
        ("p50_ms", latencies.percentile_ms(50.0)),
        ("p99_ms", latencies.percentile_ms(99.0)),
        ("max_ms", latencies.percentile_ms(100.0)),
        ("lost", total.saturating_sub(received) as f64),
    ]))
}

/// Core NATS publish → subscriber latency at the same rate, on the same machine.
pub async fn nats_latency(
    client: &async_nats::Client,
    per_second: u32,
    count: u64,
) -> anyhow::Result<Sample> {
    let origin = Instant::now();
    let mut subscriber = client.subscribe("bench.latency").await?;
    client.flush().await?;
    let reader = tokio::spawn(async move {
        let mut latencies = Latencies::with_capacity(count as usize);
        while latencies.len() < count as usize {
            let Some(message) = subscriber.next().await else { break };
            let sent: u64 =
                std::str::from_utf8(&message.payload).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
            latencies.record(origin.elapsed().saturating_sub(Duration::from_micros(sent)));
        }
        latencies
    });
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(per_second)));
    for _ in 0..count {
        ticker.tick().await;
        client.publish("bench.latency", origin.elapsed().as_micros().to_string().into()).await?;
    }
    let mut latencies = tokio::time::timeout(Duration::from_secs(30), reader).await??;
    Ok(Sample::from([("p50_ms", latencies.percentile_ms(50.0)), ("p99_ms", latencies.percentile_ms(99.0))]))
}

/// Resident memory of the server with `n` idle authenticated sessions open.
pub async fn idle(server: &Server, n: usize) -> anyhow::Result<Sample> {
    let before = server.resident_bytes().unwrap_or(0);
    let sockets: Arc<Mutex<HashMap<usize, Socket>>> = Arc::default();
    let mut batch = Vec::new();
    for i in 0..n {
        let (server_base, token) = (server.base.clone(), token(&format!("bench-idle-{i}"), Role::Applicant));
        let sockets = sockets.clone();
        batch.push(tokio::spawn(async move {
            let socket = connect(&server_base, &token).await?;
            sockets.lock().await.insert(i, socket);
            anyhow::Ok(())
        }));
        if batch.len() == 32 {
            for task in batch.drain(..) {
                task.await??;
            }
        }
    }
    for task in batch {
        task.await??;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = server.resident_bytes().unwrap_or(0);
    let open = sockets.lock().await.len();
    drop(sockets);
    Ok(Sample::from([
        ("sessions", open as f64),
        ("rss_mb", after as f64 / 1_048_576.0),
        ("per_session_kb", after.saturating_sub(before) as f64 / 1024.0 / open.max(1) as f64),
    ]))
}
