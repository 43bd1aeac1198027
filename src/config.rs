//! Configuration: one `clap` parser, every setting a flag and an environment variable, each
//! field's doc comment its `--help`. Secrets are never logged (see `Config`'s `Debug`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::domain::{Role, UserId};

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
    /// Mint a signed token for development and tests; prints the token alone on stdout.
    Token(Box<TokenArgs>),
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

    /// How long a write waits for the read models to include it before answering 202.
    #[arg(long, env = "PARLEY_WRITE_WAIT", value_parser = parse_duration, default_value = "2s")]
    pub write_wait: Duration,

    /// How long an append waits for the stream's acknowledgement.
    #[arg(long, env = "PARLEY_PUBLISH_TIMEOUT", value_parser = parse_duration, default_value = "5s")]
    pub publish_timeout: Duration,

    #[command(flatten)]
    pub auth: AuthConfig,
}

/// How bearer tokens are verified. Shared by `serve` and `token`, so a minted token carries
/// the issuer and audience the server checks.
#[derive(Args, Clone)]
pub struct AuthConfig {
    /// Signature algorithm every token must use: HS256 (shared secret), RS256 or EdDSA
    /// (public key file). Tokens with any other `alg` are refused.
    #[arg(long, env = "PARLEY_JWT_ALGORITHM", value_enum, ignore_case = true, default_value_t = JwtAlgorithm::Hs256)]
    pub jwt_algorithm: JwtAlgorithm,

    /// HS256 shared secret, at least 32 bytes. Unset in development: a random one is kept in
    /// `<data-dir>/dev-jwt-secret`. Never logged.
    #[arg(long, env = "PARLEY_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// PEM file with the public key that verifies RS256 or EdDSA tokens.
    #[arg(long, env = "PARLEY_JWT_PUBLIC_KEY_FILE")]
    pub jwt_public_key_file: Option<PathBuf>,

    /// Required `iss` claim. Unset: the issuer is not checked.
    #[arg(long, env = "PARLEY_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// Required `aud` claim. Unset: the audience is not checked.
    #[arg(long, env = "PARLEY_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// Clock skew tolerated when checking `exp` and `nbf`.
    #[arg(long, env = "PARLEY_JWT_LEEWAY", value_parser = parse_duration, default_value = "30s")]
    pub jwt_leeway: Duration,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("jwt_algorithm", &self.jwt_algorithm)
            .field("jwt_secret", &redacted(self.jwt_secret.is_some()))
            .field("jwt_public_key_file", &self.jwt_public_key_file)
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .field("jwt_leeway", &self.jwt_leeway)
            .finish()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256 and a shared secret.
    #[value(name = "HS256")]
    Hs256,
    /// RSA PKCS#1 v1.5 with SHA-256; verified with a public key.
    #[value(name = "RS256")]
    Rs256,
    /// Ed25519; verified with a public key.
    #[value(name = "EdDSA")]
    EdDsa,
}

impl JwtAlgorithm {
    /// The name in a token's `alg` header and in `PARLEY_JWT_ALGORITHM`.
    pub fn as_str(self) -> &'static str {
        match self {
            JwtAlgorithm::Hs256 => "HS256",
            JwtAlgorithm::Rs256 => "RS256",
            JwtAlgorithm::EdDsa => "EdDSA",
        }
    }
}

impl std::fmt::Display for JwtAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `parley token`: mints a token the way the identity provider would, for development.
#[derive(Args, Debug)]
pub struct TokenArgs {
    /// The user id (`sub` claim).
    #[arg(long, value_parser = parse_user_id)]
    pub sub: UserId,

    /// The role claim: recruiter, applicant, service or analyst.
    #[arg(long, value_parser = parse_role)]
    pub role: Role,

    /// Display name (`name` claim).
    #[arg(long)]
    pub name: Option<String>,

    /// How long the token is valid.
    #[arg(long, value_parser = parse_duration, default_value = "1h")]
    pub ttl: Duration,

    /// PEM file with the private key, for RS256 and EdDSA.
    #[arg(long, env = "PARLEY_JWT_PRIVATE_KEY_FILE")]
    pub private_key_file: Option<PathBuf>,

    /// Directory holding the development signing key (the same as `parley serve`'s).
    #[arg(long, env = "PARLEY_DATA_DIR", default_value = ".parley")]
    pub data_dir: PathBuf,

