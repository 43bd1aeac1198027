//! Projections: PostgreSQL read models built exactly once from `PARLEY_EVENTS`.
//!
//! One file per read model (`conversations`, `messages`, `reactions`, `users`) applies facts and checks
//! nothing but the read model's own invariants; `apply` orders them within a batch;
//! `checkpoint` makes each batch exactly-once; `runner` consumes the log; `progress` tells
//! writers when their event is visible; `rebuild` rebuilds everything from sequence 1.
//! Nothing here decides business rules, and nothing here writes to NATS.

pub mod apply;
pub mod checkpoint;
mod conversations;
mod messages;
pub mod progress;
mod reactions;
pub mod rebuild;
pub mod runner;
pub mod schema;
mod users;
pub mod verify;

use std::time::Duration;

use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use apply::{ApplyError, Recorded};
pub use checkpoint::PROJECTION;
pub use progress::Progress;

use crate::event_log::EventLog;

/// Starts the projector, the checkpoint listener and the lag sampler.
pub fn spawn(
    log: EventLog,
    db: PgPool,
    database_url: String,
    progress: Progress,
    stop: CancellationToken,
) -> Vec<JoinHandle<()>> {
    let runner = runner::Runner {
        log: log.clone(),
        db: db.clone(),
        database_url,
        progress: progress.clone(),
        stop: stop.clone(),
    };
    vec![
        tokio::spawn(runner.run()),
        tokio::spawn(progress::listen(db, progress.clone(), stop.clone())),
        tokio::spawn(sample_lag(log, progress, stop)),
    ]
}

async fn sample_lag(log: EventLog, progress: Progress, stop: CancellationToken) {
    loop {
        if let Ok(tip) = log.last_seq().await {
            progress.observe_tip(tip);
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = stop.cancelled() => return,
        }
    }
}

/// A projection partition's state, for `parley projections status` and operators.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    pub projection: &'static str,
    pub partition: i32,
    pub checkpoint: u64,
    pub stream_tip: u64,
    pub lag: u64,
    pub dead_letters: i64,
}

pub async fn status(log: &EventLog, db: &PgPool) -> anyhow::Result<Vec<Status>> {
    let mut conn = db.acquire().await?;
    let checkpoint = checkpoint::read(&mut conn, 0).await?;
    let dead_letters = checkpoint::dead_letter_count(&mut conn).await?;
    let stream_tip = log.last_seq().await?;
    Ok(vec![Status {
        projection: PROJECTION,
        partition: 0,
        checkpoint,
        stream_tip,
        lag: stream_tip.saturating_sub(checkpoint),
        dead_letters,
    }])
}
