//! The faults, each injected `cycles` times into sustained traffic: kill -9 of nats-server,
//! of PostgreSQL and of `parley serve`; SIGSTOP pauses of nats-server and PostgreSQL longer
//! than the clients' timeouts; a network cut between Parley and NATS.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::env::{Env, Server};
use crate::proxy::Proxy;
use crate::verify::{Outcome, verify};
use crate::workload::Workload;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    KillNats,
    KillPostgres,
    KillServe,
    PauseNats,
    PausePostgres,
    CutNetwork,
}

impl Fault {
    pub const ALL: [Fault; 6] = [
        Fault::KillNats,
        Fault::KillPostgres,
        Fault::KillServe,
        Fault::PauseNats,
        Fault::PausePostgres,
        Fault::CutNetwork,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::KillNats => "kill -9 nats-server",
            Fault::KillPostgres => "kill -9 PostgreSQL",
            Fault::KillServe => "kill -9 parley serve",
            Fault::PauseNats => "SIGSTOP nats-server 7 s",
            Fault::PausePostgres => "SIGSTOP PostgreSQL 7 s",
            Fault::CutNetwork => "network cut Parley-NATS 5 s",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Fault::KillNats => "kill-nats",
            Fault::KillPostgres => "kill-postgres",
            Fault::KillServe => "kill-serve",
            Fault::PauseNats => "pause-nats",
            Fault::PausePostgres => "pause-postgres",
            Fault::CutNetwork => "cut-network",
        }
    }
}

/// Longer than the server's publish timeout (5 s) and the clients' request timeout.
const PAUSE: Duration = Duration::from_secs(7);
const CUT: Duration = Duration::from_secs(5);
const RECOVERY_LIMIT: Duration = Duration::from_secs(60);

/// Runs `cycles` injections of `fault` into traffic and checks nothing was lost or doubled.
pub async fn run(
    repo: &Path,
    binary: &Path,
    fault: Fault,
    cycles: usize,
    clients: usize,
    partitions: u32,
) -> anyhow::Result<Outcome> {
    let mut env = Env::start(repo).await?;
    // Parley reaches NATS through a proxy that can be severed.
    let proxy = Proxy::start(format!("127.0.0.1:{}", env.nats.port())).await?;
    let nats_url = format!("nats://127.0.0.1:{}", proxy.port);
    let partitions = partitions.to_string();
    let timeouts = [
        ("PARLEY_PUBLISH_TIMEOUT", "2s"),
        ("PARLEY_WRITE_WAIT", "1s"),
        ("PARLEY_PROJECTOR_PARTITIONS", partitions.as_str()),
    ];
    let mut server = env.serve_with_nats(binary, &nats_url, &timeouts).await?;
    let workload = Workload::start(&server.base, clients).await?;
    let mut recoveries = Vec::with_capacity(cycles);
    for _ in 0..cycles {
        tokio::time::sleep(Duration::from_millis(800)).await;
        match fault {
            Fault::KillNats => {
                env.nats.kill().await;
                tokio::time::sleep(Duration::from_secs(1)).await;
                env.nats.restart().await?;
            }
            Fault::KillPostgres => {
                env.pg.kill().await;
                tokio::time::sleep(Duration::from_secs(1)).await;
                env.pg.restart().await?;
            }
            Fault::KillServe => {
                server.kill().await;
                tokio::time::sleep(Duration::from_millis(500)).await;
                server = env.serve_with_nats_on(binary, &nats_url, &timeouts, server.port).await?;
            }
            Fault::PauseNats => {
                env.nats.pause();
                tokio::time::sleep(PAUSE).await;
                env.nats.resume();
            }
            Fault::PausePostgres => {
                env.pg.pause();
                tokio::time::sleep(PAUSE).await;
                env.pg.resume();
            }
            Fault::CutNetwork => {
                proxy.sever();
                tokio::time::sleep(CUT).await;
                proxy.restore();
            }
        }
        let started = Instant::now();
        let to_first_send = workload.recovered(RECOVERY_LIMIT).await?;
        recoveries.push(to_first_send.max(started.elapsed()));
    }
    let tally = workload.finish().await?;
    let outcome = verify(&env, tally, recoveries).await;
    drop(server);
    outcome
}

impl Server {
    /// SIGKILL: no drain, no goodbye.
    pub async fn kill(&mut self) {
        let _ = self.process.kill().await;
    }
}

impl Env {
    pub async fn serve_with_nats(
        &self,
        binary: &Path,
        nats_url: &str,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<Server> {
        let port = parley::embedded::process::free_port()?;
        self.serve_with_nats_on(binary, nats_url, extra, port).await
    }

    /// `parley serve` on `port`, reaching NATS at `nats_url`.
    pub async fn serve_with_nats_on(
        &self,
        binary: &Path,
        nats_url: &str,
        extra: &[(&str, &str)],
        port: u16,
    ) -> anyhow::Result<Server> {
        let mut settings: Vec<(&str, &str)> = extra.to_vec();
        settings.push(("NATS_URL", nats_url));
        self.serve_on(binary, port, &settings).await
    }
}
