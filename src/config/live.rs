//! Settings of live sessions: WebSocket limits and timers, tickets, typing and presence.

use std::time::Duration;

use clap::Args;

use super::parse_duration;

#[derive(Args, Clone, Debug)]
pub struct LiveConfig {
    /// Origins (scheme://host[:port]) whose browser pages may open a WebSocket, separated by
    /// commas; `*` allows any. Requests without an Origin header (non-browser clients) and
    /// same-origin requests are always allowed; any other Origin is refused with 403.
    #[arg(long, env = "PARLEY_WS_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub ws_allowed_origins: Vec<String>,

    /// Largest WebSocket frame and message a client may send, in bytes; larger ones close the
    /// session with 1009.
    #[arg(long, env = "PARLEY_WS_MAX_MESSAGE_BYTES", default_value_t = 65_536)]
    pub ws_max_message_bytes: usize,

    /// Frames waiting to be written to one session. A session whose queue is full cannot keep
    /// up and is closed with 1013; it resumes with `since`.
    #[arg(long, env = "PARLEY_WS_SEND_QUEUE", default_value_t = 256)]
    pub ws_send_queue: usize,

    /// How often the server pings a session.
    #[arg(long, env = "PARLEY_WS_PING_INTERVAL", value_parser = parse_duration, default_value = "20s")]
    pub ws_ping_interval: Duration,

    /// A session from which nothing (not even a pong) arrived for this long is dropped.
    #[arg(long, env = "PARLEY_WS_PEER_TIMEOUT", value_parser = parse_duration, default_value = "45s")]
    pub ws_peer_timeout: Duration,

    /// How long a ticket from `POST /api/ws/ticket` stays valid (it is single use).
    #[arg(long, env = "PARLEY_WS_TICKET_TTL", value_parser = parse_duration, default_value = "30s")]
    pub ws_ticket_ttl: Duration,

    /// A typing indicator not renewed for this long is cleared by the receiving servers.
    #[arg(long, env = "PARLEY_TYPING_TIMEOUT", value_parser = parse_duration, default_value = "10s")]
    pub typing_timeout: Duration,

    /// Typing signals one user may send per second in one conversation (bursts of five
    /// allowed); more are refused with 429 or a `rate_limited` error frame.
    #[arg(long, env = "PARLEY_TYPING_RATE", default_value_t = 2)]
    pub typing_rate: u32,

    /// How often an instance renews the presence keys of its connected users.
    #[arg(long, env = "PARLEY_PRESENCE_HEARTBEAT", value_parser = parse_duration, default_value = "15s")]
    pub presence_heartbeat: Duration,

    /// How long a presence key outlives its last renewal: a crashed instance's users go
    /// offline this long after its last heartbeat (whole seconds, at least 1).
    #[arg(long, env = "PARLEY_PRESENCE_TTL", value_parser = parse_duration, default_value = "45s")]
    pub presence_ttl: Duration,
}

impl LiveConfig {
    /// Refuses settings that cannot work together.
    pub fn check(&self) -> Result<(), String> {
        if self.ws_send_queue == 0 {
            return Err("PARLEY_WS_SEND_QUEUE must be at least 1".into());
        }
        if self.ws_max_message_bytes < 1024 {
            return Err("PARLEY_WS_MAX_MESSAGE_BYTES must be at least 1024".into());
        }
        if self.ws_ping_interval.is_zero() || self.ws_peer_timeout <= self.ws_ping_interval {
            return Err("PARLEY_WS_PEER_TIMEOUT must be longer than PARLEY_WS_PING_INTERVAL".into());
        }
        if self.presence_ttl < Duration::from_secs(1) || self.presence_heartbeat >= self.presence_ttl {
            return Err(
                "PARLEY_PRESENCE_TTL must be at least 1s and longer than PARLEY_PRESENCE_HEARTBEAT".into()
            );
        }
        if self.ws_ticket_ttl < Duration::from_secs(1) {
            return Err("PARLEY_WS_TICKET_TTL must be at least 1s".into());
        }
        if self.typing_rate == 0 {
            return Err("PARLEY_TYPING_RATE must be at least 1".into());
        }
        Ok(())
    }
}
