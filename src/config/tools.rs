//! Arguments of the command-line tools other than `serve`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::redact_url;

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
        let set = |value: &Option<String>| value.clone().filter(|v| !v.trim().is_empty());
        let nats = set(&self.nats_url).or_else(|| from_serve(|a| a.nats_url.clone()));
        let database = set(&self.database_url).or_else(|| from_serve(|a| a.database_url.clone()));
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
    /// Rebuild into fresh tables (without swapping) and compare them with the live ones row
    /// for row, and recount every unread counter; exits 1 on any difference.
    Verify,
    /// Rebuild every read model from sequence 1 into fresh tables, then swap them in.
    Rebuild {
        /// Build the fresh tables (schema parley_rebuild) but leave the live ones in place.
        #[arg(long)]
        no_swap: bool,
        /// Projector partitions of the rebuilt read models (default: as many as now). Stop every
        /// `parley serve` first when changing it, and start them with the same number.
        #[arg(long)]
        partitions: Option<u32>,
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

#[derive(Args, Clone, Debug)]
pub struct EventsArgs {
    #[command(subcommand)]
    pub action: EventsAction,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Replicas of the rebuilt stream (as `parley serve --stream-replicas`).
    #[arg(long, env = "PARLEY_STREAM_REPLICAS", default_value_t = 1)]
    pub stream_replicas: usize,
}

#[derive(Subcommand, Clone, Debug)]
pub enum EventsAction {
    /// Remove every event of one conversation from PARLEY_EVENTS (and the attachments only it
    /// referenced), keeping all other events at their sequences, then rebuild the read models.
    /// Stop every `parley serve` first. Without --yes, only says what it would remove.
    EraseConversation {
        /// The conversation's id.
        conversation_id: String,
        /// Really erase (this cannot be undone).
        #[arg(long)]
        yes: bool,
    },
}
