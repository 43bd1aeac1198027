//! The embedded default: when no `NATS_URL` / `DATABASE_URL` is configured, `parley serve`
//! runs its own `nats-server` and PostgreSQL as child processes under the data directory,
//! keeps their data between runs, restarts them if they die, and stops them when it exits.
//! The test harness uses the same servers.

pub mod nats;
pub mod postgres;
pub mod process;

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

pub use nats::{NatsOptions, NatsServer, find_nats_server};
pub use postgres::{PgCluster, PgOptions, ensure_database, find_pg_bin_dir};

/// Database the embedded cluster serves Parley from.
pub const DATABASE: &str = "parley";

/// Embedded servers started for `parley serve`, supervised until `shutdown`.
pub struct Embedded {
    pub nats_url: Option<String>,
    pub database_url: Option<String>,
    stop: CancellationToken,
    supervisors: Vec<tokio::task::JoinHandle<()>>,
    address_file: std::path::PathBuf,
}

/// Where the running embedded servers can be reached, for other `parley` commands run from
/// the same directory (`parley projections status`, `parley replay`, ...).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Addresses {
    pub nats_url: Option<String>,
    pub database_url: Option<String>,
}

const ADDRESS_FILE: &str = "embedded.json";

impl Addresses {
    /// The addresses a running `parley serve` wrote under `data_dir`, if any.
    pub fn read(data_dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(data_dir.join(ADDRESS_FILE)).ok()?;
        serde_json::from_str(&text).ok()
    }
}

impl Embedded {
    /// Starts whichever of the two servers is not configured.
    pub async fn start(data_dir: &Path, need_nats: bool, need_postgres: bool) -> anyhow::Result<Self> {
        let stop = CancellationToken::new();
        let mut embedded = Self {
            nats_url: None,
            database_url: None,
            stop: stop.clone(),
            supervisors: Vec::new(),
            address_file: data_dir.join(ADDRESS_FILE),
        };
        std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
        if need_nats {
            let binary = find_nats_server(data_dir)?;
            let server = NatsServer::start(NatsOptions {
                binary,
                store_dir: data_dir.join("nats"),
                port: None,
                config_file: None,
                log_file: Some(data_dir.join("nats.log")),
                env: Vec::new(),
                args: Vec::new(),
            })
            .await
            .context("starting the embedded nats-server")?;
            tracing::info!(url = %server.url(), store = %data_dir.join("nats").display(), "embedded nats-server started");
            embedded.nats_url = Some(server.url());
            embedded.supervisors.push(tokio::spawn(supervise(server, stop.clone())));
        }
        if need_postgres {
            let cluster = PgCluster::start(PgOptions {
                data_dir: data_dir.join("pg"),
                port: None,
                fast_unsafe: false,
                log_file: Some(data_dir.join("postgres.log")),
            })
            .await
            .context("starting the embedded PostgreSQL")?;
            cluster.ensure_database(DATABASE).await?;
            tracing::info!(port = cluster.port(), data = %data_dir.join("pg").display(), "embedded PostgreSQL started");
            embedded.database_url = Some(cluster.url(DATABASE));
            embedded.supervisors.push(tokio::spawn(supervise(cluster, stop.clone())));
        }
        let addresses =
            Addresses { nats_url: embedded.nats_url.clone(), database_url: embedded.database_url.clone() };
        std::fs::write(&embedded.address_file, serde_json::to_vec_pretty(&addresses)?)
            .with_context(|| format!("writing {}", embedded.address_file.display()))?;
        Ok(embedded)
    }

    /// Stops the servers cleanly (NATS flushes, PostgreSQL checkpoints).
    pub async fn shutdown(self) {
        let _ = std::fs::remove_file(&self.address_file);
        self.stop.cancel();
        for supervisor in self.supervisors {
            let _ = supervisor.await;
        }
    }
}

/// A child server the supervisor can watch, restart and stop.
trait Supervised {
    const NAME: &'static str;
    async fn wait_exit(&mut self) -> Option<std::process::ExitStatus>;
    async fn restart(&mut self) -> anyhow::Result<()>;
    async fn stop(&mut self);
}

impl Supervised for NatsServer {
    const NAME: &'static str = "nats-server";
    async fn wait_exit(&mut self) -> Option<std::process::ExitStatus> {
        NatsServer::wait_exit(self).await
    }
    async fn restart(&mut self) -> anyhow::Result<()> {
        NatsServer::restart(self).await
    }
    async fn stop(&mut self) {
        NatsServer::stop(self).await
    }
}

impl Supervised for PgCluster {
    const NAME: &'static str = "PostgreSQL";
    async fn wait_exit(&mut self) -> Option<std::process::ExitStatus> {
        PgCluster::wait_exit(self).await
    }
    async fn restart(&mut self) -> anyhow::Result<()> {
        PgCluster::restart(self).await
    }
    async fn stop(&mut self) {
        PgCluster::stop(self).await
    }
}

/// Restarts the server whenever it dies, on the same port and store, until told to stop.
async fn supervise<S: Supervised>(mut server: S, stop: CancellationToken) {
    loop {
        tokio::select! {
            status = server.wait_exit() => {
                tracing::error!(?status, "embedded {} exited; restarting it", S::NAME);
                let mut delay = Duration::from_millis(500);
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = stop.cancelled() => return,
                    }
                    match server.restart().await {
                        Ok(()) => {
                            tracing::info!("embedded {} is back", S::NAME);
                            break;
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "restarting the embedded {} failed; retrying", S::NAME);
                            delay = (delay * 2).min(Duration::from_secs(10));
                        }
                    }
                }
            }
            () = stop.cancelled() => {
                server.stop().await;
                return;
            }
        }
    }
}