    /// development or production. Production never reads or creates a development key.
    #[arg(long = "env", env = "PARLEY_ENV", value_enum, default_value_t = Environment::Development)]
    pub environment: Environment,

    #[command(flatten)]
    pub auth: AuthConfig,
}

fn parse_user_id(text: &str) -> Result<UserId, String> {
    UserId::parse(text).map_err(|e| e.message)
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).map_err(|e| e.message)
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
            .field("auth", &self.auth)
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

    /// A configuration for tests and tools: every default, listening on any free port.
    pub fn for_tests(nats_url: String, database_url: String, data_dir: PathBuf) -> Self {
        let mut config = Cli::parse_from(["parley", "serve"]);
        let Command::Serve(ref mut serve) = config.command else { unreachable!("parsed serve") };
        serve.listen = "127.0.0.1:0".parse().expect("a valid address");
        serve.nats_url = Some(nats_url);
        serve.database_url = Some(database_url);
        serve.data_dir = data_dir;
        *serve.clone()
    }
}

/// Where a command-line tool finds NATS and PostgreSQL: explicit URLs, or those of a
/// `parley serve` running with embedded servers from the same data directory.
#[derive(Args, Clone)]
pub struct ConnectArgs {
    /// NATS server URL. Unset: the embedded one of a `parley serve` running from --data-dir.
    #[arg(long, env = "NATS_URL")]
    pub nats_url: Option<String>,
    /// NATS user name, when the server requires one.
    #[arg(long, env = "PARLEY_NATS_USER")]
    pub nats_user: Option<String>,
    /// NATS password for `--nats-user`.
    #[arg(long, env = "PARLEY_NATS_PASSWORD", hide_env_values = true)]
    pub nats_password: Option<String>,
    /// PostgreSQL URL. Unset: the embedded one of a `parley serve` running from --data-dir.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// The data directory of the `parley serve` whose embedded servers to use.
    #[arg(long, env = "PARLEY_DATA_DIR", default_value = ".parley")]
    pub data_dir: PathBuf,
}

impl std::fmt::Debug for ConnectArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectArgs")
            .field("nats_url", &self.nats_url.as_deref().map(redact_url))
            .field("nats_user", &self.nats_user)
            .field("database_url", &self.database_url.as_deref().map(redact_url))
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl ConnectArgs {
    /// The NATS and PostgreSQL URLs to use.
    pub fn resolve(&self) -> anyhow::Result<(String, String)> {
        let running = crate::embedded::Addresses::read(&self.data_dir);
        let from_serve =
            |pick: fn(&crate::embedded::Addresses) -> Option<String>| running.as_ref().and_then(pick);
        let nats = self.nats_url.clone().or_else(|| from_serve(|a| a.nats_url.clone()));
        let database = self.database_url.clone().or_else(|| from_serve(|a| a.database_url.clone()));
        match (nats, database) {
            (Some(nats), Some(database)) => Ok((nats, database)),
            _ => anyhow::bail!(
                "set NATS_URL and DATABASE_URL, or run this from the directory of a running `parley serve` \
                 (no embedded servers found under {})",
                self.data_dir.display()
            ),
        }
    }

    pub fn credentials(&self) -> Option<(String, String)> {
        self.nats_user.clone().zip(self.nats_password.clone())
    }
}

#[derive(Args, Clone, Debug)]
pub struct ProjectionsArgs {
    #[command(subcommand)]
    pub action: ProjectionsAction,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Subcommand, Clone, Debug)]
pub enum ProjectionsAction {
    /// Each projection's checkpoint, lag behind the log, and dead-letter count.
    Status {
        /// One JSON object per projection instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Rebuild every read model from sequence 1 into fresh tables, then swap them in.
    Rebuild {
        /// Build the fresh tables (schema parley_rebuild) but leave the live ones in place.
        #[arg(long)]
        no_swap: bool,
    },
}

#[derive(Args, Debug, Clone)]
pub struct DevPostgresArgs {
    /// Cluster directory (created when empty).
    #[arg(long)]
    pub dir: PathBuf,
    /// Turn fsync off: for throwaway test clusters only.
    #[arg(long)]
    pub fast_unsafe: bool,
}

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
