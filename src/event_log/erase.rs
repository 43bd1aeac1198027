//! Erasing one conversation's events from `PARLEY_EVENTS`, when the law requires more than a
//! message deletion (which only records a `message_deleted` fact and leaves the original
//! `message_sent` in the log). Run with every Parley instance stopped; see the README.
//!
//! The stream denies deletes and purges, and nats-server refuses to lift either setting on an
//! existing stream ("stream configuration update can not cancel deny message deletes / deny
//! purge", error 10052). So the stream is rebuilt:
//!
//! 1. `PARLEY_EVENTS_ERASE_BACKUP` mirrors `PARLEY_EVENTS` (a mirror keeps every sequence
//!    number, gaps included) until it holds all of it.
//! 2. `PARLEY_EVENTS` is deleted and created again from `streams/PARLEY_EVENTS.json`, but
//!    without the denials and the republish, starting at the same first sequence.
//! 3. Every event is copied back in order. An event of the erased conversation, and every gap,
//!    is copied as a filler on a subject of its own, so that each kept event lands at the
//!    sequence it had: read markers, history cursors and `since` resume points stay valid.
//! 4. The fillers are purged (leaving gaps), the stream gets its definition back (denials and
//!    republish on), and the backup is deleted: the last copy of the erased events.
//! 5. The attachments the erased messages referenced, and no kept message does, are deleted.
//!
//! `PARLEY_EVENTS_BY_PARTITION`, the projectors' copy of the log, is deleted first (it would
//! copy the rebuilt stream a second time: the server sources a recreated stream from its
//! start) and created again at the end, when the server copies the rebuilt log into it; the
//! projectors find their places in it by `PARLEY_EVENTS` sequence, which did not change.
//!
//! A run that stops half-way is resumed by running it again: the backup tells where it was.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::{self, stream};
use futures::StreamExt;

use super::RawEvent;
use super::streams::{StreamSetupError, definitions};
use super::subjects::{ATTACHMENTS_BUCKET, EVENTS_STREAM, PARTITIONS_STREAM};
use crate::domain::{AttachmentId, ConversationEvent, ConversationId, Envelope, Event};

/// The mirror that holds the log while it is rebuilt.
pub const BACKUP_STREAM: &str = "PARLEY_EVENTS_ERASE_BACKUP";
/// Where erased events and gaps sit while the stream is rebuilt; purged at the end.
const FILLER: &str = "parley.conv.00000000-0000-0000-0000-000000000000.erased";
/// Publishes awaiting their acknowledgement while copying.
const IN_FLIGHT: usize = 256;
/// How long the mirror may take to catch up.
const MIRROR_WAIT: Duration = Duration::from_secs(600);

/// What an erasure did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Erasure {
    /// Events of the conversation removed from the log.
    pub erased_events: u64,
    /// Events kept, each at its sequence.
    pub kept_events: u64,
    pub last_seq: u64,
    /// Attachments deleted from the object store.
    pub erased_attachments: Vec<AttachmentId>,
}

