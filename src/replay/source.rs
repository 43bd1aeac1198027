//! One stream read for replay through an ephemeral ordered consumer: no durable state, no
//! acks (`AckPolicy::None`), in memory, one replica, removed by the server 30 s after it was
//! last used. Order is checked as async-nats's ordered consumer checks it (each delivery's
//! consumer sequence follows the last; a gap, a lost heartbeat or a vanished consumer
//! recreates the consumer after the last stream sequence delivered), but with a larger pull
//! batch: async-nats fixes its ordered consumer at 500 messages per pull, which measured
//! slower (docs/decisions.md).
//!
//! Consumers are named `replay_<random>` (a recreated one `replay_<random>_<n>`). The
//! JetStream API subjects used, which nats.conf's analyst user allows: `CONSUMER.CREATE.
//! <stream>.<name>[.<filter>]`, `CONSUMER.MSG.NEXT.<stream>.<name>`, and after a reconnect
//! `CONSUMER.INFO.<stream>.<name>`. Nothing is ever deleted: a replaced consumer expires.

use std::time::Duration;

use async_nats::jetstream::consumer::pull::{self, MessagesErrorKind};
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy};
use async_nats::jetstream::{self, stream};
use chrono::{DateTime, Utc};
use futures::StreamExt;

use super::ReplayError;

/// Messages asked for per pull request, and the bytes they may add up to: enough to keep the
/// server streaming while replay writes, small enough to keep memory flat (at most one batch
/// sits in the client's buffers; events are at most 1 MiB).
pub const PULL_BATCH: usize = 8192;
pub const PULL_MAX_BYTES: usize = 8 * 1024 * 1024;
const HEARTBEAT: Duration = Duration::from_secs(5);
const EXPIRES: Duration = Duration::from_secs(30);
const INACTIVE_THRESHOLD: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamKind {
    Parley,
    Ats,
}

/// One stored message and where it sits.
pub struct Delivered {
    pub stream: StreamKind,
    pub seq: u64,
    pub stored_at: DateTime<Utc>,
    pub message: async_nats::Message,
}

/// Where a source starts and stops.
pub struct Bounds {
    pub from_seq: Option<u64>,
    pub to_seq: Option<u64>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

pub struct Source {
    kind: StreamKind,
    stream_name: String,
    stream: stream::Stream<()>,
    config: pull::Config,
    serial: u32,
    messages: Option<pull::Stream>,
    /// The last consumer and stream sequence delivered (0: none yet).
    consumer_seq: u64,
    stream_seq: u64,
    /// Events the consumer still had to deliver after the last one it delivered.
    pub(super) pending: u64,
    to_seq: u64,
    until: Option<DateTime<Utc>>,
    pub(super) ended: bool,
    pub(super) head: Option<Delivered>,
}

fn read_error(stream: &str, e: impl std::fmt::Display) -> ReplayError {
    ReplayError::Read(format!("{stream}: {e}"))
}

impl Source {
    pub async fn open(
        js: &jetstream::Context,
        kind: StreamKind,
        stream_name: &str,
        filters: Vec<String>,
        bounds: &Bounds,
    ) -> Result<Self, ReplayError> {
        let stream = js.get_stream_no_info(stream_name).await.map_err(|e| read_error(stream_name, e))?;
        let deliver_policy = match (bounds.from_seq, bounds.since) {
            (Some(seq), _) => DeliverPolicy::ByStartSequence { start_sequence: seq.max(1) },
            (None, Some(since)) => DeliverPolicy::ByStartTime {
                start_time: async_nats::datetime::from_nanos(
                    since.timestamp_nanos_opt().unwrap_or_default().into(),
                )
                .map_err(|e| read_error(stream_name, e))?,
            },
            (None, None) => DeliverPolicy::All,
        };
        let (filter_subject, filter_subjects) = match filters.as_slice() {
            [] => (String::new(), Vec::new()),
            [one] => (one.clone(), Vec::new()),
            _ => (String::new(), filters),
        };
        let config = pull::Config {
            name: Some(format!("replay_{}", uuid::Uuid::new_v4().simple())),
            description: Some("parley replay".into()),
            filter_subject,
            filter_subjects,
            deliver_policy,
            ack_policy: AckPolicy::None,
            max_deliver: 1,
            memory_storage: true,
            num_replicas: 1,
            inactive_threshold: INACTIVE_THRESHOLD,
            max_batch: PULL_BATCH as i64,
            max_bytes: PULL_MAX_BYTES as i64,
            ..Default::default()
        };
        let mut source = Self {
            kind,
            stream_name: stream_name.to_owned(),
            stream,
            config,
            serial: 0,
            messages: None,
            consumer_seq: 0,
            stream_seq: 0,
            pending: 0,
            to_seq: bounds.to_seq.unwrap_or(u64::MAX),
            until: bounds.until,
            ended: bounds.to_seq.is_some_and(|to| Some(to) < bounds.from_seq),
            head: None,
        };
        if !source.ended {
            let pending = source.subscribe(source.config.clone()).await?;
            // With an upper bound, no more than the range holds (the progress total).
            let in_range = bounds
                .to_seq
                .map_or(u64::MAX, |to| (to - bounds.from_seq.unwrap_or(1).min(to)).saturating_add(1));
            source.pending = pending.min(in_range);
        }
        Ok(source)
    }

