//! Flood: one user sends as fast as `clients` connections allow while another sends at a
//! steady 10 messages a second, first alone and then during the flood. The per-user rate
//! limit (the defaults: 20 a second after a burst of 100) refuses most of the flood (429);
//! the figure is how much the other user's latency moves.

use std::time::{Duration, Instant};

use serde_json::json;

use super::env::Server;
use super::report::Sample;
use super::stats::{Latencies, rate};

/// The rate limit the server runs with in this scenario (the defaults), and the calm user's
/// steady pace, well under it.
pub const LIMIT_SETTINGS: &[(&str, &str)] =
    &[("PARLEY_RATE_LIMIT_USER", "20"), ("PARLEY_RATE_LIMIT_USER_BURST", "100")];
const CALM_EVERY: Duration = Duration::from_millis(100);

/// The calm user's sends for `duration`, one every 100 ms.
async fn calm(
    url: String,
    token: String,
    conversation: String,
    duration: Duration,
) -> anyhow::Result<Latencies> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(1).build()?;
    let mut latencies = Latencies::with_capacity(1024);
    let mut tick = tokio::time::interval(CALM_EVERY);
    let deadline = Instant::now() + duration;
    while Instant::now() < deadline {
        tick.tick().await;
        let body = json!({"conversation_id": conversation, "content": "Still on for Tuesday?"});
        let sent = Instant::now();
        let response = http.post(&url).bearer_auth(&token).json(&body).send().await?;
        let status = response.status();
        let _ = response.bytes().await?;
        anyhow::ensure!(status.is_success(), "the calm user's send answered {status}");
        latencies.record(sent.elapsed());
    }
    Ok(latencies)
}

/// One flooding connection: (sends served, sends refused with 429).
async fn flood(
    url: String,
    token: String,
    conversation: String,
    duration: Duration,
) -> anyhow::Result<(u64, u64)> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(1).build()?;
    let (mut served, mut refused) = (0, 0);
    let deadline = Instant::now() + duration;
    while Instant::now() < deadline {
        let body = json!({"conversation_id": conversation, "content": "spam"});
        let response = http.post(&url).bearer_auth(&token).json(&body).send().await?;
        match response.status().as_u16() {
            429 => refused += 1,
            s if (200..300).contains(&s) => served += 1,
            s => anyhow::bail!("the flood got {s}"),
        }
        let _ = response.bytes().await?;
    }
    Ok((served, refused))
}

/// `pair`: (calm user, flooding user), each `(token, conversation)`.
pub async fn run(
    server: &Server,
    pair: &[(String, String)],
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Sample> {
    let url = format!("{}/api/messages", server.base);
    let ((calm_token, calm_conversation), (flood_token, flood_conversation)) = (&pair[0], &pair[1]);
    let mut alone = calm(url.clone(), calm_token.clone(), calm_conversation.clone(), duration / 2).await?;
    // The flooding user's bucket is full when the flood starts: the burst is part of it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = Instant::now();
    let floods: Vec<_> = (0..clients)
        .map(|_| tokio::spawn(flood(url.clone(), flood_token.clone(), flood_conversation.clone(), duration)))
        .collect();
    // The calm client runs on a thread and runtime of its own: sharing the flood's, it would
    // wait for the flood's own client work and the figure would measure this process.
    let (token, conversation) = (calm_token.clone(), calm_conversation.clone());
    let calm_thread = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(calm(
            url,
            token,
            conversation,
            duration,
        ))
    });
    let mut during = tokio::task::spawn_blocking(move || calm_thread.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the calm client's thread panicked"))??;
    let (mut served, mut refused) = (0, 0);
    for task in floods {
        let (s, r) = task.await??;
        served += s;
        refused += r;
    }
    let elapsed = started.elapsed();
    Ok(Sample::from([
        ("alone_p50_ms", alone.percentile_ms(50.0)),
        ("alone_p99_ms", alone.percentile_ms(99.0)),
        ("p50_ms", during.percentile_ms(50.0)),
        ("p99_ms", during.percentile_ms(99.0)),
        ("flood_rate", rate(served + refused, elapsed)),
        ("refused", refused as f64 / (served + refused).max(1) as f64),
    ]))
}
