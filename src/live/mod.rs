//! Live: what happens now rather than what happened. Presence (who is online) and, with
//! WebSocket sessions, the fan-out of events as they are appended. Never writes to
//! PostgreSQL.

pub mod presence;

pub use presence::Presence;
