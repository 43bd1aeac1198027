//! `parley-bench`: measures Parley against the limits of the machine it runs on. Each
//! scenario runs against real servers started for it (nats-server, PostgreSQL and, where
//! the scenario needs it, `parley serve`), bounded in time and count, on loopback only, at
//! least three times; the table shows medians, their noise, the target, and the raw limit of
//! the same machine measured in the same run. Targets are reported, never tuned for: a miss
//! says "no".
//!
//! `--smoke` runs every scenario at a tiny size (seconds), so the harness cannot rot.

mod append;
mod ats;
mod biglog;
#[allow(dead_code, reason = "shared by parley-bench and parley-chaos; each uses part of it")]
mod env;
mod flood;
mod lag;
mod partitions;
mod report;
mod rest;
mod scenarios;
mod stats;
mod table;
mod ws;

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use report::{Figures, Row, Sample};

// The allocator `parley` runs with: the append scenario measures the event log as the server
// runs it, and the load generators, sharing the cores with the server, cost less.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(name = "parley-bench", about = "Measures Parley against the limits of this machine")]
struct Args {
    /// Tiny sizes, one run: checks the harness works (part of scripts/test).
    #[arg(long)]
    smoke: bool,
    /// Runs per scenario (the table shows medians).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Only these scenarios (comma-separated): append, lag, rest, ws, delivery, idle, ats,
    /// flood, projector, history, replay, partitions.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Also write the table, with the machine and command line, to this markdown file.
    #[arg(long)]
    output: Option<PathBuf>,
}

/// How big each scenario is.
pub struct Sizes {
    pub append_events: usize,
    pub rest_clients: usize,
    pub rest_duration: Duration,
    pub log_conversations: usize,
    pub log_messages: usize,
    pub projector_messages: usize,
    pub history_requests: usize,
    pub ws_clients: usize,
    pub ws_duration: Duration,
    pub delivery_users: usize,
    pub delivery_rate: u32,
    pub delivery_duration: Duration,
    pub idle_sessions: usize,
    pub lag_rate: u32,
    pub lag_duration: Duration,
    pub ats_applications: usize,
    pub ats_rate: u32,
    pub ats_events: usize,
    pub partition_events: usize,
    pub flood_clients: usize,
    pub flood_duration: Duration,
}

impl Sizes {
    fn full() -> Self {
        Self {
            append_events: 100_000,
            rest_clients: 64,
            rest_duration: Duration::from_secs(10),
            log_conversations: 1_000,
            log_messages: 1_000_000,
            projector_messages: 200_000,
            history_requests: 5_000,
            ws_clients: 64,
            ws_duration: Duration::from_secs(10),
            delivery_users: 1_000,
            delivery_rate: 1_000,
            delivery_duration: Duration::from_secs(10),
            idle_sessions: 10_000,
            lag_rate: 2_000,
            lag_duration: Duration::from_secs(10),
            ats_applications: 50,
            ats_rate: 50,
            ats_events: 500,
            partition_events: 60_000,
            flood_clients: 32,
            flood_duration: Duration::from_secs(10),
        }
    }

    fn smoke() -> Self {
        Self {
            append_events: 2_000,
            rest_clients: 8,
            rest_duration: Duration::from_secs(2),
            log_conversations: 20,
            log_messages: 5_000,
            projector_messages: 3_000,
            history_requests: 100,
            ws_clients: 4,
            ws_duration: Duration::from_secs(2),
            delivery_users: 20,
            delivery_rate: 50,
            delivery_duration: Duration::from_secs(2),
            idle_sessions: 50,
            lag_rate: 200,
            lag_duration: Duration::from_secs(2),
            ats_applications: 5,
            ats_rate: 20,
            ats_events: 20,
            partition_events: 3_000,
            flood_clients: 4,
            flood_duration: Duration::from_secs(2),
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    parley::telemetry::init(parley::config::LogFormat::Text);
    env::raise_file_limit();
    let sizes = if args.smoke { Sizes::smoke() } else { Sizes::full() };
    let runs = if args.smoke { 1 } else { args.runs.max(1) };
    let wanted = |name: &str| args.only.is_empty() || args.only.iter().any(|o| o == name);
    let started = std::time::Instant::now();
    let results = scenarios::run_all(&sizes, runs, &wanted).await?;
    let took = started.elapsed().as_secs();
    let rows: Vec<Row> = table::describe(&results);
    let table = report::render(&rows);
    println!("{table}");
    if let Some(path) = args.output {
        let text = format!(
            "# Benchmarks\n\nLatest run of `scripts/bench` ({} run(s) per scenario; figures are medians; the \
             scenarios took {} min {} s).\n\n{}\n{}\n{}",
            runs,
            took / 60,
            took % 60,
            report::machine(),
            table,
            scenarios::NOTES
        );
        std::fs::write(&path, text)?;
        eprintln!("wrote {}", path.display());
    }
    if args.smoke && rows.iter().any(|r| r.figure.contains("NaN")) {
        anyhow::bail!("a scenario produced no figure");
    }
    Ok(())
}

/// The figures of every scenario that ran, by scenario name.
pub type Results = std::collections::BTreeMap<&'static str, Figures>;

/// Runs a scenario `runs` times.
pub async fn repeat<F, Fut>(runs: usize, mut scenario: F) -> anyhow::Result<Figures>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Sample>>,
{
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        samples.push(scenario().await?);
    }
    Ok(Figures::from_runs(&samples))
}