#[derive(Debug, thiserror::Error)]
pub enum EraseError {
    #[error("NATS: {0}")]
    Nats(String),
    #[error(transparent)]
    Definition(#[from] StreamSetupError),
    /// A check failed; the backup stream is kept so that nothing is lost.
    #[error("{0}; {BACKUP_STREAM} still holds every event: run the erasure again to resume")]
    Check(String),
}

fn nats(error: impl std::fmt::Display) -> EraseError {
    EraseError::Nats(error.to_string())
}

/// Removes every event of `conversation` from the log, keeping all other events at their
/// sequences. Every Parley instance must be stopped.
pub async fn erase_conversation(
    js: &jetstream::Context,
    conversation: &ConversationId,
    replicas: usize,
) -> Result<Erasure, EraseError> {
    let wanted = definitions(replicas)?
        .into_iter()
        .find(|c| c.name == EVENTS_STREAM)
        .ok_or_else(|| EraseError::Check(format!("streams/ defines no {EVENTS_STREAM}")))?;
    let copy_definition = definitions(replicas)?
        .into_iter()
        .find(|c| c.name == PARTITIONS_STREAM)
        .ok_or_else(|| EraseError::Check(format!("streams/ defines no {PARTITIONS_STREAM}")))?;
    match js.delete_stream(PARTITIONS_STREAM).await {
        Ok(_) => {}
        Err(e)
            if matches!(e.kind(), jetstream::context::DeleteStreamErrorKind::JetStream(ref api)
                if api.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND) => {}
        Err(e) => return Err(nats(e)),
    }
    let backup = prepare_backup(js, replicas).await?;
    let state = backup.cached_info().state.clone();
    let mut building = wanted.clone();
    building.deny_delete = false;
    building.deny_purge = false;
    building.republish = None;
    building.first_sequence = Some(state.first_sequence.max(1));
    js.create_stream(building).await.map_err(nats)?;
    let mut erasure = copy(js, &backup, conversation, state.last_sequence).await?;
    let events = js.get_stream(EVENTS_STREAM).await.map_err(nats)?;
    events.purge().filter(FILLER).await.map_err(nats)?;
    js.update_stream(&wanted).await.map_err(nats)?;
    let mut events = js.get_stream(EVENTS_STREAM).await.map_err(nats)?;
    let rebuilt = events.info().await.map_err(nats)?.state.clone();
    if rebuilt.last_sequence != state.last_sequence || rebuilt.messages != erasure.kept_events {
        return Err(EraseError::Check(format!(
            "the rebuilt stream holds {} events up to {}, expected {} up to {}",
            rebuilt.messages, rebuilt.last_sequence, erasure.kept_events, state.last_sequence
        )));
    }
    js.delete_stream(BACKUP_STREAM).await.map_err(nats)?;
    js.create_stream(copy_definition).await.map_err(nats)?;
    let bucket = js.get_object_store(ATTACHMENTS_BUCKET).await.map_err(nats)?;
    for id in &erasure.erased_attachments {
        match bucket.delete(id.to_string()).await {
            Ok(()) => {}
            Err(e) if e.kind() == jetstream::object_store::DeleteErrorKind::NotFound => {}
            Err(e) => return Err(nats(e)),
        }
    }
    erasure.last_seq = state.last_sequence;
    Ok(erasure)
}

/// The complete backup, made now or left by an earlier run; `PARLEY_EVENTS` is gone after it.
async fn prepare_backup(js: &jetstream::Context, replicas: usize) -> Result<stream::Stream, EraseError> {
    let origin = match js.get_stream(EVENTS_STREAM).await {
        Ok(mut origin) => Some(origin.info().await.map_err(nats)?.clone()),
        Err(_) => None,
    };
    if let Ok(backup) = js.get_stream(BACKUP_STREAM).await {
        match origin {
            // An earlier run stopped while rebuilding: the backup is complete (the origin is
            // deleted only then), the half-built stream is thrown away.
            Some(half_built) if !half_built.config.deny_purge => {
                js.delete_stream(EVENTS_STREAM).await.map_err(nats)?;
                return Ok(backup);
            }
            None => return Ok(backup),
            // An earlier run stopped before touching the log, or after finishing it: start over.
            Some(_) => {
                js.delete_stream(BACKUP_STREAM).await.map_err(nats)?;
            }
        }
    }
    let origin = origin.ok_or_else(|| EraseError::Check(format!("there is no stream {EVENTS_STREAM}")))?;
    let mut backup = js
        .create_stream(stream::Config {
            name: BACKUP_STREAM.to_owned(),
            description: Some(format!(
                "Copy of {EVENTS_STREAM} while a conversation is erased; deleted after"
            )),
            mirror: Some(stream::Source { name: EVENTS_STREAM.to_owned(), ..Default::default() }),
            storage: stream::StorageType::File,
            num_replicas: replicas,
            ..Default::default()
        })
        .await
        .map_err(nats)?;
    let deadline = Instant::now() + MIRROR_WAIT;
    loop {
        let state = backup.info().await.map_err(nats)?.state.clone();
        if state.last_sequence == origin.state.last_sequence && state.messages == origin.state.messages {
            break;
        }
        if Instant::now() > deadline {
            return Err(EraseError::Check(format!(
                "the backup reached {} of {} events in {MIRROR_WAIT:?}; {EVENTS_STREAM} is untouched",
                state.messages, origin.state.messages
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    js.delete_stream(EVENTS_STREAM).await.map_err(nats)?;
    Ok(backup)
}

/// Copies the backup into the new stream, each event at its sequence.
async fn copy(
    js: &jetstream::Context,
    backup: &stream::Stream,
    conversation: &ConversationId,
    last_seq: u64,
) -> Result<Erasure, EraseError> {
    let prefix = format!("parley.conv.{conversation}.");
    let mut erasure = Erasure::default();
    let (mut erased_files, mut kept_files) = (HashSet::new(), HashSet::new());
    let mut pending: VecDeque<(u64, PublishAckFuture)> = VecDeque::new();
    let mut next = backup.cached_info().state.first_sequence.max(1);
    let consumer = backup
        .create_consumer(pull::OrderedConfig { deliver_policy: DeliverPolicy::All, ..Default::default() })
        .await
        .map_err(nats)?;
    let mut messages = consumer.messages().await.map_err(nats)?;
    while next <= last_seq {
        let message =
            messages.next().await.ok_or_else(|| EraseError::Check("the backup ended early".into()))?;
        let raw = RawEvent::from_consumer(&message.map_err(nats)?).map_err(nats)?;
        while next < raw.seq {
            pending.push_back((next, filler(js).await?));
            next += 1;
        }
        let files = attachments(&raw);
        if raw.subject.starts_with(&prefix) {
            erased_files.extend(files);
            erasure.erased_events += 1;
            pending.push_back((next, filler(js).await?));
        } else {
            kept_files.extend(files);
            erasure.kept_events += 1;
            let ack = js.publish_with_headers(raw.subject.clone(), parley_headers(&raw), raw.payload.clone());
            pending.push_back((next, ack.await.map_err(nats)?));
        }
        next += 1;
        while pending.len() >= IN_FLIGHT {
            settle(pending.pop_front()).await?;
        }
    }
    while let Some(item) = pending.pop_front() {
        settle(Some(item)).await?;
    }
    erasure.erased_attachments = erased_files.difference(&kept_files).copied().collect();
    erasure.erased_attachments.sort();
    Ok(erasure)
}

async fn filler(js: &jetstream::Context) -> Result<PublishAckFuture, EraseError> {
    js.publish(FILLER, bytes::Bytes::new()).await.map_err(nats)
}

/// Checks that a copied event landed at the sequence it had.
async fn settle(item: Option<(u64, PublishAckFuture)>) -> Result<(), EraseError> {
    let Some((expected, ack)) = item else { return Ok(()) };
    let ack = ack.await.map_err(nats)?;
    if ack.sequence != expected {
        return Err(EraseError::Check(format!("an event landed at {} instead of {expected}", ack.sequence)));
    }
    Ok(())
}

/// The event's own headers, without the server's (`Nats-*`: message ids, expectations, batch
/// markers), which belonged to the original publish.
fn parley_headers(raw: &RawEvent) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(original) = &raw.headers {
        for (name, values) in original.iter() {
            if name.to_string().to_ascii_lowercase().starts_with("nats-") {
                continue;
            }
            for value in values {
                headers.append(name.clone(), value.clone());
            }
        }
    }
    headers
}

/// The attachments a `message_sent` references.
fn attachments(raw: &RawEvent) -> Vec<AttachmentId> {
    if !raw.subject.ends_with(".message_sent") {
        return Vec::new();
    }
    match raw.decode() {
        Ok(Envelope {
            event: Event::Conversation(_, ConversationEvent::MessageSent { attachments, .. }),
            ..
        }) => attachments.iter().map(|a| a.id).collect(),
        _ => Vec::new(),
    }
}
