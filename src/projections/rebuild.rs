//! Rebuilding the read models from sequence 1 into fresh tables (schema `parley_rebuild`),
//! then swapping them in. The swap happens in one transaction that holds the projection's
//! lock of every partition, so live appliers pause for its duration, catches the new tables up
//! to the log's tip, and renames the schemas; appliers resume on the new tables after the
//! checkpoint. A rebuild reads the log once, in order, for all partitions (per-row order is
//! the log's order either way) and leaves every partition's checkpoint at the same sequence;
//! it is also how the partition count changes. The full-text indexes are built once the rows
//! are in, not row by row.

use std::time::{Duration, Instant};

use sqlx::{Connection, Executor, PgConnection};

use super::checkpoint::{self, Item};
use super::partitions;
use super::runner::to_item;
use super::schema::{self, REBUILD_SCHEMA, SCHEMA};
use crate::event_log::EventLog;

/// Events applied per transaction while rebuilding.
pub const BATCH: usize = 5_000;

#[derive(Debug, Clone)]
pub struct RebuildReport {
    pub events: u64,
    pub last_seq: u64,
    pub dead_letters: i64,
    pub elapsed: Duration,
}

/// Rebuilds every read model into `REBUILD_SCHEMA`; with `swap`, replaces the live tables
/// with them. `on_progress(done, total)` is called after each batch.
pub async fn rebuild(
    log: &EventLog,
    database_url: &str,
    swap: bool,
    on_progress: impl FnMut(u64, u64),
) -> anyhow::Result<RebuildReport> {
    rebuild_with(log, database_url, swap, None, on_progress).await
}

/// As [`rebuild`], with `partitions` projector partitions (default: the live read models').
pub async fn rebuild_with(
    log: &EventLog,
    database_url: &str,
    swap: bool,
    partitions: Option<u32>,
    mut on_progress: impl FnMut(u64, u64),
) -> anyhow::Result<RebuildReport> {
    let started = Instant::now();
    let total = log.last_seq().await?;
    let live_partitions = {
        let mut live = PgConnection::connect_with(&schema::connect_options(database_url, SCHEMA)?).await?;
        let stored = partitions::stored(&mut live).await.ok().flatten().unwrap_or(1);
        let _ = live.close().await;
        stored
    };
    let partitions = partitions::check_range(partitions.unwrap_or(live_partitions))?;
    let mut conn = schema::fresh_schema(database_url, REBUILD_SCHEMA).await?;
    let deferred = schema::drop_gin_indexes(&mut conn, REBUILD_SCHEMA).await?;
    partitions::write(&mut conn, partitions).await?;
    let mut events = 0;
    let mut last_seq = apply_from(log, &mut conn, 1, &mut |n| {
        events += n;
        on_progress(events, total.max(events));
    })
    .await?;
    schema::create_indexes(&mut conn, &deferred).await?;
    checkpoint::set_all(&mut conn, partitions, last_seq).await?;
    if swap {
        let lock = live_partitions.max(partitions);
        last_seq = swap_in(log, &mut conn, last_seq, lock, partitions, &mut |n| events += n).await?;
        tracing::info!(last_seq, partitions, "rebuilt read models swapped in");
    }
    let dead_letters = checkpoint::dead_letter_count(&mut conn).await.unwrap_or(0);
    Ok(RebuildReport { events, last_seq, dead_letters, elapsed: started.elapsed() })
}

/// Applies every event from `from_seq` to the log's current tip; returns the checkpoint.
/// Reading and decoding the next batch overlaps with committing this one.
async fn apply_from(
    log: &EventLog,
    conn: &mut PgConnection,
    from_seq: u64,
    counted: &mut dyn FnMut(u64),
) -> anyhow::Result<u64> {
    let mut reader = log.read(&[], from_seq, None).await?;
    let (batches, mut ready) = tokio::sync::mpsc::channel::<anyhow::Result<Vec<Item>>>(2);
    // Ends when the log is read, or when this function returns early and drops `ready`.
    tokio::spawn(async move {
        let mut batch: Vec<Item> = Vec::with_capacity(BATCH);
        while let Some(raw) = reader.next().await {
            match raw {
                Ok(raw) => batch.push(to_item(&raw)),
                Err(e) => {
                    let _ = batches.send(Err(e.into())).await;
                    return;
                }
            }
            if batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                if batches.send(Ok(full)).await.is_err() {
                    return;
                }
            }
        }
        if !batch.is_empty() {
            let _ = batches.send(Ok(batch)).await;
        }
    });
    let mut applied = from_seq.saturating_sub(1);
    // The reader delivers every event from `from_seq` on, in order.
    let mut read_from = from_seq;
    while let Some(batch) = ready.recv().await {
        let batch = batch?;
        applied = checkpoint::commit_items(conn, 0, &batch, read_from, false).await?;
        counted(batch.len() as u64);
        read_from = applied + 1;
    }
    Ok(applied)
}

async fn swap_in(
    log: &EventLog,
    conn: &mut PgConnection,
    rebuilt: u64,
    lock: u32,
    partitions: u32,
    counted: &mut dyn FnMut(u64),
) -> anyhow::Result<u64> {
    let mut tx = conn.begin().await?;
    // The same locks every live applier takes per batch: they wait until the swap commits.
    for partition in 0..lock {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(checkpoint::lock_key(partition as i32))
            .execute(&mut *tx)
            .await?;
    }
    let checkpoint = checkpoint::lock(&mut tx, 0).await?;
    debug_assert_eq!(checkpoint, rebuilt);
    let last = apply_from(log, &mut tx, checkpoint + 1, counted).await?;
    checkpoint::set_all(&mut tx, partitions, last).await?;
    let retired = format!("{SCHEMA}_retired");
    tx.execute(sqlx::AssertSqlSafe(format!(
        "ALTER SCHEMA {live} RENAME TO {old}; ALTER SCHEMA {new} RENAME TO {live}; DROP SCHEMA {old} CASCADE;",
        live = schema::quote_identifier(SCHEMA),
        old = schema::quote_identifier(&retired),
        new = schema::quote_identifier(REBUILD_SCHEMA),
    )))
    .await?;
    for partition in 0..partitions {
        let payload = format!("{}:{partition}:{last}", checkpoint::PROJECTION);
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(checkpoint::CHANNEL)
            .bind(payload)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(last)
}
