//! Reading the log back: one event by sequence, or every event from a sequence on (optionally
//! filtered by subject) through an ordered consumer, which JetStream keeps gap-free for us.

use async_nats::HeaderMap;
use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;

use super::EventLog;
use super::subjects::EVENTS_STREAM;
use super::wire::{self, DecodeError};
use crate::domain::Envelope;

/// An event as stored, not yet decoded: decoding may fail, and the caller decides what a
/// failure means (a projector dead-letters it, replay reports it).
#[derive(Clone, Debug)]
pub struct RawEvent {
    pub seq: u64,
    pub subject: String,
    pub headers: Option<HeaderMap>,
    pub payload: Bytes,
    /// When the stream stored it.
    pub stored_at: DateTime<Utc>,
}

impl RawEvent {
    pub fn decode(&self) -> Result<Envelope, DecodeError> {
        wire::decode(&self.subject, self.headers.as_ref(), &self.payload)
    }

    /// Builds one from a message delivered by a JetStream consumer.
    pub fn from_consumer(message: &async_nats::jetstream::Message) -> Result<Self, ReadError> {
        let info = message.info().map_err(read_error)?;
        Ok(Self {
            seq: info.stream_sequence,
            subject: message.subject.to_string(),
            headers: message.headers.clone(),
            payload: message.payload.clone(),
            stored_at: time_from_nanos(info.published.unix_timestamp_nanos()),
        })
    }

    /// Builds one from a message that carries its stream position in headers (a direct get,
    /// or a republished live event).
    pub fn from_republished(message: &async_nats::Message) -> Option<Self> {
        let headers = message.headers.as_ref()?;
        let seq = headers.get("Nats-Sequence")?.as_str().parse().ok()?;
        let subject = headers.get("Nats-Subject")?.as_str().to_owned();
        let stored_at = headers
            .get("Nats-Time-Stamp")
            .and_then(|t| DateTime::parse_from_rfc3339(t.as_str()).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(Utc::now);
        Some(Self {
            seq,
            subject,
            headers: Some(headers.clone()),
            payload: message.payload.clone(),
            stored_at,
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("reading the event log failed: {0}")]
pub struct ReadError(pub String);

pub(super) fn read_error(e: impl std::fmt::Display) -> ReadError {
    ReadError(e.to_string())
}

/// Reads events in order from a start sequence up to the stream's last sequence at the time
/// the reader was opened (or an upper bound), then ends.
pub struct Reader {
    messages: Option<pull::Ordered>,
    remaining: u64,
    to_seq: u64,
}

impl Reader {
    pub async fn next(&mut self) -> Option<Result<RawEvent, ReadError>> {
        if self.remaining == 0 {
            return None;
        }
        let messages = self.messages.as_mut()?;
        let message = match messages.next().await? {
            Ok(message) => message,
            Err(e) => return Some(Err(read_error(e))),
        };
        let pending = match message.info() {
            Ok(info) => info.pending,
            Err(e) => return Some(Err(read_error(e))),
        };
        let raw = match RawEvent::from_consumer(&message) {
            Ok(raw) => raw,
            Err(e) => return Some(Err(e)),
        };
        if raw.seq > self.to_seq {
            self.remaining = 0;
            return None;
        }
        self.remaining = if raw.seq == self.to_seq { 0 } else { pending };
        Some(Ok(raw))
    }
}

pub(super) fn time_from_nanos(nanos: i128) -> DateTime<Utc> {
    let secs = nanos.div_euclid(1_000_000_000) as i64;
    let sub = nanos.rem_euclid(1_000_000_000) as u32;
    DateTime::from_timestamp(secs, sub).unwrap_or_default()
}

impl EventLog {
    /// The sequence of the last event in the stream (0 when empty).
    pub async fn last_seq(&self) -> Result<u64, ReadError> {
        let mut stream = self.js.get_stream(EVENTS_STREAM).await.map_err(read_error)?;
        let info = stream.info().await.map_err(read_error)?;
        Ok(info.state.last_sequence)
    }

    /// One event by sequence, `None` if there is none there.
    pub async fn get(&self, seq: u64) -> Result<Option<RawEvent>, ReadError> {
        let stream = self.js.get_stream_no_info(EVENTS_STREAM).await.map_err(read_error)?;
        match stream.direct_get(seq).await {
            Ok(message) => Ok(Some(RawEvent {
                seq: message.sequence,
                subject: message.subject.to_string(),
                headers: Some(message.headers),
                payload: message.payload,
                stored_at: time_from_nanos(message.time.unix_timestamp_nanos()),
            })),
            Err(e) if e.kind() == async_nats::jetstream::stream::DirectGetErrorKind::NotFound => Ok(None),
            Err(e) => Err(read_error(e)),
        }
    }

    /// Every event with `from_seq <= seq <= to_seq` whose subject matches one of `filters`
    /// (all events when empty), in order.
    pub async fn read(
        &self,
        filters: &[String],
        from_seq: u64,
        to_seq: Option<u64>,
    ) -> Result<Reader, ReadError> {
        let from_seq = from_seq.max(1);
        let stream = self.js.get_stream_no_info(EVENTS_STREAM).await.map_err(read_error)?;
        let (filter_subject, filter_subjects) = match filters {
            [] => (String::new(), Vec::new()),
            [one] => (one.clone(), Vec::new()),
            many => (String::new(), many.to_vec()),
        };
        let mut consumer = stream
            .create_consumer(pull::OrderedConfig {
                filter_subject,
                filter_subjects,
                deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: from_seq },
                ..Default::default()
            })
            .await
            .map_err(read_error)?;
        let pending = consumer.info().await.map_err(read_error)?.num_pending;
        let to_seq = to_seq.unwrap_or(u64::MAX);
        if pending == 0 || to_seq < from_seq {
            return Ok(Reader { messages: None, remaining: 0, to_seq });
        }
        let messages = consumer.messages().await.map_err(read_error)?;
        Ok(Reader { messages: Some(messages), remaining: pending, to_seq })
    }
}
