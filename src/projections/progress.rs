//! How far the read models are: each partition's checkpoint, whichever instance applied it.
//! The local projectors report directly; other instances' checkpoints arrive by PostgreSQL
//! `NOTIFY`; a slow poll covers lost notifications. A partition moves its checkpoint over the
//! other partitions' events once it has applied all of its own up to there
//! (`runner::Runner::advance`), so the smallest checkpoint is a watermark below which every
//! read model is complete.
//! `wait_for_conversation` is the read-your-writes primitive of write endpoints: it waits for
//! the one partition that applies the conversation's events.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::checkpoint::{self, CHANNEL, PROJECTION};
use crate::domain::ConversationId;
use crate::event_log::partition;

const POLL: Duration = Duration::from_millis(200);

#[derive(Clone)]
pub struct Progress {
    /// Each partition's checkpoint.
    applied: Arc<watch::Sender<Vec<u64>>>,
    tip: Arc<AtomicU64>,
}

impl Default for Progress {
    fn default() -> Self {
        Self::new(1)
    }
}

/// Which checkpoints a wait needs.
#[derive(Clone, Copy, Debug)]
enum Scope {
    Everything,
    Partition(usize),
}

impl Progress {
    pub fn new(partitions: u32) -> Self {
        let partitions = partitions.max(1) as usize;
        Self { applied: Arc::new(watch::Sender::new(vec![0; partitions])), tip: Arc::new(AtomicU64::new(0)) }
    }

    pub fn partitions(&self) -> u32 {
        self.applied.borrow().len() as u32
    }

    /// Records that `partition` has applied every event of its own up to `seq`.
    pub fn observe(&self, partition: u32, seq: u64) {
        let modified = self.applied.send_if_modified(|current| match current.get_mut(partition as usize) {
            Some(at) if seq > *at => {
                *at = seq;
                true
            }
            _ => false,
        });
        if modified {
            metrics::gauge!("parley_projector_checkpoint", "projection" => PROJECTION, "partition" => partition.to_string())
                .set(seq as f64);
        }
    }

    /// The watermark: every read model includes every event up to it.
    pub fn applied(&self) -> u64 {
        self.applied.borrow().iter().copied().min().unwrap_or(0)
    }

    /// Records the stream's last sequence, for the lag.
    pub fn observe_tip(&self, tip: u64) {
        self.tip.fetch_max(tip, Ordering::Relaxed);
        metrics::gauge!("parley_projector_lag_events", "projection" => PROJECTION).set(self.lag() as f64);
    }

    /// Events in the log the read models do not all include yet.
    pub fn lag(&self) -> u64 {
        self.tip.load(Ordering::Relaxed).saturating_sub(self.applied())
    }

    /// Resolves `true` once every read model includes `seq`, `false` after `timeout`.
    pub async fn wait_for(&self, seq: u64, timeout: Duration, db: &PgPool) -> bool {
        self.wait(Scope::Everything, seq, timeout, db).await
    }

    /// Resolves `true` once the read models include `seq`, an event of `conversation`,
    /// `false` after `timeout`.
    pub async fn wait_for_conversation(
        &self,
        conversation: &ConversationId,
        seq: u64,
        timeout: Duration,
        db: &PgPool,
    ) -> bool {
        let partition = partition::of_conversation(conversation, self.partitions());
        self.wait(Scope::Partition(partition as usize), seq, timeout, db).await
    }

    /// Resolves `true` once the read models include `seq`, a user event (partition 0).
    pub async fn wait_for_user_event(&self, seq: u64, timeout: Duration, db: &PgPool) -> bool {
        self.wait(Scope::Partition(0), seq, timeout, db).await
    }

    fn reached(&self, checkpoints: &[u64], scope: Scope) -> u64 {
        match scope {
            Scope::Everything => checkpoints.iter().copied().min().unwrap_or(0),
            Scope::Partition(p) => checkpoints.get(p).copied().unwrap_or(0),
        }
    }

    async fn wait(&self, scope: Scope, seq: u64, timeout: Duration, db: &PgPool) -> bool {
        let mut changes = self.applied.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.reached(&changes.borrow_and_update(), scope) >= seq {
                return true;
            }
            tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() {
                        return false;
                    }
                }
                () = tokio::time::sleep(POLL) => {
                    // Another instance may have applied it and its notification been lost.
                    if let Ok(mut conn) = db.acquire().await {
                        self.poll(&mut conn).await;
                    }
                }
                () = tokio::time::sleep_until(deadline) => {
                    return self.reached(&self.applied.borrow(), scope) >= seq;
                }
            }
        }
    }

    async fn poll(&self, conn: &mut sqlx::PgConnection) {
        if let Ok(all) = checkpoint::read_all(conn).await {
            for (partition, seq) in all {
                self.observe(partition, seq);
            }
        }
    }
}

/// Follows every instance's checkpoint notifications until `stop`.
pub async fn listen(db: PgPool, progress: Progress, stop: CancellationToken) {
    loop {
        let session = async {
            let mut listener = PgListener::connect_with(&db).await?;
            listener.listen(CHANNEL).await?;
            // Whatever was announced before we listened.
            let mut conn = db.acquire().await?;
            progress.poll(&mut conn).await;
            drop(conn);
            loop {
                let notification = listener.recv().await?;
                if let Some((partition, seq)) = parse(notification.payload()) {
                    progress.observe(partition, seq);
                }
            }
            #[allow(unreachable_code)]
            Ok::<(), sqlx::Error>(())
        };
        tokio::select! {
            result = session => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "checkpoint listener reconnecting");
                }
            }
            () = stop.cancelled() => return,
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = stop.cancelled() => return,
        }
    }
}

fn parse(payload: &str) -> Option<(u32, u64)> {
    let mut parts = payload.split(':');
    let (projection, partition, seq) = (parts.next()?, parts.next()?, parts.next()?);
    (projection == PROJECTION).then(|| Some((partition.parse().ok()?, seq.parse().ok()?))).flatten()
}
