//! Appending events: one event as one JetStream publish, several as one atomic batch
//! (ADR-50: all stored or none), with `Nats-Msg-Id` for idempotency and an expected last
//! sequence over the aggregate's subjects where an invariant needs it.

use std::time::{Duration, Instant};

use async_nats::{HeaderMap, client::Request};
use bytes::Bytes;
use serde::Deserialize;

use super::EventLog;
use super::wire::{self, Encoded};
use crate::domain::Envelope;

/// What the log must look like for an append to be accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expectation {
    /// No check: order against other writers does not matter.
    Any,
    /// The aggregate's subjects hold no event yet.
    Empty,
    /// The last event on the aggregate's subjects has this stream sequence.
    LastSeq(u64),
}

/// Where the appended events landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    pub first_seq: u64,
    pub last_seq: u64,
    /// The log had already stored this `Nats-Msg-Id`; `first_seq` is where.
    pub duplicate: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Another writer appended to the aggregate since the caller read it.
    #[error("the aggregate changed since it was read ({0})")]
    Conflict(String),
    /// NATS or the stream could not be reached, or did not answer in time. The append may
    /// or may not have happened: retry with the same idempotency id.
    #[error("the event log is unavailable: {0}")]
    Unavailable(String),
    /// The server refused the append for another reason (size, configuration).
    #[error("the event log refused the append: {0}")]
    Rejected(String),
}

/// JetStream's error codes that mean "your expectation did not hold".
const ERR_WRONG_LAST_SEQUENCE: u64 = 10071;
const ERR_WRONG_LAST_MSG_ID: u64 = 10070;

#[derive(Deserialize)]
struct PubAckResponse {
    #[serde(default)]
    error: Option<ApiError>,
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    duplicate: bool,
    #[serde(default)]
    count: Option<u64>,
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(default)]
    err_code: u64,
    #[serde(default)]
    description: String,
}

impl EventLog {
    /// Appends `envelopes` (all of one aggregate, whose subjects `scope` matches) as one
    /// unit. `dedup_id` names the append for the stream's duplicate window; retrying with the
    /// same id never stores the events twice.
    pub async fn append(
        &self,
        scope: &str,
        envelopes: &[Envelope],
        expect: Expectation,
        dedup_id: &str,
    ) -> Result<Appended, AppendError> {
        let started = Instant::now();
        let mut encoded: Vec<Encoded> = envelopes.iter().map(wire::encode).collect();
        let result = match encoded.len() {
            0 => return Err(AppendError::Rejected("nothing to append".into())),
            1 => self.append_one(scope, encoded.pop().expect("one event"), expect, dedup_id).await,
            _ => self.append_batch(scope, encoded, expect, dedup_id).await,
        };
        metrics::histogram!("parley_append_seconds").record(started.elapsed().as_secs_f64());
        if result.is_err() {
            metrics::counter!("parley_append_failures_total").increment(1);
        }
        result
    }

    async fn append_one(
        &self,
        scope: &str,
        event: Encoded,
        expect: Expectation,
        dedup_id: &str,
    ) -> Result<Appended, AppendError> {
        let mut headers = event.headers;
        headers.insert("Nats-Msg-Id", dedup_id);
        expectation_headers(&mut headers, scope, expect);
        let ack = self.request(&event.subject, headers, event.payload).await?;
        Ok(Appended { first_seq: ack.seq, last_seq: ack.seq, duplicate: ack.duplicate })
    }

    async fn append_batch(
        &self,
        scope: &str,
        events: Vec<Encoded>,
        expect: Expectation,
        dedup_id: &str,
    ) -> Result<Appended, AppendError> {
        let batch_id = uuid::Uuid::now_v7().simple().to_string();
        let last = events.len();
        let mut ack = None;
        for (index, event) in events.into_iter().enumerate() {
            let position = index + 1;
            let mut headers = event.headers;
            headers.insert("Nats-Batch-Id", batch_id.as_str());
            headers.insert("Nats-Batch-Sequence", position.to_string().as_str());
            headers.insert("Nats-Msg-Id", format!("{dedup_id}#{position}").as_str());
            if position == 1 {
                expectation_headers(&mut headers, scope, expect);
            }
            if position == last {
                headers.insert("Nats-Batch-Commit", "1");
            }
            ack = Some(self.request(&event.subject, headers, event.payload).await?);
        }
        let ack = ack.expect("a batch has at least two events");
        let count = ack.count.unwrap_or(last as u64);
        Ok(Appended { first_seq: ack.seq + 1 - count.max(1), last_seq: ack.seq, duplicate: ack.duplicate })
    }

    async fn request(
        &self,
        subject: &str,
        headers: HeaderMap,
        payload: Bytes,
    ) -> Result<PubAckResponse, AppendError> {
        let request = Request::new().headers(headers).payload(payload).timeout(Some(self.timeout));
        let reply = self
            .client
            .send_request(subject.to_owned(), request)
            .await
            .map_err(|e| AppendError::Unavailable(e.to_string()))?;
        if reply.payload.is_empty() {
            // An atomic batch acknowledges a message before the commit with an empty reply.
            return Ok(PubAckResponse { error: None, seq: 0, duplicate: false, count: None });
        }
        let ack: PubAckResponse = serde_json::from_slice(&reply.payload)
            .map_err(|e| AppendError::Unavailable(format!("unreadable publish ack: {e}")))?;
        match ack.error {
            None => Ok(ack),
            Some(ApiError { err_code, description }) => Err(match err_code {
                ERR_WRONG_LAST_SEQUENCE | ERR_WRONG_LAST_MSG_ID => AppendError::Conflict(description),
                _ => AppendError::Rejected(format!("{description} (code {err_code})")),
            }),
        }
    }
}

fn expectation_headers(headers: &mut HeaderMap, scope: &str, expect: Expectation) {
    let last = match expect {
        Expectation::Any => return,
        Expectation::Empty => 0,
        Expectation::LastSeq(seq) => seq,
    };
    headers.insert("Nats-Expected-Last-Subject-Sequence", last.to_string().as_str());
    headers.insert("Nats-Expected-Last-Subject-Sequence-Subject", scope);
}

/// How long one publish may wait for its ack before the append counts as unavailable.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
