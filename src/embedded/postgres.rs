//! A private PostgreSQL cluster (`initdb` + `postgres`) as a child process: the embedded
//! default of `parley serve`, and the test harness's database server.
//!
//! PostgreSQL refuses to run as root. When Parley runs as root (as on CI machines), the
//! cluster's files belong to the `postgres` account and the server runs as that account.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

use super::process;

#[derive(Clone, Debug)]
pub struct PgOptions {
    /// The cluster directory; created with `initdb` when empty.
    pub data_dir: PathBuf,
    /// `None`: any free port.
    pub port: Option<u16>,
    /// Trade durability for speed (tests only): fsync and full-page writes off.
    pub fast_unsafe: bool,
    pub log_file: Option<PathBuf>,
}

pub struct PgCluster {
    options: PgOptions,
    bin_dir: PathBuf,
    account: Option<(u32, u32)>,
    port: u16,
    child: Option<Child>,
}

/// The superuser `initdb` creates; trust authentication on loopback only.
pub const SUPERUSER: &str = "postgres";

impl PgCluster {
    pub async fn start(mut options: PgOptions) -> anyhow::Result<Self> {
        // PostgreSQL changes into its data directory, so relative paths would break.
        options.data_dir = std::path::absolute(&options.data_dir)
            .with_context(|| format!("resolving {}", options.data_dir.display()))?;
        let bin_dir = find_pg_bin_dir()?;
        let account = if process::running_as_root() {
            Some(process::lookup_account("postgres").context(
                "running as root, PostgreSQL must run as another account, and there is no `postgres` \
                 account: install Debian's postgresql package (scripts/run does) or create the account",
            )?)
        } else {
            None
        };
        let mut cluster = Self { options, bin_dir, account, port: 0, child: None };
        let data_dir = cluster.options.data_dir.clone();
        cluster.make_reachable(&data_dir)?;
        cluster.init().await?;
        // Also repairs a cluster directory whose mode PostgreSQL would refuse.
        cluster.hand_over(&data_dir)?;
        let mut last_error = None;
        for _ in 0..5 {
            cluster.port = match cluster.options.port {
                Some(port) => port,
                None => process::free_port()?,
            };
            match cluster.spawn().await {
                Ok(()) => return Ok(cluster),
                Err(e) if cluster.options.port.is_none() => last_error = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_error.expect("the loop ran at least once"))
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin_dir.join(program));
        if let Some((uid, gid)) = self.account {
            command.uid(uid).gid(gid);
        }
        command.stdin(Stdio::null()).kill_on_drop(true);
        command
    }

