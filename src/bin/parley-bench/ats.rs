//! ATS events to the screen: the ATS publishes application events to NATS; both participants
//! of each application are connected over WebSocket; the figure is the time from the
//! publish to the system message's frame at each participant.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use parley::domain::Role;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

use super::env::{Env, Server, token};
use super::report::Sample;
use super::stats::Latencies;
use super::ws::connect;

pub async fn run(
    env: &Env,
    server: &Server,
    applications: usize,
    per_second: u32,
    count: usize,
) -> anyhow::Result<Sample> {
    let origin = Instant::now();
    let seen = Arc::new(Mutex::new(Latencies::with_capacity(count * 2)));
    let stop = origin + Duration::from_secs(120);
    let run = uuid::Uuid::new_v4().simple().to_string();
    let mut readers = Vec::new();
    for i in 0..applications {
        for (user, role) in
            [(format!("ats-cand-{i}"), Role::Applicant), (format!("ats-rec-{i}"), Role::Recruiter)]
        {
            let (_, mut frames) = connect(&server.base, &token(&user, role)).await?.split();
            let seen = seen.clone();
            readers.push(tokio::spawn(async move {
                while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(stop.into(), frames.next()).await {
                    let Message::Text(text) = frame else { continue };
                    let Ok(frame) = serde_json::from_str::<Value>(&text) else { continue };
                    let event = frame["data"]["system"]["ats_event_id"].as_str().unwrap_or_default();
                    if let Some(sent) = event.rsplit('-').next().and_then(|t| t.parse::<u64>().ok()) {
                        seen.lock()
                            .await
                            .record(origin.elapsed().saturating_sub(Duration::from_micros(sent)));
                    }
                }
            }));
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let js = env.log.jetstream();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(per_second)));
    for n in 0..count {
        ticker.tick().await;
        let i = n % applications;
        let change = if n < applications { "submitted" } else { "status_changed" };
        // The event id carries the moment of the publish.
        let body = |at: u128| {
            json!({"event_id": format!("b{run}-{n}-{at}"), "application_id": format!("a{run}-{i}"),
                   "job_title": "Platform engineer", "candidate_id": format!("ats-cand-{i}"),
                   "recruiter_id": format!("ats-rec-{i}"), "status": format!("stage {n}"),
                   "occurred_at": "2026-11-21T09:00:00.000Z"})
        };
        let payload = serde_json::to_vec(&body(origin.elapsed().as_micros()))?;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", format!("b{run}-{n}").as_str());
        js.publish_with_headers(format!("ats.applications.a{run}-{i}.{change}"), headers, payload.into())
            .await?
            .await?;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.lock().await.len() < count * 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for reader in readers {
        reader.abort();
    }
    let mut latencies = std::mem::take(&mut *seen.lock().await);
    let received = latencies.len();
    Ok(Sample::from([
        ("p50_ms", latencies.percentile_ms(50.0)),
        ("p99_ms", latencies.percentile_ms(99.0)),
        ("missing", (count * 2).saturating_sub(received) as f64),
    ]))
}
