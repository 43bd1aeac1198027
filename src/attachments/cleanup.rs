//! Deletes uploads that no message references once they are older than
//! `--attachment-orphan-ttl`: abandoned uploads, and the files of deleted messages.
//!
//! Safe with many instances: a sweep runs only while holding a PostgreSQL advisory lock (so
//! one instance sweeps at a time), only when the read models have caught up with the log as
//! it was when the sweep began (so a message stored before then is seen as a reference), and
//! deleting an object twice is harmless. Messages stored after the sweep began cannot name a
//! candidate: an upload stops being referenceable a margin before it becomes a candidate
//! (`Attachments::referenceable`).

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{AttachmentError, Attachments};
use crate::event_log::EventLog;
use crate::projections::Progress;

/// The advisory lock a sweep holds ("parlAT" + 0).
const LOCK_KEY: i64 = 0x7061_726c_4154_0000;
/// How long a sweep waits for the read models to catch up before trying again later.
const CATCH_UP_WAIT: Duration = Duration::from_secs(5);

/// What one sweep did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Another instance was sweeping, or the read models lagged: nothing was looked at.
    pub skipped: bool,
    pub deleted: usize,
    pub kept: usize,
}

/// Sweeps now and then (a quarter of the TTL, between 1 s and 10 min) until `stop`.
pub fn spawn(
    attachments: Attachments,
    log: EventLog,
    db: PgPool,
    progress: Progress,
    stop: CancellationToken,
) -> JoinHandle<()> {
    let every = (attachments.orphan_ttl() / 4).clamp(Duration::from_secs(1), Duration::from_secs(600));
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = stop.cancelled() => return,
            }
            match sweep(&attachments, &log, &db, &progress).await {
                Ok(swept) if swept.deleted > 0 => {
                    tracing::info!(
                        deleted = swept.deleted,
                        kept = swept.kept,
                        "unreferenced attachments deleted"
                    );
                    metrics::counter!("parley_attachments_orphans_deleted_total")
                        .increment(swept.deleted as u64);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "attachment cleanup failed; retrying later"),
            }
        }
    })
}

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Store(#[from] AttachmentError),
    #[error("PostgreSQL: {0}")]
    Database(#[from] sqlx::Error),
    #[error("NATS: {0}")]
    Log(#[from] crate::event_log::ReadError),
}

/// One sweep: deletes every upload older than the TTL that no message references.
pub async fn sweep(
    attachments: &Attachments,
    log: &EventLog,
    db: &PgPool,
    progress: &Progress,
) -> Result<Swept, SweepError> {
    let mut tx = db.begin().await?;
    let locked =
        sqlx::query_scalar!("SELECT pg_try_advisory_xact_lock($1)", LOCK_KEY).fetch_one(&mut *tx).await?;
    if locked != Some(true) {
        return Ok(Swept { skipped: true, ..Swept::default() });
    }
    let tip = log.last_seq().await?;
    if !progress.wait_for(tip, CATCH_UP_WAIT, db).await {
        return Ok(Swept { skipped: true, ..Swept::default() });
    }
    let ttl = chrono::Duration::from_std(attachments.orphan_ttl()).unwrap_or(chrono::Duration::MAX);
    let now = Utc::now();
    let old: Vec<Uuid> = attachments
        .stored()
        .await?
        .into_iter()
        .filter(|(_, uploaded_at)| now.signed_duration_since(*uploaded_at) > ttl)
        .map(|(id, _)| id.0)
        .collect();
    if old.is_empty() {
        return Ok(Swept::default());
    }
    let referenced: HashSet<Uuid> = sqlx::query_scalar!(
        "SELECT DISTINCT attachment_id FROM message_attachments WHERE attachment_id = ANY($1)",
        &old,
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    let mut swept = Swept::default();
    for id in old {
        if referenced.contains(&id) {
            swept.kept += 1;
        } else {
            attachments.delete(crate::domain::AttachmentId(id)).await?;
            swept.deleted += 1;
        }
    }
    tx.commit().await?;
    Ok(swept)
}
