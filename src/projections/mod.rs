//! Projections: PostgreSQL read models built exactly once from `PARLEY_EVENTS`.
//!
//! One file per read model (`conversations`, `messages`, `reactions`, `users`) applies facts and checks
//! nothing but the read model's own invariants; `apply` orders them within a batch;
//! `checkpoint` makes each batch exactly-once; `runner` consumes the log, one runner per
//! partition (`partitions`: how many; `leadership`: which instance applies which); `progress` tells
//! writers when their event is visible; `rebuild` rebuilds everything from sequence 1.
//! Nothing here decides business rules, and nothing here writes to NATS.

pub mod apply;
pub mod checkpoint;
mod conversations;
pub mod leadership;
mod messages;
pub mod partitions;
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

/// Starts one projector per partition (each applies only where this instance is elected),
/// the instance count that spreads partitions, the checkpoint listener and the lag sampler.
pub fn spawn(
    log: EventLog,
    db: PgPool,
    database_url: String,
    progress: Progress,
    stop: CancellationToken,
) -> Vec<JoinHandle<()>> {
    let partitions = progress.partitions();
    let leadership = leadership::Leadership::new(partitions);
    let mut tasks = vec![
        tokio::spawn(leadership.clone().count_instances(database_url.clone(), stop.clone())),
        tokio::spawn(progress::listen(db.clone(), progress.clone(), stop.clone())),
        tokio::spawn(sample_lag(log.clone(), progress.clone(), stop.clone())),
    ];
    for partition in 0..partitions {
        let runner = runner::Runner {
            log: log.clone(),
            db: db.clone(),
            database_url: database_url.clone(),
            progress: progress.clone(),
            stop: stop.clone(),
            partition,
            partitions,
            leadership: leadership.clone(),
        };
        tasks.push(tokio::spawn(runner.run()));
    }
    tasks
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
    /// The last `PARLEY_EVENTS` sequence the partitioned copy holds (`None`: the copy is
    /// missing); below the tip for long, the server has stopped sourcing it.
    pub copied_up_to: Option<u64>,
}

pub async fn status(log: &EventLog, db: &PgPool) -> anyhow::Result<Vec<Status>> {
    let mut conn = db.acquire().await?;
    let partitions = partitions::stored(&mut conn).await?.unwrap_or(1);
    let checkpoints = checkpoint::read_all(&mut conn).await?;
    let dead_letters = checkpoint::dead_letter_count(&mut conn).await?;
    let stream_tip = log.last_seq().await?;
    let copied_up_to = log.partition_copy_reached().await.ok();
    Ok((0..partitions)
        .map(|partition| {
            let checkpoint = checkpoints.iter().find(|(p, _)| *p == partition).map_or(0, |(_, seq)| *seq);
            Status {
                projection: PROJECTION,
                partition: partition as i32,
                checkpoint,
                stream_tip,
                lag: stream_tip.saturating_sub(checkpoint),
                dead_letters,
                copied_up_to,
            }
        })
        .collect())
}
