//! Configuration: one `clap` parser, every setting a flag and an environment variable, each
//! field's doc comment its `--help`. Secrets are never logged (see `Config`'s `Debug`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod attachments;
mod auth;
mod limits;
mod live;
mod replay;
mod tools;

pub use attachments::{AttachmentConfig, DEFAULT_ATTACHMENT_TYPES};
pub use auth::{AuthConfig, JwtAlgorithm, TokenArgs};
pub use limits::LimitsConfig;
pub use live::LiveConfig;
pub use replay::{ReplayArgs, parse_time};
pub use tools::{ConnectArgs, DevPostgresArgs, EventsAction, EventsArgs, ProjectionsAction, ProjectionsArgs};

#[derive(Parser, Debug)]
#[command(name = "parley", version, about = "Event-sourced messaging backend for recruiting platforms")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log format: human-readable text, or one JSON object per line.
    #[arg(long, env = "PARLEY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server: HTTP and WebSocket API, projectors, live sessions.
    Serve(Box<Config>),
    /// Inspect the read models, or rebuild them from the event log.
    Projections(ProjectionsArgs),
    /// Maintain the event log: erase a conversation's events when the law requires it.
    Events(EventsArgs),
    /// Mint a signed token for development and tests; prints the token alone on stdout.
    Token(Box<TokenArgs>),
    /// Write the event log as JSON lines or CSV, for analysts. Needs only read permissions.
    Replay(Box<ReplayArgs>),
    /// Start a PostgreSQL cluster in a directory and keep it running until interrupted
    /// (used by scripts/test; prints its URL on the first line of stdout).
    #[command(hide = true)]
    DevPostgres(DevPostgresArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Environment {
    /// Embedded servers allowed, a development signing key generated when none is set.
    Development,
    /// Every dependency and key must be configured explicitly.
    Production,
}

#[derive(Args, Clone)]
pub struct Config {
    /// Address the HTTP server listens on (port 0: any free port).
    #[arg(long, env = "PARLEY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// NATS server URL. Unset: start a private nats-server under the data directory.
    #[arg(long, env = "NATS_URL")]
    pub nats_url: Option<String>,

    /// NATS user name, when the server requires one.
    #[arg(long, env = "PARLEY_NATS_USER")]
    pub nats_user: Option<String>,

    /// NATS password for `--nats-user`.
    #[arg(long, env = "PARLEY_NATS_PASSWORD", hide_env_values = true)]
    pub nats_password: Option<String>,

    /// PostgreSQL URL. Unset: start a private PostgreSQL cluster under the data directory.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Directory for embedded servers' data, the development signing key and logs.
    #[arg(long, env = "PARLEY_DATA_DIR", default_value = ".parley")]
    pub data_dir: PathBuf,

    /// development or production. Production refuses embedded servers and missing keys.
    #[arg(long = "env", env = "PARLEY_ENV", value_enum, default_value_t = Environment::Development)]
    pub environment: Environment,

    /// Replicas of every stream (1 for one nats-server, 3 for a cluster).
    #[arg(long, env = "PARLEY_STREAM_REPLICAS", default_value_t = 1)]
    pub stream_replicas: usize,

    /// Projector partitions: conversations are spread over this many projectors, each applied
    /// by one instance at a time (1 to 8). Every instance must use the same number; the read
    /// models remember it, and changing it takes `parley projections rebuild --partitions N`.
    #[arg(long, env = "PARLEY_PROJECTOR_PARTITIONS", default_value_t = 1)]
    pub projector_partitions: u32,

    /// How long start-up waits for NATS and PostgreSQL to answer before giving up.
    #[arg(long, env = "PARLEY_STARTUP_TIMEOUT", value_parser = parse_duration, default_value = "30s")]
    pub startup_timeout: Duration,

    /// How long a graceful shutdown waits for in-flight requests.
    #[arg(long, env = "PARLEY_SHUTDOWN_TIMEOUT", value_parser = parse_duration, default_value = "10s")]
    pub shutdown_timeout: Duration,

    /// Longest message content, in characters after trimming.
    #[arg(long, env = "PARLEY_MAX_CONTENT_CHARS", default_value_t = 16_384)]
    pub max_content_chars: usize,

    /// Most participants one conversation may have.
    #[arg(long, env = "PARLEY_MAX_PARTICIPANTS", default_value_t = 100)]
    pub max_participants: usize,

    /// Largest request body accepted, in bytes (attachment uploads have their own limit).
    #[arg(long, env = "PARLEY_MAX_BODY_BYTES", default_value_t = 262_144)]
    pub max_body_bytes: usize,

    /// How long a write waits for the read models to include it before answering 202.
    #[arg(long, env = "PARLEY_WRITE_WAIT", value_parser = parse_duration, default_value = "2s")]
    pub write_wait: Duration,

    /// How long an append waits for the stream's acknowledgement.
    #[arg(long, env = "PARLEY_PUBLISH_TIMEOUT", value_parser = parse_duration, default_value = "5s")]
    pub publish_timeout: Duration,

    #[command(flatten)]
    pub auth: AuthConfig,

    #[command(flatten)]
    pub attachments: AttachmentConfig,

    #[command(flatten)]
    pub live: LiveConfig,

    #[command(flatten)]
    pub limits: LimitsConfig,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("nats_url", &self.nats_url.as_deref().map(redact_url))
            .field("nats_user", &self.nats_user)
            .field("nats_password", &redacted(self.nats_password.is_some()))
            .field("database_url", &self.database_url.as_deref().map(redact_url))
            .field("data_dir", &self.data_dir)
            .field("environment", &self.environment)
            .field("stream_replicas", &self.stream_replicas)
            .field("projector_partitions", &self.projector_partitions)
            .field("auth", &self.auth)
            .field("attachments", &self.attachments)
            .field("live", &self.live)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

fn redacted(set: bool) -> &'static str {
    if set { "<set>" } else { "<unset>" }
}

/// A URL with any password replaced, for logs.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((credentials, host)) => {
                let user = credentials.split(':').next().unwrap_or_default();
                format!("{scheme}://{user}:***@{host}")
            }
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

