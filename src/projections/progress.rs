//! How far the read models are: the checkpoint every instance knows, whichever instance
//! applied it. The local projector reports directly; other instances' checkpoints arrive by
//! PostgreSQL `NOTIFY`; a slow poll covers lost notifications. `wait_for` is the
//! read-your-writes primitive of write endpoints.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::checkpoint::{self, CHANNEL, PROJECTION};

const POLL: Duration = Duration::from_millis(200);

#[derive(Clone)]
pub struct Progress {
    applied: Arc<watch::Sender<u64>>,
    tip: Arc<AtomicU64>,
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress {
    pub fn new() -> Self {
        Self { applied: Arc::new(watch::Sender::new(0)), tip: Arc::new(AtomicU64::new(0)) }
    }

    /// Records that the read models include every event up to `seq`.
    pub fn observe(&self, seq: u64) {
        self.applied.send_if_modified(|current| {
            let newer = seq > *current;
            if newer {
                *current = seq;
            }
            newer
        });
        metrics::gauge!("parley_projector_checkpoint", "projection" => PROJECTION).set(seq as f64);
    }

    pub fn applied(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Records the stream's last sequence, for the lag.
    pub fn observe_tip(&self, tip: u64) {
        self.tip.fetch_max(tip, Ordering::Relaxed);
        metrics::gauge!("parley_projector_lag_events", "projection" => PROJECTION).set(self.lag() as f64);
    }

    /// Events in the log the read models do not include yet.
    pub fn lag(&self) -> u64 {
        self.tip.load(Ordering::Relaxed).saturating_sub(self.applied())
    }

    /// Resolves `true` once the read models include `seq`, `false` after `timeout`.
    pub async fn wait_for(&self, seq: u64, timeout: Duration, db: &PgPool) -> bool {
        let mut changes = self.applied.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if *changes.borrow_and_update() >= seq {
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
                    if let Ok(mut conn) = db.acquire().await
                        && let Ok(applied) = checkpoint::read(&mut conn, 0).await
                    {
                        self.observe(applied);
                    }
                }
                () = tokio::time::sleep_until(deadline) => return *self.applied.borrow() >= seq,
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
            progress.observe(checkpoint::read(&mut conn, 0).await?);
            drop(conn);
            loop {
                let notification = listener.recv().await?;
                if let Some(seq) = parse(notification.payload()) {
                    progress.observe(seq);
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

fn parse(payload: &str) -> Option<u64> {
    let mut parts = payload.split(':');
    let (projection, _partition, seq) = (parts.next()?, parts.next()?, parts.next()?);
    (projection == PROJECTION).then(|| seq.parse().ok()).flatten()
}
