//! The flags of `parley replay`. Connection settings are named as `serve` names them, so one
//! environment serves both; filters are flags only, since they differ on every run.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::Args;

use super::redact_url;
use crate::domain::{ConversationId, UserId};
use crate::replay;

/// `parley replay`: connection settings (named as `serve` names them) and what to replay.
#[derive(Args, Clone)]
pub struct ReplayArgs {
    /// NATS server URL. Required: replay reads a running deployment and starts no server.
    #[arg(long, env = "NATS_URL")]
    pub nats_url: String,

    /// NATS user name (the read-only `analyst` user of nats.conf).
    #[arg(long, env = "PARLEY_NATS_USER")]
    pub nats_user: Option<String>,

    /// NATS password for `--nats-user`.
    #[arg(long, env = "PARLEY_NATS_PASSWORD", hide_env_values = true)]
    pub nats_password: Option<String>,

    /// NATS credentials file (JWT and seed); used instead of a user and password.
    #[arg(long, env = "PARLEY_NATS_CREDS")]
    pub nats_creds: Option<PathBuf>,

    /// Prefix of the reply subjects replay receives on; nats.conf lets each user subscribe
    /// to its own prefix only.
    #[arg(long, env = "PARLEY_REPLAY_INBOX_PREFIX", default_value = "_INBOX_replay")]
    pub inbox_prefix: String,

    /// First sequence of PARLEY_EVENTS to replay.
    #[arg(long)]
    pub from_seq: Option<u64>,

    /// Last sequence of PARLEY_EVENTS to replay.
    #[arg(long)]
    pub to_seq: Option<u64>,

    /// Only events stored at or after this time (RFC 3339, e.g. 2026-11-21T09:00:00Z).
    #[arg(long, value_parser = parse_time)]
    pub since: Option<DateTime<Utc>>,

    /// Only events stored at or before this time (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    pub until: Option<DateTime<Utc>>,

    /// Only the events of this conversation (UUID).
    #[arg(long, value_parser = |s: &str| ConversationId::parse(s).map_err(|e| e.to_string()))]
    pub conversation: Option<ConversationId>,

    /// Only events of this type (`message_sent`, `ats.submitted`, ...); repeatable.
    #[arg(long = "type", value_name = "EVENT_NAME")]
    pub types: Vec<String>,

    /// Only events caused by this user or naming them in their data.
    #[arg(long, value_parser = |s: &str| UserId::parse(s).map_err(|e| e.to_string()))]
    pub user: Option<UserId>,

    /// Also replay the ATS's events (ATS_EVENTS), merged by time.
    #[arg(long)]
    pub include_ats: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = replay::Format::Json)]
    pub format: replay::Format,

    /// Write to this file instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,

    /// After catching up, keep writing new events until interrupted.
    #[arg(long, conflicts_with_all = ["to_seq", "until"])]
    pub follow: bool,
}

impl std::fmt::Debug for ReplayArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayArgs")
            .field("nats_url", &redact_url(&self.nats_url))
            .field("nats_user", &self.nats_user)
            .field("nats_password", &self.nats_password.as_ref().map(|_| "<set>"))
            .field("nats_creds", &self.nats_creds)
            .field("options", &self.options())
            .finish_non_exhaustive()
    }
}

impl ReplayArgs {
    pub fn options(&self) -> replay::Options {
        replay::Options {
            from_seq: self.from_seq,
            to_seq: self.to_seq,
            since: self.since,
            until: self.until,
            conversation: self.conversation,
            types: self.types.clone(),
            user: self.user.clone(),
            include_ats: self.include_ats,
            follow: self.follow,
            format: self.format,
        }
    }
}

/// An RFC 3339 time, as UTC.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{text:?} is not an RFC 3339 time like 2026-11-21T09:00:00Z: {e}"))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::config::{Cli, Command};

    #[test]
    fn replay_reads_filters_from_flags_and_never_prints_its_password() {
        let cli = Cli::parse_from([
            "parley",
            "replay",
            "--nats-url",
            "nats://localhost:4222",
            "--nats-password",
            "hunter2",
            "--type",
            "message_sent",
            "--type",
            "ats.submitted",
            "--since",
            "2026-11-21T10:00:00+01:00",
            "--format",
            "csv",
        ]);
        let Command::Replay(args) = cli.command else { panic!("parsed replay") };
        let options = args.options();
        assert_eq!(options.types, ["message_sent", "ats.submitted"]);
        assert_eq!(options.format, replay::Format::Csv);
        assert_eq!(
            options.since.map(crate::event_log::wire::format_time).as_deref(),
            Some("2026-11-21T09:00:00.000Z")
        );
        assert!(!format!("{args:?}").contains("hunter2"));
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn replay_refuses_follow_with_an_upper_bound() {
        let parsed = Cli::try_parse_from([
            "parley",
            "replay",
            "--nats-url",
            "nats://x:4222",
            "--follow",
            "--to-seq",
            "9",
        ]);
        assert!(
            matches!(&parsed, Err(e) if e.kind() == clap::error::ErrorKind::ArgumentConflict),
            "{parsed:?}"
        );
    }
}
