//! Limits that keep one client from exhausting the server: request rates per user and per
//! address, connection and session caps, timeouts for slow clients, the size of headers.

use std::time::Duration;

use clap::Args;

use super::parse_duration;

#[derive(Args, Clone, Debug)]
pub struct LimitsConfig {
    /// Requests (and WebSocket frames other than ping) one user may make per second, on
    /// average; more are refused with 429 and Retry-After, or a `rate_limited` error frame.
    /// Service tokens are not limited per user. 0 turns the limit off.
    #[arg(long, env = "PARLEY_RATE_LIMIT_USER", default_value_t = 20)]
    pub rate_limit_user: u32,

    /// Requests one user may make at once above the per-second rate before being limited.
    #[arg(long, env = "PARLEY_RATE_LIMIT_USER_BURST", default_value_t = 100)]
    pub rate_limit_user_burst: u32,

    /// Requests one client address may make per second, on average, authenticated or not
    /// (health, readiness and metrics are exempt); more are refused with 429 and
    /// Retry-After. The address is the TCP peer's. 0 turns the limit off.
    #[arg(long, env = "PARLEY_RATE_LIMIT_IP", default_value_t = 200)]
    pub rate_limit_ip: u32,

    /// Requests one client address may make at once above the per-second rate.
    #[arg(long, env = "PARLEY_RATE_LIMIT_IP_BURST", default_value_t = 400)]
    pub rate_limit_ip_burst: u32,

    /// Open connections (WebSocket sessions included) this instance accepts; a connection
    /// over the cap gets a 503 problem with Retry-After and is closed. Keep it below the
    /// process's open-file limit.
    #[arg(long, env = "PARLEY_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: u32,

    /// WebSocket sessions one user may hold open on this instance; one more is closed with
    /// 1008 right after the upgrade. 0: no cap.
    #[arg(long, env = "PARLEY_MAX_SESSIONS_PER_USER", default_value_t = 20)]
    pub max_sessions_per_user: usize,

    /// How long a request (body included) may take before it is answered 408; attachment
    /// uploads too. WebSocket sessions and streamed downloads are bounded only until their
    /// first byte.
    #[arg(long, env = "PARLEY_REQUEST_TIMEOUT", value_parser = parse_duration, default_value = "30s")]
    pub request_timeout: Duration,

    /// How long a client may take to send a request's headers (slow clients that trickle
    /// them are disconnected); also how long an idle keep-alive connection stays open.
    #[arg(long, env = "PARLEY_HEADER_READ_TIMEOUT", value_parser = parse_duration, default_value = "10s")]
    pub header_read_timeout: Duration,

    /// Largest request line and headers together, in bytes; larger are answered 431.
    #[arg(long, env = "PARLEY_MAX_HEADER_BYTES", default_value_t = 16_384)]
    pub max_header_bytes: usize,
}

impl LimitsConfig {
    /// Refuses settings that cannot work.
    pub fn check(&self) -> Result<(), String> {
        if self.max_connections == 0 {
            return Err("PARLEY_MAX_CONNECTIONS must be at least 1".into());
        }
        if self.request_timeout.is_zero() {
            return Err("PARLEY_REQUEST_TIMEOUT must be longer than zero".into());
        }
        if self.header_read_timeout.is_zero() {
            return Err("PARLEY_HEADER_READ_TIMEOUT must be longer than zero".into());
        }
        if self.max_header_bytes < 1024 {
            return Err("PARLEY_MAX_HEADER_BYTES must be at least 1024".into());
        }
        if self.rate_limit_user > 0 && self.rate_limit_user_burst == 0 {
            return Err("PARLEY_RATE_LIMIT_USER_BURST must be at least 1".into());
        }
        if self.rate_limit_ip > 0 && self.rate_limit_ip_burst == 0 {
            return Err("PARLEY_RATE_LIMIT_IP_BURST must be at least 1".into());
        }
        Ok(())
    }

    /// No rate limits and no session cap: for tests and benchmarks that drive one user hard.
    pub fn unlimited(&mut self) {
        self.rate_limit_user = 0;
        self.rate_limit_ip = 0;
        self.max_sessions_per_user = 0;
    }
}
