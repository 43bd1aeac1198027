//! What every handler can reach. Cloned for every request by the router and each middleware,
//! so it is one `Arc`: some handles inside (stream, key-value and object-store handles carry
//! their stream's whole configuration) are deep copies, and cloning them per request cost a
//! fifth of the server's CPU in the REST benchmark (see docs/benchmarks.md).

use std::ops::Deref;
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

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The state itself, shared by every clone of `AppState`.
pub struct Shared {
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

impl FromRef<AppState> for Arc<Verifier> {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

impl FromRef<AppState> for Arc<super::rate_limit::RateLimits> {
    fn from_ref(state: &AppState) -> Self {
        state.limits.clone()
    }
}
