//! The traffic a fault interrupts: clients sending numbered messages over REST, each with a
//! `client_msg_id`, retrying a failed send with the same key until it is acknowledged, as a
//! well-behaved client does. Acknowledged means 200, 201 or 202.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parley::domain::Role;
use serde_json::json;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::env::token;

/// How long a client keeps retrying one message before giving up on it.
const GIVE_UP: Duration = Duration::from_secs(90);

#[derive(Default)]
pub struct Tally {
    pub sent: u64,
    /// (conversation id, client_msg_id) of every acknowledged message.
    pub acked: BTreeSet<(String, String)>,
    pub refused: u64,
}

pub struct Workload {
    stop: CancellationToken,
    tasks: Vec<JoinHandle<anyhow::Result<Tally>>>,
    successes: Arc<AtomicU64>,
}

impl Workload {
    /// Creates one conversation per client and starts sending.
    pub async fn start(base: &str, clients: usize) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
        let mut conversations = Vec::new();
        for i in 0..clients {
            let recruiter = token(&format!("chaos-r{i}"), Role::Recruiter);
            let body: serde_json::Value = http
                .post(format!("{base}/api/conversations"))
                .bearer_auth(&recruiter)
                .json(&json!({"participant_ids": [format!("chaos-a{i}")]}))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            conversations.push(body["id"].as_str().unwrap_or_default().to_owned());
        }
        let stop = CancellationToken::new();
        let successes = Arc::new(AtomicU64::new(0));
        let tasks = conversations
            .iter()
            .enumerate()
            .map(|(i, conversation)| {
                let client = Client {
                    http: http.clone(),
                    url: format!("{base}/api/messages"),
                    token: token(&format!("chaos-r{i}"), Role::Recruiter),
                    conversation: conversation.clone(),
                    prefix: format!("k{i}"),
                    successes: successes.clone(),
                };
                tokio::spawn(client.run(stop.clone()))
            })
            .collect();
        Ok(Self { stop, tasks, successes })
    }

    pub fn successes(&self) -> u64 {
        self.successes.load(Ordering::SeqCst)
    }

    /// Waits until some send succeeds after this call; returns how long that took.
    pub async fn recovered(&self, limit: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let before = self.successes();
        while self.successes() == before {
            anyhow::ensure!(
                started.elapsed() < limit,
                "no send succeeded within {limit:?} of the fault ending"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(started.elapsed())
    }

    /// Stops sending (each client finishes the message it is retrying) and totals up.
    pub async fn finish(self) -> anyhow::Result<Tally> {
        self.stop.cancel();
        let mut total = Tally::default();
        for task in self.tasks {
            let tally = task.await??;
            total.sent += tally.sent;
            total.refused += tally.refused;
            total.acked.extend(tally.acked);
        }
        Ok(total)
    }
}

struct Client {
    http: reqwest::Client,
    url: String,
    token: String,
    conversation: String,
    prefix: String,
    successes: Arc<AtomicU64>,
}

impl Client {
    async fn run(self, stop: CancellationToken) -> anyhow::Result<Tally> {
        let mut tally = Tally::default();
        let mut n = 0u64;
        while !stop.is_cancelled() {
            let key = format!("{}-{n}", self.prefix);
            n += 1;
            tally.sent += 1;
            let body = json!({"conversation_id": self.conversation, "content": format!("chaos {key}"), "client_msg_id": key});
            let started = Instant::now();
            while started.elapsed() < GIVE_UP {
                match self.http.post(&self.url).bearer_auth(&self.token).json(&body).send().await {
                    Ok(response) if matches!(response.status().as_u16(), 200..=202) => {
                        tally.acked.insert((self.conversation.clone(), key.clone()));
                        self.successes.fetch_add(1, Ordering::SeqCst);
                        break;
                    }
                    Ok(response) if response.status().is_client_error() => {
                        tally.refused += 1;
                        break;
                    }
                    // 5xx, timeouts, refused connections: the same message again, later.
                    _ => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(tally)
    }
}
