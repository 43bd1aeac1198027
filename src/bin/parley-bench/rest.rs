//! REST send: `POST /api/messages` from concurrent keep-alive clients, each in its own
//! conversation, for a fixed time: messages per second and latency.

use std::time::{Duration, Instant};

use parley::domain::Role;
use serde_json::json;

use super::env::{Server, token};
use super::report::Sample;
use super::stats::{Latencies, rate};

/// One conversation per client: `(client token, conversation id)`.
pub async fn conversations(server: &Server, clients: usize) -> anyhow::Result<Vec<(String, String)>> {
    let http = reqwest::Client::new();
    let mut out = Vec::with_capacity(clients);
    for i in 0..clients {
        let recruiter = token(&format!("recruiter-{i}"), Role::Recruiter);
        let response = http
            .post(format!("{}/api/conversations", server.base))
            .bearer_auth(&recruiter)
            .json(&json!({"participant_ids": [format!("applicant-{i}")], "title": "Benchmark"}))
            .send()
            .await?;
        anyhow::ensure!(response.status().is_success(), "creating a conversation: {}", response.status());
        let body: serde_json::Value = response.json().await?;
        out.push((recruiter, body["id"].as_str().unwrap_or_default().to_owned()));
    }
    Ok(out)
}

pub async fn run(
    server: &Server,
    clients: &[(String, String)],
    duration: Duration,
) -> anyhow::Result<Sample> {
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, (token, conversation)) in clients.iter().cloned().enumerate() {
        let url = format!("{}/api/messages", server.base);
        tasks.push(tokio::spawn(async move {
            // One connection per client, kept alive.
            let http = reqwest::Client::builder().pool_max_idle_per_host(1).build()?;
            let mut latencies = Latencies::with_capacity(16_384);
            let mut n = 0u64;
            while Instant::now() < deadline {
                let body = json!({"conversation_id": conversation, "content": "How about Tuesday at 10?",
                                  "client_msg_id": format!("b-{i}-{n}-{}", uuid::Uuid::new_v4().simple())});
                let sent = Instant::now();
                let response = http.post(&url).bearer_auth(&token).json(&body).send().await?;
                let status = response.status();
                let _ = response.bytes().await?;
                anyhow::ensure!(status.is_success(), "send answered {status}");
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
    let elapsed = started.elapsed();
    let count = all.len() as u64;
    Ok(Sample::from([
        ("rate", rate(count, elapsed)),
        ("p50_ms", all.percentile_ms(50.0)),
        ("p99_ms", all.percentile_ms(99.0)),
    ]))
}
