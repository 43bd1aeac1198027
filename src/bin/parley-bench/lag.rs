//! Projector lag under a steady load: events appended at a fixed rate while `parley serve`
//! projects them; the lag of an event is the time from its append's acknowledgement to the
//! projector's announcement (PostgreSQL `NOTIFY`) that the read models include it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parley::domain::{ConversationId, Envelope, Event};
use parley::event_log::{Expectation, subjects};
use parley::projections::{checkpoint, schema};
use sqlx::postgres::PgListener;
use tokio::sync::Mutex;

use super::append::{messages, publish_raw};
use super::env::Env;
use super::report::Sample;
use super::stats::Latencies;

pub async fn run(env: &Env, per_second: u32, duration: Duration) -> anyhow::Result<Sample> {
    // Conversations for the messages to land in, projected before the measurement starts.
    let (created, events) = seeded(per_second as usize * duration.as_secs() as usize);
    publish_raw(&env.log, &created).await?;
    let pool = schema::connect_pool(&env.database_url()).await?;
    let tip = env.log.last_seq().await?;
    let progress = parley::projections::Progress::default();
    anyhow::ensure!(
        progress.wait_for(tip, Duration::from_secs(60), &pool).await,
        "the projector never caught up"
    );

    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(checkpoint::CHANNEL).await?;
    let appended: Arc<Mutex<BTreeMap<u64, Instant>>> = Arc::default();
    let lags = Arc::new(Mutex::new(Latencies::with_capacity(events.len())));
    let watcher = {
        let (appended, lags) = (appended.clone(), lags.clone());
        let total = events.len();
        tokio::spawn(async move {
            while lags.lock().await.len() < total {
                let Ok(notification) = listener.recv().await else { break };
                let Some(seq) = notification.payload().rsplit(':').next().and_then(|s| s.parse::<u64>().ok())
                else {
                    continue;
                };
                let now = Instant::now();
                let mut appended = appended.lock().await;
                let covered: Vec<u64> = appended.range(..=seq).map(|(s, _)| *s).collect();
                let mut lags = lags.lock().await;
                for s in covered {
                    if let Some(at) = appended.remove(&s) {
                        lags.record(now.saturating_duration_since(at));
                    }
                }
            }
        })
    };
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(per_second)));
    let mut tasks = Vec::with_capacity(events.len());
    for envelope in events {
        ticker.tick().await;
        let (log, appended) = (env.log.clone(), appended.clone());
        tasks.push(tokio::spawn(async move {
            let Event::Conversation(id, _) = &envelope.event else { unreachable!("messages only") };
            let scope = subjects::conversation_filter(id);
            let done = log
                .append(
                    &scope,
                    std::slice::from_ref(&envelope),
                    Expectation::Any,
                    &envelope.event_id.to_string(),
                )
                .await?;
            appended.lock().await.insert(done.last_seq, Instant::now());
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    tokio::time::timeout(Duration::from_secs(60), watcher).await??;
    let mut lags = std::mem::take(&mut *lags.lock().await);
    Ok(Sample::from([
        ("p50_ms", lags.percentile_ms(50.0)),
        ("p99_ms", lags.percentile_ms(99.0)),
        ("max_ms", lags.percentile_ms(100.0)),
    ]))
}

/// `conversation_created` events for 100 conversations, and `n` messages spread over them.
pub(super) fn seeded(n: usize) -> (Vec<Envelope>, Vec<Envelope>) {
    let messages = messages(n, 100);
    let mut ids: Vec<ConversationId> = messages
        .iter()
        .filter_map(|e| match &e.event {
            Event::Conversation(id, _) => Some(*id),
            Event::User(..) => None,
        })
        .collect();
    ids.sort();
    ids.dedup();
    let created = ids.into_iter().map(super::biglog::creation).collect();
    (created, messages)
}
