//! The servers a scenario measures: a fresh nats-server and PostgreSQL of its own (started
//! with the same code as the embedded default, with production durability settings), and,
//! where a scenario needs it, a real `parley serve` process next to them.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use parley::embedded::{self, NatsOptions, NatsServer, PgCluster, PgOptions};
use parley::event_log::EventLog;
use tempfile::TempDir;
use tokio::process::{Child, Command};

/// The HS256 secret the benchmark's servers and clients share.
pub const SECRET: &str = "parley-benchmark-secret-0123456789abcdef";

pub struct Env {
    pub nats: NatsServer,
    pub pg: PgCluster,
    pub log: EventLog,
    pub dir: TempDir,
}

impl Env {
    pub async fn start(repo: &Path) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("parley-bench-").tempdir()?;
        let nats = NatsServer::start(NatsOptions {
            binary: embedded::find_nats_server(&repo.join(".parley"))?,
            store_dir: dir.path().join("nats"),
            port: None,
            config_file: None,
            log_file: Some(dir.path().join("nats.log")),
            env: Vec::new(),
            args: Vec::new(),
        })
        .await?;
        let pg = PgCluster::start(PgOptions {
            data_dir: dir.path().join("pg"),
            port: None,
            fast_unsafe: false,
            log_file: Some(dir.path().join("pg.log")),
        })
        .await?;
        pg.ensure_database("parley").await?;
        let client = async_nats::connect(nats.url()).await?;
        let log = EventLog::new(client);
        parley::event_log::streams::apply(log.jetstream(), 1).await?;
        Ok(Self { nats, pg, log, dir })
    }

    pub fn database_url(&self) -> String {
        self.pg.url("parley")
    }

    /// Starts `parley serve` against these servers and waits until it is ready.
    pub async fn serve(&self, binary: &Path, extra: &[(&str, &str)]) -> anyhow::Result<Server> {
        self.serve_on(binary, embedded::process::free_port()?, extra).await
    }

    /// `parley serve` on `port`; `extra` settings override the defaults (NATS_URL, ...).
    pub async fn serve_on(&self, binary: &Path, port: u16, extra: &[(&str, &str)]) -> anyhow::Result<Server> {
        let mut command = Command::new(binary);
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("NATS_URL", self.nats.url())
            .env("DATABASE_URL", self.database_url())
            .env("PARLEY_JWT_SECRET", SECRET)
            .env("PARLEY_DATA_DIR", self.dir.path().join("serve"))
            .env("RUST_LOG", "warn")
            // Load from a handful of users and one address: the limits would measure themselves.
            .env("PARLEY_RATE_LIMIT_USER", "0")
            .env("PARLEY_RATE_LIMIT_IP", "0")
            .env("PARLEY_MAX_SESSIONS_PER_USER", "0")
            .env("PARLEY_MAX_CONNECTIONS", "100000")
            .envs(extra.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.dir.path().join("serve.log"))?,
            )
            .kill_on_drop(true);
        let child = command.spawn().with_context(|| format!("starting {}", binary.display()))?;
        let server = Server { process: child, base: format!("http://127.0.0.1:{port}"), port };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(response) = http.get(format!("{}/readyz", server.base)).send().await
                && response.status().is_success()
            {
                return Ok(server);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("parley serve was not ready within 60 s; see {}", self.dir.path().join("serve.log").display())
    }
}

pub struct Server {
    /// Killed when the scenario drops the server.
    pub process: Child,
    pub base: String,
    pub port: u16,
}

impl Server {
    /// Resident memory of the server process, in bytes.
    pub fn resident_bytes(&self) -> Option<u64> {
        let pid = self.process.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }
}

/// The `parley` binary built next to this one (same profile).
pub fn parley_binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let binary = me.with_file_name("parley");
    if !binary.exists() {
        bail!("{} is missing: build it first (scripts/bench does)", binary.display());
    }
    Ok(binary)
}

/// A signed token for a benchmark user.
pub fn token(user: &str, role: parley::domain::Role) -> String {
    let signer = parley::auth::Signer::hs256(SECRET.as_bytes());
    let user = parley::domain::UserId::parse(user).expect("benchmark user ids are valid");
    signer.mint(&user, role, None, Duration::from_secs(3600)).expect("signing a benchmark token")
}

/// Raises the open-file limit: thousands of sessions need thousands of sockets.
pub fn raise_file_limit() {
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
