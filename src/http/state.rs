//! What every handler can reach. Cheap to clone: everything inside is a handle.

use std::sync::Arc;

use axum::extract::FromRef;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::attachments::Attachments;
use crate::auth::Verifier;
use crate::commands::Commands;
use crate::config::Config;
use crate::event_log::EventLog;
use crate::live::{Live, Presence, SessionCaps};
use crate::projections::Progress;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub log: EventLog,
    pub commands: Commands,
    pub db: PgPool,
    pub config: Arc<Config>,
    /// How far the read models are; write endpoints wait on it to read their own writes.
    pub progress: Progress,
    pub presence: Presence,
    /// Uploaded files in the object store.
    pub attachments: Attachments,
    /// Live sessions: the hub, typing, tickets and their settings.
    pub live: Live,
    /// Checks bearer tokens; the REST extractor and the WebSocket upgrade share it.
    pub auth: Arc<Verifier>,
    /// Requests per user and per client address.
    pub limits: Arc<super::rate_limit::RateLimits>,
    /// WebSocket sessions per user on this instance.
    pub sessions: SessionCaps,
    /// Cancelled when the server begins to shut down (long-lived sessions close on it).
    pub shutdown: CancellationToken,
}
