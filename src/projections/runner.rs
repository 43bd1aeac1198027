//! The live projectors: one per partition, each with exactly one active applier across all
//! instances (a PostgreSQL session lock per partition elects it; another instance takes over
//! within seconds when it dies), consuming `PARLEY_EVENTS` through the partition's durable
//! pull consumer, strictly in order, many events per transaction under load and one at a time
//! when idle. Every partition reads the whole log and applies the conversations hashed to it
//! (`event_log::partition`); the others only move its checkpoint. `leadership` spreads the
//! partitions over the instances.

use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use futures::StreamExt;
use sqlx::{Connection, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use super::apply::Recorded;
use super::checkpoint::{self, BatchError, Item, PROJECTION};
use super::leadership::Leadership;
use super::progress::Progress;
use crate::event_log::{EventLog, RawEvent, partition, subjects};

/// Most events applied in one transaction.
pub const MAX_BATCH: usize = 2_000;
const LEADER_RETRY: Duration = Duration::from_secs(2);

pub struct Runner {
    pub log: EventLog,
    pub db: PgPool,
    pub database_url: String,
    pub progress: Progress,
    pub stop: CancellationToken,
    pub partition: u32,
    pub partitions: u32,
    pub leadership: Leadership,
}

/// The durable consumer of a projection partition.
pub fn consumer_name(partition: u32) -> String {
    format!("projector_{PROJECTION}_p{partition}")
}

/// Turns a stored event into a batch item; what cannot be decoded becomes a dead letter.
pub fn to_item(raw: &RawEvent) -> Item {
    match raw.decode() {
        Ok(envelope) => Item::Event(Recorded {
            seq: raw.seq,
            occurred_at: envelope.occurred_at,
            actor: envelope.actor,
            event: envelope.event,
        }),
        Err(e) => Item::DeadLetter {
            seq: raw.seq,
            subject: raw.subject.clone(),
            event_type: raw.headers.as_ref().and_then(|h| h.get("Parley-Event-Type")).map(|v| v.to_string()),
            reason: e.to_string(),
        },
    }
}

/// The item `partition` makes of a message of its consumer: the event itself when it is the
/// partition's, otherwise only its place in the log (nothing copied or decoded: every
/// partition reads the whole log, so skipping must be cheap).
fn to_partition_item(
    message: &async_nats::jetstream::Message,
    partition: u32,
    partitions: u32,
) -> anyhow::Result<Item> {
    if partition::of_subject(&message.subject, partitions) == partition {
        return Ok(to_item(&RawEvent::from_consumer(message)?));
    }
    let info = message.info().map_err(|e| anyhow::anyhow!("a consumer message without its sequence: {e}"))?;
    Ok(Item::Elsewhere { seq: info.stream_sequence })
}

impl Runner {
    /// Runs until `stop`: waits to be elected, then projects; starts over after any failure.
    pub async fn run(self) {
        let mut backoff = Duration::from_millis(100);
        while !self.stop.is_cancelled() {
            match self.lead().await {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), "projector restarting");
                    metrics::counter!("parley_projector_restarts_total").increment(1);
                    self.pause(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    async fn pause(&self, delay: Duration) {
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = self.stop.cancelled() => {}
        }
    }

    /// Holds the partition's leader lock on a connection of its own while consuming; returns
    /// when the lock is lost, the consumer fails, the partition is handed to another instance,
    /// or on `stop`.
    async fn lead(&self) -> anyhow::Result<()> {
        let mut lock_conn = PgConnection::connect_with(&super::schema::connect_options(
            &self.database_url,
            super::schema::SCHEMA,
        )?)
        .await?;
        let mut held = loop {
            if self.leadership.may_take() {
                let elected: bool =
                    sqlx::query_scalar!("SELECT pg_try_advisory_lock($1)", leader_key(self.partition))
                        .fetch_one(&mut lock_conn)
                        .await?
                        .unwrap_or(false);
                if elected {
                    break self.leadership.took();
                }
            }
            self.pause(LEADER_RETRY).await;
            if self.stop.is_cancelled() {
                return Ok(());
            }
        };
        tracing::info!(
            projection = PROJECTION,
            partition = self.partition,
            "this instance applies the partition"
        );
        let result = tokio::select! {
            result = self.consume() => result,
            lost = watch_lock(&mut lock_conn) => Err(lost),
            () = self.leadership.over_share(&mut held) => {
                tracing::info!(partition = self.partition, "handing the partition to another instance");
                Ok(())
            }
        };
        // Closing the connection releases the lock at once.
        let _ = lock_conn.close().await;
        drop(held);
        result
    }

    async fn consume(&self) -> anyhow::Result<()> {
        let checkpoint = {
            let mut conn = self.db.acquire().await?;
            super::partitions::settle(&mut conn, self.partitions).await?;
            checkpoint::read(&mut conn, self.partition as i32).await?
        };
        self.progress.observe(self.partition, checkpoint);
        let consumer = self.recreate_consumer(checkpoint).await?;
        let messages = consumer
            .stream()
            .max_messages_per_batch(MAX_BATCH)
            .heartbeat(Duration::from_secs(5))
            .expires(Duration::from_secs(30))
            .messages()
            .await?;
        let mut chunks = messages.ready_chunks(MAX_BATCH);
        // The consumer delivers every event from here on, in order.
        let mut read_from = checkpoint + 1;
        loop {
            let chunk = tokio::select! {
                chunk = chunks.next() => chunk,
                () = self.stop.cancelled() => return Ok(()),
            };
            let chunk = chunk.ok_or_else(|| anyhow::anyhow!("the consumer's message stream ended"))?;
            let mut items = Vec::with_capacity(chunk.len());
            let mut last = None;
            for message in chunk {
                let message = message?;
                items.push(to_partition_item(&message, self.partition, self.partitions)?);
                last = Some(message);
            }
            let next_from = items.last().map_or(read_from, |item| item.seq() + 1);
            let applied = self.commit_with_retry(items, read_from).await?;
            read_from = next_from;
            if let Some(message) = last {
                // AckPolicy::All: acknowledges every event up to this one.
                message.ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            self.progress.observe(self.partition, applied);
        }
    }

    async fn recreate_consumer(&self, checkpoint: u64) -> anyhow::Result<PullConsumer> {
        let stream = self.log.jetstream().get_stream(subjects::EVENTS_STREAM).await?;
        let name = consumer_name(self.partition);
        // The checkpoint in PostgreSQL is the truth: the consumer always starts right after it.
        let _ = stream.delete_consumer(&name).await;
        let deliver_policy = match checkpoint {
            0 => DeliverPolicy::All,
            seq => DeliverPolicy::ByStartSequence { start_sequence: seq + 1 },
        };
        let consumer = stream
            .create_consumer(pull::Config {
                durable_name: Some(name),
                description: Some(format!("Parley read-model projector, partition {}", self.partition)),
                deliver_policy,
                ack_policy: AckPolicy::All,
                ack_wait: Duration::from_secs(60),
                max_ack_pending: 100_000,
                ..Default::default()
            })
            .await?;
        Ok(consumer)
    }

    /// Commits a batch, waiting out database outages.
    async fn commit_with_retry(&self, items: Vec<Item>, read_from: u64) -> anyhow::Result<u64> {
        let mut delay = Duration::from_millis(100);
        loop {
            let result = match self.db.acquire().await {
                Ok(mut conn) => {
                    checkpoint::commit_items(&mut conn, self.partition as i32, &items, read_from, true).await
                }
                Err(e) => Err(e.into()),
            };
            match result {
                Ok(applied) => {
                    let own = items.iter().filter(|item| !matches!(item, Item::Elsewhere { .. })).count();
                    metrics::counter!("parley_projector_events_total", "projection" => PROJECTION)
                        .increment(own as u64);
                    return Ok(applied);
                }
                Err(gap @ BatchError::Gap { .. }) => return Err(gap.into()),
                Err(e) => {
                    tracing::warn!(error = %e, "projector waiting for PostgreSQL");
                    self.pause(delay).await;
                    if self.stop.is_cancelled() {
                        anyhow::bail!("stopped while PostgreSQL was unavailable");
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

/// The session lock whose holder applies `partition` (held for as long as it does).
pub fn leader_key(partition: u32) -> i64 {
    0x7061_726c_4c00_0000 | i64::from(partition)
}

/// Resolves (with the reason) when the leader lock's connection stops answering.
async fn watch_lock(conn: &mut PgConnection) -> anyhow::Error {
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        if let Err(e) = conn.ping().await {
            return anyhow::anyhow!("lost the projector leader lock: {e}");
        }
    }
}
