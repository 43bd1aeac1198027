//! One batch, exactly once: inside the caller's transaction, take the projection's lock,
//! read the checkpoint, apply only what comes after it, dead-letter what cannot be read, and
//! move the checkpoint, all or nothing. A crash anywhere leaves the checkpoint and the rows
//! it covers consistent; a redelivered or concurrently applied event is skipped.

use sqlx::PgConnection;

use super::apply::{self, ApplyError, Recorded, seq};

/// The projection every read model belongs to.
pub const PROJECTION: &str = "read_models";
/// PostgreSQL channel on which appliers announce checkpoints (`projection:partition:seq`).
pub const CHANNEL: &str = "parley_projection";

/// One event of a batch: decoded, or already known to be unusable (with the reason).
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant, reason = "nearly every item is an event: boxing would allocate for each")]
pub enum Item {
    Event(Recorded),
    DeadLetter { seq: u64, subject: String, event_type: Option<String>, reason: String },
}

impl Item {
    pub fn seq(&self) -> u64 {
        match self {
            Item::Event(recorded) => recorded.seq,
            Item::DeadLetter { seq, .. } => *seq,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The batch does not start right after the checkpoint: the reader must start again
    /// from `checkpoint + 1`.
    #[error("batch starts at {first}, but the checkpoint is {checkpoint}")]
    Gap { checkpoint: u64, first: u64 },
    #[error(transparent)]
    Apply(#[from] ApplyError),
}

impl From<sqlx::Error> for BatchError {
    fn from(error: sqlx::Error) -> Self {
        BatchError::Apply(ApplyError::Database(error))
    }
}

/// The advisory lock key of a projection partition: whoever applies holds it for the
/// transaction, so two appliers (instances, or a rebuild swapping tables in) never interleave.
pub fn lock_key(partition: i32) -> i64 {
    0x7061_726c_0000_0000 | i64::from(partition as u32)
}

/// Locks the partition and returns its checkpoint (0 for a new projection), in one round
/// trip: the advisory lock is taken by the sub-select before the row is upserted and locked.
pub async fn lock(conn: &mut PgConnection, partition: i32) -> Result<u64, sqlx::Error> {
    let last = sqlx::query_scalar!(
        "INSERT INTO projector_checkpoints (projection, partition, last_seq)
         SELECT $1, $2, 0 FROM (SELECT pg_advisory_xact_lock($3)) AS locked
         ON CONFLICT (projection, partition) DO UPDATE SET last_seq = projector_checkpoints.last_seq
         RETURNING last_seq",
        PROJECTION,
        partition,
        lock_key(partition),
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(last as u64)
}

/// Reads a checkpoint without locking (status, waiting for a sequence).
pub async fn read(conn: &mut PgConnection, partition: i32) -> Result<u64, sqlx::Error> {
    let last = sqlx::query_scalar!(
        "SELECT last_seq FROM projector_checkpoints WHERE projection = $1 AND partition = $2",
        PROJECTION,
        partition,
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(last.unwrap_or(0) as u64)
}

/// Every partition's checkpoint of the projection, without locking.
pub async fn read_all(conn: &mut PgConnection) -> Result<Vec<(u32, u64)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT partition, last_seq FROM projector_checkpoints WHERE projection = $1 ORDER BY partition",
        PROJECTION,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.partition as u32, r.last_seq as u64)).collect())
}

/// Sets partitions `0..partitions` to `last` and removes any other (a rebuild read the whole
/// log once for all of them).
pub async fn set_all(conn: &mut PgConnection, partitions: u32, last: u64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "WITH gone AS (DELETE FROM projector_checkpoints WHERE projection = $1 AND partition >= $2)
         INSERT INTO projector_checkpoints (projection, partition, last_seq)
         SELECT $1, p, $3 FROM generate_series(0, $2 - 1) AS p
         ON CONFLICT (projection, partition) DO UPDATE SET last_seq = EXCLUDED.last_seq",
        PROJECTION,
        partitions as i32,
        seq(last),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Applies `items` (in sequence order) inside the caller's transaction and returns the new
/// checkpoint. Items at or before the checkpoint are skipped. `read_from` is where the reader
/// began this batch: it delivered every event of the partition from there on, so a sequence
/// missing after it is another partition's or not in the log (an erasure leaves such gaps),
/// while one missing before it was never read.
pub async fn apply_batch(
    conn: &mut PgConnection,
    partition: i32,
    items: &[Item],
    read_from: u64,
    notify: bool,
) -> Result<u64, BatchError> {
    let checkpoint = lock(conn, partition).await?;
    let fresh: Vec<&Item> = items.iter().filter(|item| item.seq() > checkpoint).collect();
    let Some(first) = fresh.first() else { return Ok(checkpoint) };
    if first.seq() != checkpoint + 1 && read_from > checkpoint + 1 {
        return Err(BatchError::Gap { checkpoint, first: first.seq() });
    }
    let mut events = Vec::with_capacity(fresh.len());
    for item in &fresh {
        match item {
            Item::Event(recorded) => events.push(recorded.clone()),
            Item::DeadLetter { seq, subject, event_type, reason } => {
                dead_letter(conn, *seq, subject, event_type.as_deref(), reason).await?;
            }
        }
    }
    apply::apply_all(conn, &events).await?;
    let last = fresh.last().map(|item| item.seq()).expect("fresh is not empty");
    move_to(conn, partition, last, notify).await?;
    Ok(last)
}

/// Moves the checkpoint and announces it (delivered at commit), in one round trip.
async fn move_to(
    conn: &mut PgConnection,
    partition: i32,
    last: u64,
    notify: bool,
) -> Result<(), sqlx::Error> {
    let channel = if notify { Some(CHANNEL) } else { None };
    let payload = format!("{PROJECTION}:{partition}:{last}");
    sqlx::query!(
        "WITH moved AS (UPDATE projector_checkpoints SET last_seq = $3 WHERE projection = $1 AND partition = $2
                        RETURNING last_seq)
         SELECT pg_notify($4, $5) FROM moved WHERE $4::text IS NOT NULL",
        PROJECTION,
        partition,
        seq(last),
        channel,
        payload,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(())
}

/// Moves a partition's checkpoint to `to` when that is ahead of it, for a partition that has
/// applied every event of its own up to `to` (the others are not its to apply), and announces
/// it. Returns the checkpoint.
pub async fn advance(conn: &mut PgConnection, partition: i32, to: u64) -> Result<u64, sqlx::Error> {
    use sqlx::Connection;
    let mut tx = conn.begin().await?;
    let checkpoint = lock(&mut tx, partition).await?;
    if to <= checkpoint {
        tx.commit().await?;
        return Ok(checkpoint);
    }
    move_to(&mut tx, partition, to, true).await?;
    tx.commit().await?;
    Ok(to)
}

/// Commits `items` in one transaction (a savepoint when the caller already holds one); when
/// one of them is poison, commits them one per transaction instead, dead-lettering only the
/// poison ones. Database outages are returned for the caller to wait out.
pub async fn commit_items(
    conn: &mut PgConnection,
    partition: i32,
    items: &[Item],
    read_from: u64,
    notify: bool,
) -> Result<u64, BatchError> {
    use sqlx::Connection;
    let mut tx = conn.begin().await?;
    match apply_batch(&mut tx, partition, items, read_from, notify).await {
        Ok(applied) => {
            tx.commit().await?;
            return Ok(applied);
        }
        Err(BatchError::Apply(e)) if e.is_poison() => tx.rollback().await?,
        Err(other) => return Err(other),
    }
    let mut applied = 0;
    let mut read_from = read_from;
    for item in items {
        let mut item = item.clone();
        applied = loop {
            let mut tx = conn.begin().await?;
            match apply_batch(&mut tx, partition, std::slice::from_ref(&item), read_from, notify).await {
                Ok(applied) => {
                    tx.commit().await?;
                    break applied;
                }
                Err(BatchError::Apply(e)) if e.is_poison() => {
                    tx.rollback().await?;
                    item = rejected(&item, &e.to_string());
                }
                Err(other) => return Err(other),
            }
        };
        read_from = item.seq() + 1;
    }
    Ok(applied)
}

/// The dead letter that replaces an event the read models refused.
fn rejected(item: &Item, reason: &str) -> Item {
    match item {
        Item::Event(recorded) => Item::DeadLetter {
            seq: recorded.seq,
            subject: crate::event_log::subjects::of(&recorded.event),
            event_type: Some(recorded.event.name().to_owned()),
            reason: reason.to_owned(),
        },
        dead => dead.clone(),
    }
}

pub async fn dead_letter(
    conn: &mut PgConnection,
    at: u64,
    subject: &str,
    event_type: Option<&str>,
    reason: &str,
) -> Result<(), sqlx::Error> {
    tracing::error!(seq = at, %subject, ?event_type, %reason, "event dead-lettered");
    metrics::counter!("parley_projector_dead_letters_total", "projection" => PROJECTION).increment(1);
    sqlx::query!(
        "INSERT INTO dead_letters (projection, seq, subject, event_type, reason) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (projection, seq) DO UPDATE SET reason = EXCLUDED.reason",
        PROJECTION,
        seq(at),
        subject,
        event_type,
        reason,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// How many events a projection could not apply.
pub async fn dead_letter_count(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    let count = sqlx::query_scalar!("SELECT count(*) FROM dead_letters WHERE projection = $1", PROJECTION)
        .fetch_one(&mut *conn)
        .await?;
    Ok(count.unwrap_or(0))
}