    async fn init(&self) -> anyhow::Result<()> {
        let dir = &self.options.data_dir;
        if dir.join("PG_VERSION").exists() {
            return Ok(());
        }
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        self.hand_over(dir)?;
        let output = self
            .command("initdb")
            .arg("-D")
            .arg(dir)
            .args(["-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"])
            .output()
            .await
            .context("running initdb")?;
        if !output.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&output.stderr).trim());
        }
        Ok(())
    }

    /// Gives the account the server runs as a directory of its own (mode 0700, as
    /// PostgreSQL insists).
    fn hand_over(&self, dir: &Path) -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let Some((uid, gid)) = self.account else {
            return Ok(());
        };
        std::os::unix::fs::chown(dir, Some(uid), Some(gid))
            .with_context(|| format!("giving {} to the postgres account", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        Ok(())
    }

    /// Lets the postgres account traverse every directory above the cluster.
    fn make_reachable(&self, dir: &Path) -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        if self.account.is_none() {
            return Ok(());
        }
        let mut parent = dir.parent();
        while let Some(p) = parent {
            if let Ok(meta) = std::fs::metadata(p) {
                let mode = meta.permissions().mode();
                if mode & 0o001 == 0 {
                    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode | 0o001))
                        .with_context(|| format!("letting postgres traverse {}", p.display()))?;
                }
            }
            parent = p.parent();
        }
        Ok(())
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let dir = &self.options.data_dir;
        let socket_dir = dir.join("sockets");
        std::fs::create_dir_all(&socket_dir)?;
        self.hand_over(&socket_dir)?;
        let mut command = self.command("postgres");
        command.arg("-D").arg(dir).arg("-p").arg(self.port.to_string()).arg("-k").arg(&socket_dir).args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "max_connections=300",
        ]);
        if self.options.fast_unsafe {
            command.args(["-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off"]);
        }
        match &self.options.log_file {
            Some(path) => {
                let log = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
                command.stdout(log.try_clone()?).stderr(log);
            }
            None => {
                command.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        // SIGINT is PostgreSQL's fast shutdown: roll back, checkpoint, exit.
        process::die_with_parent(&mut command, libc::SIGINT);
        let mut child = command.spawn().context("starting postgres")?;
        for _ in 0..600 {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "postgres exited at start-up ({status}); see {}",
                    self.options
                        .log_file
                        .as_deref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| "its log".into())
                );
            }
            if process::wait_for_port(self.port, Duration::from_millis(50)) && self.accepts_queries().await {
                self.child = Some(child);
                return Ok(());
            }
        }
        bail!("postgres did not accept connections on port {} within 30 s", self.port)
    }

    async fn accepts_queries(&self) -> bool {
        use sqlx::Connection;
        sqlx::PgConnection::connect(&self.url("postgres")).await.is_ok()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Creates `database` unless it exists.
    pub async fn ensure_database(&self, database: &str) -> anyhow::Result<()> {
        ensure_database(&self.url("postgres"), database).await
    }

    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                process::signal(pid, libc::SIGINT);
            }
            if tokio::time::timeout(Duration::from_secs(15), child.wait()).await.is_err() {
                let _ = child.kill().await;
            }
        }
    }

    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill().await;
        for attempt in 0..100 {
            match self.spawn().await {
                Ok(()) => return Ok(()),
                Err(_) if attempt < 99 => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(e) => return Err(e),
            }
        }
        unreachable!("the last attempt returns")
    }

    pub fn pause(&self) {
        if let Some(pid) = self.pid() {
            process::signal(pid, libc::SIGSTOP);
        }
    }

    pub fn resume(&self) {
        if let Some(pid) = self.pid() {
            process::signal(pid, libc::SIGCONT);
        }
    }

    pub async fn wait_exit(&mut self) -> Option<std::process::ExitStatus> {
        let status = self.child.as_mut()?.wait().await.ok();
        self.child = None;
        status
    }
}

/// Creates a database through a server's maintenance database, tolerating a racing creator.
pub async fn ensure_database(admin_url: &str, database: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin_url).await.context("connecting to PostgreSQL")?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(database)
        .fetch_one(&mut conn)
        .await?;
    if !exists {
        // Quoted identifier: the name comes from configuration, not from clients.
        let quoted = database.replace('"', "\"\"");
        if let Err(e) =
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{quoted}\""))).execute(&mut conn).await
        {
            let duplicate =
                e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c == "42P04" || c == "23505");
            if !duplicate {
                return Err(e).context("creating the database");
            }
        }
    }
    Ok(())
}

/// The PostgreSQL server binaries: `$PARLEY_PG_BIN_DIR`, the newest Debian cluster version
/// under `/usr/lib/postgresql`, then `PATH`.
pub fn find_pg_bin_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("PARLEY_PG_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            process::is_executable(&bin.join("postgres")).then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    if let Some(postgres) = process::find_executable("postgres", &[]) {
        let dir = postgres.parent().map(Path::to_path_buf).unwrap_or_default();
        if process::is_executable(&dir.join("initdb")) {
            return Ok(dir);
        }
    }
    bail!(
        "no PostgreSQL server binaries found: run scripts/run (it installs Debian's postgresql), or set DATABASE_URL"
    )
}
