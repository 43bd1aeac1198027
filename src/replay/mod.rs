//! Replay for analysts: reads `PARLEY_EVENTS` (and optionally `ATS_EVENTS`) with ephemeral
//! ordered consumers and writes one record per event, as JSON lines or CSV. Streams without
//! collecting, so memory stays flat over any number of events; one event that cannot be
//! decoded becomes an error record and never stops the replay.
//!
//! Needs only read permissions (see `source.rs` for the JetStream API it uses) and never
//! writes to NATS. The record and `data` shapes are documented in `docs/events.md`, which
//! `docs::render` generates from this code.

mod ats;
mod data;
pub mod docs;
pub mod filter;
mod merge;
mod record;
mod source;
mod write;

use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_nats::jetstream;
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use merge::Merged;
pub use record::{Body, CSV_HEADER, Encoder, Key, Record};
use source::{Bounds, Source, StreamKind};
use write::Writer;

use crate::domain::{ConversationId, UserId};
use crate::event_log::subjects::{ATS_STREAM, EVENTS_STREAM};

/// The output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    #[default]
    Json,
    /// A header line, then one row per event with fixed columns.
    Csv,
}

/// What to replay. Sequence bounds apply to `PARLEY_EVENTS`; time bounds are the time the log
/// stored an event, and apply to both streams.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub from_seq: Option<u64>,
    pub to_seq: Option<u64>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub conversation: Option<ConversationId>,
    /// Event names (`message_sent`) or ATS types (`ats.submitted`); empty: every type.
    pub types: Vec<String>,
    /// Only events caused by this user or naming them in their data.
    pub user: Option<UserId>,
    pub include_ats: bool,
    /// Keep writing new events after catching up, until stopped.
    pub follow: bool,
    pub format: Format,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{0}")]
    Options(String),
    #[error("reading the event log failed: {0}")]
    Read(String),
    #[error("writing the output failed: {0}")]
    Write(#[from] std::io::Error),
}

/// Counters a progress display reads while the replay runs.
#[derive(Debug, Default)]
pub struct Progress {
    read: AtomicU64,
    written: AtomicU64,
    errors: AtomicU64,
    total: AtomicU64,
    caught_up: AtomicBool,
}

impl Progress {
    /// Events read from the streams so far.
    pub fn read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }
    /// Records written (events that passed every filter).
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }
    /// Events that could not be decoded (each written as an error record).
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
    /// Events pending when the replay started; 0 until the consumers are open.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
    /// Every event pending at the start has been read (follow mode goes on from here).
    pub fn caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Relaxed)
    }
    fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
    fn count_written(&self) {
        Self::count(&self.written);
    }
    fn count_error(&self) {
        Self::count(&self.errors);
    }
}

/// What a finished replay did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub read: u64,
    pub written: u64,
    pub errors: u64,
}

impl Options {
    pub fn validate(&self) -> Result<(), ReplayError> {
        let bad = |text: &str| Err(ReplayError::Options(text.to_owned()));
        if let (Some(from), Some(to)) = (self.from_seq, self.to_seq)
            && to < from
        {
            return bad("--to-seq is before --from-seq");
        }
        if let (Some(since), Some(until)) = (self.since, self.until)
            && until < since
        {
            return bad("--until is before --since");
        }
        if self.follow && (self.to_seq.is_some() || self.until.is_some()) {
            return bad("--follow runs until interrupted: it takes no --to-seq or --until");
        }
        filter::check_types(&self.types)
    }
}

/// Replays what `options` select into `out` until the streams are read (or, with `follow`,
/// until `stop` is cancelled). Output is buffered and flushed at the end, and in follow mode
/// whenever the replay has caught up.
pub async fn run<W: Write>(
    js: &jetstream::Context,
    options: &Options,
    out: W,
    progress: &Progress,
    stop: &CancellationToken,
) -> Result<Summary, ReplayError> {
    options.validate()?;
    let mut sources = Vec::new();
    if let Some(filters) = filter::parley_filters(options) {
        let bounds = Bounds {
            from_seq: options.from_seq,
            to_seq: options.to_seq,
            since: options.since,
            until: options.until,
        };
        let kind = StreamKind::Parley;
        sources.push(Source::open(js, kind, EVENTS_STREAM, filters, &bounds).await?);
    }
    if let Some(filters) = filter::ats_filters(options) {
        let bounds = Bounds { from_seq: None, to_seq: None, since: options.since, until: options.until };
        sources.push(Source::open(js, StreamKind::Ats, ATS_STREAM, filters, &bounds).await?);
    }
    let mut merged = Merged::new(sources, options.follow);
    progress.total.store(merged.total_pending(), Ordering::Relaxed);
    let mut out = BufWriter::with_capacity(256 * 1024, out);
    let mut writer = Writer { options, encoder: Encoder::new(options.format), progress };
    writer.encoder.start(&mut out)?;
    loop {
        if merged.caught_up() {
            out.flush()?;
            progress.caught_up.store(true, Ordering::Relaxed);
        }
        let Some(delivered) = merged.next(stop).await? else {
            break;
        };
        Progress::count(&progress.read);
        if options.from_seq.is_some() && !filter::in_time_range(options, delivered.stored_at) {
            continue;
        }
        match delivered.stream {
            StreamKind::Parley => writer.parley(&mut out, &delivered)?,
            StreamKind::Ats => writer.ats(&mut out, &delivered)?,
        }
    }
    out.flush()?;
    Ok(Summary { read: progress.read(), written: progress.written(), errors: progress.errors() })
}
