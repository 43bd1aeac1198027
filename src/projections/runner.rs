//! The live projectors: one per partition, each with exactly one active applier across all
//! instances (a PostgreSQL session lock per partition elects it; another instance takes over
//! within seconds when it dies), consuming `PARLEY_EVENTS` through the partition's durable
//! pull consumer, strictly in order, many events per transaction under load and one at a time
//! when idle. Each partition's consumer reads only its own events, from the copy of the log
//! the server files by bucket (`event_log::by_partition`); when it has applied all of them it
//! moves its checkpoint over the other partitions' events too (`Runner::advance`), so the
//! smallest checkpoint is a watermark for every read model. `leadership` spreads the
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
use crate::event_log::{EventLog, RawEvent, partition, streams, subjects};

/// Most events applied in one transaction.
pub const MAX_BATCH: usize = 2_000;
const LEADER_RETRY: Duration = Duration::from_secs(2);
/// How often a partition checks whether it may move its checkpoint over other partitions'
/// events (`Runner::advance`).
const IDLE_ADVANCE: Duration = Duration::from_millis(50);

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

/// The item a message of the partition's consumer becomes.
fn to_partition_item(message: &async_nats::jetstream::Message) -> anyhow::Result<Item> {
    Ok(to_item(&RawEvent::from_partition_copy(message)?))
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
        let mut checkpoint = {
            let mut conn = self.db.acquire().await?;
            super::partitions::settle(&mut conn, self.partitions).await?;
            checkpoint::read(&mut conn, self.partition as i32).await?
        };
        self.progress.observe(self.partition, checkpoint);
        let mut consumer = self.recreate_consumer(checkpoint).await?;
        let messages = consumer
            .stream()
            .max_messages_per_batch(MAX_BATCH)
            .heartbeat(Duration::from_secs(5))
            .expires(Duration::from_secs(30))
            .messages()
            .await?;
        let mut chunks = messages.ready_chunks(MAX_BATCH);
        // The consumer delivers every event of this partition from here on, in order.
        let mut read_from = checkpoint + 1;
        let mut idle = tokio::time::interval(IDLE_ADVANCE);
        idle.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let chunk = tokio::select! {
                chunk = chunks.next() => chunk,
                _ = idle.tick() => {
                    // Only a watermark: a failure waits for the next tick (the consumer itself
                    // reports NATS outages, each batch PostgreSQL's).
                    match self.advance(&mut consumer, checkpoint).await {
                        Ok(moved) => checkpoint = moved,
                        Err(e) => tracing::debug!(error = format!("{e:#}"), "checkpoint not advanced"),
                    }
                    continue;
                }
                () = self.stop.cancelled() => return Ok(()),
            };
            let chunk = chunk.ok_or_else(|| anyhow::anyhow!("the consumer's message stream ended"))?;
            let mut items = Vec::with_capacity(chunk.len());
            let mut last = None;
            let batch_from = read_from;
            for message in chunk {
                let message = message?;
                let item = to_partition_item(&message)?;
                // Only events after the last one read: a start found on a lagging replica,
                // or a copy sourced twice, delivers some again.
                if item.seq() >= read_from {
                    read_from = item.seq() + 1;
                    items.push(item);
                }
                last = Some(message);
            }
            if !items.is_empty() {
                checkpoint = self.commit_with_retry(items, batch_from).await?;
            }
            if let Some(message) = last {
                // AckPolicy::All: acknowledges every event up to this one.
                message.ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            self.progress.observe(self.partition, checkpoint);
        }
    }

    /// Moves the checkpoint over the other partitions' events once this partition has applied
    /// all of its own that the copy holds, so that the smallest checkpoint stays a watermark
    /// for every read model. In this order: first how far the copy reaches, then that the
    /// consumer has nothing left to deliver and nothing unacknowledged (acknowledged means
    /// committed), so every event of this partition up to there is applied.
    async fn advance(&self, consumer: &mut PullConsumer, checkpoint: u64) -> anyhow::Result<u64> {
        let reached = self.log.partition_copy_reached().await?;
        if reached <= checkpoint {
            return Ok(checkpoint);
        }
        let info = consumer.info().await?;
        if info.num_pending > 0 || info.num_ack_pending > 0 {
            return Ok(checkpoint);
        }
        let mut conn = self.db.acquire().await?;
        let moved = checkpoint::advance(&mut conn, self.partition as i32, reached).await?;
        self.progress.observe(self.partition, moved);
        Ok(moved)
    }

    async fn recreate_consumer(&self, checkpoint: u64) -> anyhow::Result<PullConsumer> {
        let js = self.log.jetstream();
        let name = consumer_name(self.partition);
        // Earlier versions consumed PARLEY_EVENTS itself.
        if let Ok(events) = js.get_stream_no_info(subjects::EVENTS_STREAM).await {
            let _ = events.delete_consumer(&name).await;
        }
        let stream = streams::partition_copy(js).await?;
        // The checkpoint in PostgreSQL is the truth: the consumer always starts right after it.
        let _ = stream.delete_consumer(&name).await;
        let start_sequence = self.log.partition_copy_start(checkpoint).await?;
        let filter_subjects = partition::filters(self.partition, self.partitions);
        let consumer = stream
            .create_consumer(pull::Config {
                durable_name: Some(name),
                description: Some(format!("Parley read-model projector, partition {}", self.partition)),
                deliver_policy: DeliverPolicy::ByStartSequence { start_sequence },
                filter_subjects,
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
                    metrics::counter!("parley_projector_events_total", "projection" => PROJECTION)
                        .increment(items.len() as u64);
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