    /// Creates the consumer and starts pulling; returns how many events it has pending.
    async fn subscribe(&mut self, config: pull::Config) -> Result<u64, ReplayError> {
        let name = &self.stream_name;
        let consumer = self.stream.create_consumer(config).await.map_err(|e| read_error(name, e))?;
        let pending = consumer.cached_info().num_pending;
        let messages = consumer
            .stream()
            .max_messages_per_batch(PULL_BATCH)
            .max_bytes_per_batch(PULL_MAX_BYTES)
            .heartbeat(HEARTBEAT)
            .expires(EXPIRES)
            .messages()
            .await
            .map_err(|e| read_error(name, e))?;
        self.messages = Some(messages);
        self.consumer_seq = 0;
        Ok(pending)
    }

    /// Replaces the consumer with one that starts after the last event delivered.
    async fn recreate(&mut self, why: &str) -> Result<(), ReplayError> {
        self.messages = None;
        self.serial += 1;
        let base = self.config.name.clone().unwrap_or_default();
        tracing::debug!(consumer = %base, serial = self.serial, why, "recreating the replay consumer");
        let mut config = self.config.clone();
        config.name = Some(format!("{base}_{}", self.serial));
        if self.stream_seq > 0 {
            config.deliver_policy = DeliverPolicy::ByStartSequence { start_sequence: self.stream_seq + 1 };
        }
        let mut attempt = 0;
        loop {
            match self.subscribe(config.clone()).await {
                Ok(_) => return Ok(()),
                Err(e) if attempt >= 5 => return Err(e),
                Err(_) => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(500 * attempt)).await;
                }
            }
        }
    }

    /// Events pending when the source opened (the progress total).
    pub fn pending(&self) -> u64 {
        if self.ended { 0 } else { self.pending }
    }

    /// Waits for the next message and keeps it as the head; `Ok(false)` when the source has
    /// ended. Cancel-safe: nothing is lost if the future is dropped while it waits.
    pub(super) async fn fill(&mut self) -> Result<bool, ReplayError> {
        loop {
            if self.ended {
                return Ok(false);
            }
            let Some(messages) = self.messages.as_mut() else {
                // A recreation was interrupted (the caller stopped waiting): finish it.
                self.recreate("resuming").await?;
                continue;
            };
            let message = match messages.next().await {
                Some(Ok(message)) => message,
                Some(Err(e)) => match e.kind() {
                    MessagesErrorKind::MissingHeartbeat
                    | MessagesErrorKind::ConsumerDeleted
                    | MessagesErrorKind::NoResponders => {
                        self.recreate(&e.to_string()).await?;
                        continue;
                    }
                    _ => return Err(ReplayError::Read(e.to_string())),
                },
                None => {
                    self.end();
                    return Ok(false);
                }
            };
            let info = message.info().map_err(|e| ReplayError::Read(e.to_string()))?;
            if info.consumer_sequence != self.consumer_seq + 1 {
                self.recreate("a delivery was missed").await?;
                continue;
            }
            self.consumer_seq = info.consumer_sequence;
            let seq = info.stream_sequence;
            let stored_at = time_from_nanos(info.published.unix_timestamp_nanos());
            self.stream_seq = seq;
            self.pending = info.pending;
            if seq > self.to_seq || self.until.is_some_and(|until| stored_at > until) {
                self.end();
                return Ok(false);
            }
            if seq == self.to_seq {
                self.end();
            }
            self.head = Some(Delivered { stream: self.kind, seq, stored_at, message: message.message });
            return Ok(true);
        }
    }

    fn end(&mut self) {
        self.ended = true;
        self.pending = 0;
        // Dropping the stream stops its pull requests; the server removes the consumer once
        // it has been inactive for INACTIVE_THRESHOLD.
        self.messages = None;
    }
}

fn time_from_nanos(nanos: i128) -> DateTime<Utc> {
    let secs = nanos.div_euclid(1_000_000_000) as i64;
    let sub = nanos.rem_euclid(1_000_000_000) as u32;
    DateTime::from_timestamp(secs, sub).unwrap_or_default()
}
