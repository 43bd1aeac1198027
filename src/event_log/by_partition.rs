//! Reading `PARLEY_EVENTS_BY_PARTITION`, the copy of the log the server files by projector
//! bucket (`partition`). The copy's own sequence numbers are private to it: every event read
//! from it carries its `PARLEY_EVENTS` sequence and subject, the only positions Parley stores,
//! so the copy can be deleted and sourced again (an erasure does) without a checkpoint moving.
//! Events keep their order in the copy: it has one source, so the original sequences it holds
//! rise with its own, except where the server copied a stretch again (it does when its source
//! is recreated or its transforms change); readers skip what they have already read.

use async_nats::jetstream::stream::{DirectGetErrorKind, Stream};

use super::read::{ReadError, read_error, time_from_nanos};
use super::subjects::PARTITIONS_STREAM;
use super::{EventLog, RawEvent, partition};

impl RawEvent {
    /// Builds one from a message a consumer of the partitioned copy delivered, with the
    /// event's place and subject in `PARLEY_EVENTS`.
    pub fn from_partition_copy(message: &async_nats::jetstream::Message) -> Result<Self, ReadError> {
        let info = message.info().map_err(read_error)?;
        let seq = partition::original_seq(message.headers.as_ref()).ok_or_else(|| {
            ReadError(format!(
                "{PARTITIONS_STREAM} {} names no {} sequence",
                info.stream_sequence,
                super::subjects::EVENTS_STREAM
            ))
        })?;
        let subject = partition::original_subject(&message.subject).ok_or_else(|| {
            ReadError(format!("{PARTITIONS_STREAM} holds an unexpected subject {}", message.subject))
        })?;
        Ok(Self {
            seq,
            subject,
            headers: message.headers.clone(),
            payload: message.payload.clone(),
            stored_at: time_from_nanos(info.published.unix_timestamp_nanos()),
        })
    }
}

impl EventLog {
    /// The `PARLEY_EVENTS` sequence of the copy's message at or after `copy_seq`, if any.
    async fn original_at(stream: &Stream, copy_seq: u64) -> Result<Option<(u64, u64)>, ReadError> {
        match stream.direct_get_next_for_subject(">", Some(copy_seq)).await {
            Ok(message) => {
                let seq = partition::original_seq(Some(&message.headers)).ok_or_else(|| {
                    ReadError(format!("{PARTITIONS_STREAM} {} names no original sequence", message.sequence))
                })?;
                Ok(Some((message.sequence, seq)))
            }
            Err(e) if e.kind() == DirectGetErrorKind::NotFound => Ok(None),
            Err(e) => Err(read_error(e)),
        }
    }

    /// Where in the copy a reader of every event after `after` (a `PARLEY_EVENTS` sequence)
    /// starts: the copy's first message of a later event, or right after the copy's end when
    /// it holds none yet. Found by bisection with direct gets, which any replica answers; one
    /// that lags only makes the start earlier, and a reader skips what it already has.
    pub async fn partition_copy_start(&self, after: u64) -> Result<u64, ReadError> {
        let mut stream = self.js.get_stream(PARTITIONS_STREAM).await.map_err(read_error)?;
        let state = stream.info().await.map_err(read_error)?.state.clone();
        if state.messages == 0 {
            return Ok(state.last_sequence + 1);
        }
        // The answer lies in [low, high]; high = last + 1 means "none copied yet".
        let (mut low, mut high) = (state.first_sequence.max(1), state.last_sequence + 1);
        while low < high {
            let middle = low + (high - low) / 2;
            match Self::original_at(&stream, middle).await? {
                Some((copy_seq, original)) if original > after => high = middle.min(copy_seq),
                Some((copy_seq, _)) => low = copy_seq + 1,
                None => high = middle,
            }
        }
        Ok(low)
    }

    /// The `PARLEY_EVENTS` sequence of the copy's last event (0 when empty): the copy holds
    /// every event up to it.
    pub async fn partition_copy_reached(&self) -> Result<u64, ReadError> {
        // One request per call: an idle partition asks every 50 ms.
        let stream = self.js.get_stream_no_info(PARTITIONS_STREAM).await.map_err(read_error)?;
        match stream.direct_get_last_for_subject(">").await {
            Ok(message) => partition::original_seq(Some(&message.headers)).ok_or_else(|| {
                ReadError(format!("{PARTITIONS_STREAM} {} names no original sequence", message.sequence))
            }),
            Err(e) if e.kind() == DirectGetErrorKind::NotFound => Ok(0),
            Err(e) => Err(read_error(e)),
        }
    }
}