impl Config {
    pub fn limits(&self) -> crate::domain::Limits {
        crate::domain::Limits {
            max_content_chars: self.max_content_chars,
            max_participants: self.max_participants,
        }
    }

    /// A configuration for tests and tools: every default, listening on any free port, without
    /// rate limits or session caps (tests drive one user hard; the limits' own tests set them).
    pub fn for_tests(nats_url: String, database_url: String, data_dir: PathBuf) -> Self {
        let mut config = Cli::parse_from(["parley", "serve"]);
        let Command::Serve(ref mut serve) = config.command else { unreachable!("parsed serve") };
        serve.listen = "127.0.0.1:0".parse().expect("a valid address");
        serve.nats_url = Some(nats_url);
        serve.database_url = Some(database_url);
        serve.data_dir = data_dir;
        serve.limits.unlimited();
        *serve.clone()
    }
}

/// Where a command-line tool finds NATS and PostgreSQL: explicit URLs, or those of a
/// `parley serve` running with embedded servers from the same data directory.
/// Durations as `500ms`, `30s`, `5m`, `1h`, or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let value: f64 =
        number.parse().map_err(|_| format!("{text:?} is not a duration like 500ms, 30s, 5m or 1h"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86_400.0,
        _ => {
            return Err(format!("{text:?}: unknown unit {unit:?} (use ms, s, m, h or d)"));
        }
    };
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("{text:?} is not a valid duration"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_common_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3 weeks").is_err());
    }

    #[test]
    fn passwords_never_reach_the_debug_output() {
        let mut config = Config::for_tests(
            "nats://u:natssecret@localhost:4222".into(),
            "postgres://p:pgsecret@localhost/x".into(),
            ".".into(),
        );
        config.nats_password = Some("hunter2".into());
        config.auth.jwt_secret = Some("tokensecret-0123456789abcdefghijk".into());
        let text = format!("{config:?}");
        assert!(
            !text.contains("natssecret")
                && !text.contains("pgsecret")
                && !text.contains("hunter2")
                && !text.contains("tokensecret"),
            "{text}"
        );
    }
}
