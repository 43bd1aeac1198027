//! Parley: an event-sourced messaging backend for recruiting platforms.
//!
//! # Layout
//!
//! An action flows through these modules in this order:
//!
//! - [`http`]: the REST and WebSocket API (axum) behind its own HTTP/1.1 server loop (connection
//!   cap, header timeout and size): rate-limits, authenticates, validates, authorises, and
//!   answers with read models or problem documents.
//! - [`auth`]: verifies bearer tokens (JWT) into a `Principal`; mints development tokens.
//! - [`domain`]: pure rules. Commands become events through `decide`; state folds events
//!   through `evolve`. No I/O.
//! - [`commands`]: loads a conversation's state from the log, decides, appends with an
//!   expected sequence, and decides again on a conflict.
//! - [`event_log`]: the only code that knows NATS subjects, headers and the postcard wire
//!   format. Appends with idempotency ids and expected sequences; reads back; stream setup.
//! - [`attachments`]: uploaded files in the JetStream object store, streamed in and out,
//!   sniffed, size-limited and hashed; the cleanup of uploads no message references.
//! - [`projections`]: PostgreSQL read models built exactly once from the log, with
//!   checkpoints, dead letters, read-your-writes waiting and rebuilds; conversations are
//!   spread over partitions, each applied by one instance at a time.
//! - [`ats`]: turns the applicant-tracking system's events into conversation facts.
//! - [`replay`]: analysts' read of the log (`parley replay`) as JSON lines or CSV, through
//!   ephemeral ordered consumers and read permissions only; renders `docs/events.md`.
//! - [`live`]: WebSocket sessions fed by one ordered feed of stored events per instance,
//!   gap-free resume, typing, presence and unread frames; never writes to PostgreSQL.
//! - [`queries`] and [`views`]: reads of the read models and the JSON shapes clients see.
//! - [`embedded`]: the private nats-server and PostgreSQL of the development default and of
//!   the tests.
//! - [`config`] and [`startup`]: one `Config`, and the `Application` built from it.

pub mod ats;
pub mod attachments;
pub mod auth;
pub mod commands;
pub mod config;
pub mod domain;
pub mod embedded;
pub mod event_log;
pub mod http;
pub mod live;
pub mod projections;
pub mod queries;
pub mod replay;
pub mod startup;
pub mod telemetry;
pub mod views;
