//! Reading streams for replay through ephemeral ordered consumers: no durable state, no acks,
//! no stream management, so a read-only NATS user can run it. Each consumer is named
//! `replay_<random>` (a recreated one `replay_<random>_<n>`). The JetStream API subjects it
//! publishes to are `CONSUMER.CREATE.<stream>.<name>[.<filter>]`,
//! `CONSUMER.MSG.NEXT.<stream>.<name>`, and after a reconnect or a gap
//! `CONSUMER.INFO.<stream>.<name>` and `CONSUMER.DELETE.<stream>.<name>` (the latter may be
//! refused: the server drops an idle ephemeral consumer by itself). nats.conf's analyst user
//! allows exactly these.
//!
//! Several sources (Parley's events, the ATS's) are merged by stored time while catching up;
//! once every source has delivered what was pending when it opened, events are written as
//! they arrive.

use async_nats::jetstream::{
    self,
    consumer::{DeliverPolicy, pull},
};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::ReplayError;

/// Messages asked for per pull request. The ordered consumer asks for at most 500; this caps
/// nothing below that and is recorded in the consumer so `nats consumer info` shows it.
const MAX_BATCH: i64 = 500;

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
    messages: Option<pull::Ordered>,
    /// Events the consumer still had to deliver after the last one it delivered.
    pending: u64,
    to_seq: u64,
    until: Option<DateTime<Utc>>,
    ended: bool,
    head: Option<Delivered>,
}

impl Source {
    pub async fn open(
        js: &jetstream::Context,
        kind: StreamKind,
        stream_name: &str,
        filters: Vec<String>,
        bounds: &Bounds,
    ) -> Result<Self, ReplayError> {
        let read_error =
            |e: &dyn std::fmt::Display| ReplayError::Read(format!("{stream_name}: {e}"));
        let stream = js
            .get_stream_no_info(stream_name)
            .await
            .map_err(|e| read_error(&e))?;
        let deliver_policy = match (bounds.from_seq, bounds.since) {
            (Some(seq), _) => DeliverPolicy::ByStartSequence {
                start_sequence: seq.max(1),
            },
            (None, Some(since)) => DeliverPolicy::ByStartTime {
                start_time: async_nats::datetime::from_nanos(
                    since.timestamp_nanos_opt().unwrap_or_default().into(),
                )
                .map_err(|e| read_error(&e))?,
            },
            (None, None) => DeliverPolicy::All,
        };
        let (filter_subject, filter_subjects) = match filters.as_slice() {
            [] => (String::new(), Vec::new()),
            [one] => (one.clone(), Vec::new()),
            _ => (String::new(), filters),
        };
        let name = format!("replay_{}", uuid::Uuid::new_v4().simple());
        let consumer = stream
            .create_consumer(pull::OrderedConfig {
                name: Some(name),
                description: Some("parley replay".into()),
                filter_subject,
                filter_subjects,
                deliver_policy,
                max_batch: MAX_BATCH,
                ..Default::default()
            })
            .await
            .map_err(|e| read_error(&e))?;
        let pending = consumer.cached_info().num_pending;
        let messages = consumer.messages().await.map_err(|e| read_error(&e))?;
        Ok(Self {
            kind,
            messages: Some(messages),
            pending,
            to_seq: bounds.to_seq.unwrap_or(u64::MAX),
            until: bounds.until,
            ended: bounds.to_seq.is_some_and(|to| Some(to) < bounds.from_seq),
            head: None,
        })
    }

    /// Events pending when the source opened (the progress total).
    pub fn pending(&self) -> u64 {
        if self.ended { 0 } else { self.pending }
    }

    /// Waits for the next message; `Ok(false)` when the source has ended.
    async fn fill(&mut self) -> Result<bool, ReplayError> {
        if self.ended {
            return Ok(false);
        }
        let Some(messages) = self.messages.as_mut() else {
            return Ok(false);
        };
        let message = match messages.next().await {
            Some(Ok(message)) => message,
            Some(Err(e)) => return Err(ReplayError::Read(e.to_string())),
            None => {
                self.ended = true;
                return Ok(false);
            }
        };
        let info = message
            .info()
            .map_err(|e| ReplayError::Read(e.to_string()))?;
        let seq = info.stream_sequence;
        let stored_at = time_from_nanos(info.published.unix_timestamp_nanos());
        self.pending = info.pending;
        if seq > self.to_seq || self.until.is_some_and(|until| stored_at > until) {
            self.end();
            return Ok(false);
        }
        if seq == self.to_seq {
            self.end();
        }
        self.head = Some(Delivered {
            stream: self.kind,
            seq,
            stored_at,
            message: message.message,
        });
        Ok(true)
    }

    fn end(&mut self) {
        self.ended = true;
        self.pending = 0;
        // Dropping the stream stops its pull requests; the server removes the ephemeral
        // consumer once it has been inactive for a while.
        self.messages = None;
    }
}

fn time_from_nanos(nanos: i128) -> DateTime<Utc> {
    let secs = nanos.div_euclid(1_000_000_000) as i64;
    let sub = nanos.rem_euclid(1_000_000_000) as u32;
    DateTime::from_timestamp(secs, sub).unwrap_or_default()
}

/// Sources merged into one sequence of deliveries.
pub struct Merged {
    sources: Vec<Source>,
    follow: bool,
}

impl Merged {
    pub fn new(sources: Vec<Source>, follow: bool) -> Self {
        Self { sources, follow }
    }

    pub fn total_pending(&self) -> u64 {
        self.sources.iter().map(Source::pending).sum()
    }

    /// Whether every source has delivered what was pending (what `--follow` waits for).
    pub fn caught_up(&self) -> bool {
        self.sources
            .iter()
            .all(|s| s.head.is_none() && s.pending == 0)
    }

    /// The next delivery: the oldest head among sources with events pending, or in follow
    /// mode whatever arrives first once all have caught up. `None` at the end or on `stop`.
    pub async fn next(
        &mut self,
        stop: &CancellationToken,
    ) -> Result<Option<Delivered>, ReplayError> {
        loop {
            for source in &mut self.sources {
                if source.head.is_none() && source.pending > 0 && !source.ended {
                    tokio::select! {
                        biased;
                        _ = stop.cancelled() => return Ok(None),
                        filled = source.fill() => { filled?; }
                    }
                }
            }
            let oldest = self
                .sources
                .iter_mut()
                .filter(|s| s.head.is_some())
                .min_by_key(|s| s.head.as_ref().map(|h| h.stored_at));
            if let Some(source) = oldest {
                return Ok(source.head.take());
            }
            if !self.follow || self.sources.iter().all(|s| s.ended) {
                return Ok(None);
            }
            let waiting = self.sources.iter_mut().filter(|s| !s.ended);
            let fills = waiting.map(|s| Box::pin(s.fill())).collect::<Vec<_>>();
            tokio::select! {
                biased;
                _ = stop.cancelled() => return Ok(None),
                (filled, _, _) = futures::future::select_all(fills) => { filled?; }
            }
        }
    }
}
