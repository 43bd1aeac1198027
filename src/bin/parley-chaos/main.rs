//! `parley-chaos`: breaks things on purpose under sustained traffic and checks Parley's
//! promises afterwards: no acknowledged message lost, none doubled, read models equal to a
//! rebuild, unread counts equal to a recount. Prints one row per fault: sent, acknowledged,
//! found, lost, duplicated, recovery time.
//!
//! `scripts/test` runs it in a short mode (a few cycles of each fault); `scripts/chaos --long`
//! runs 50 cycles of each.

#[allow(dead_code, reason = "shared by parley-bench and parley-chaos; each uses part of it")]
#[path = "../parley-bench/env.rs"]
mod env;
mod faults;
mod proxy;
mod verify;
mod workload;

use std::fmt::Write;
use std::path::PathBuf;

use clap::Parser;

use faults::Fault;

#[derive(Parser, Debug)]
#[command(name = "parley-chaos", about = "Fault injection against real servers")]
struct Args {
    /// Injections of each fault.
    #[arg(long, default_value_t = 2)]
    cycles: usize,
    /// Concurrent clients sending during the faults.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Projector partitions of the `parley serve` under test (PARLEY_PROJECTOR_PARTITIONS).
    #[arg(long, default_value_t = 1)]
    partitions: u32,
    /// Only these faults (comma-separated keys: kill-nats, kill-postgres, kill-serve,
    /// pause-nats, pause-postgres, cut-network).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Also write the table, with the machine and command line, to this markdown file.
    #[arg(long)]
    output: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    parley::telemetry::init(parley::config::LogFormat::Text);
    env::raise_file_limit();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let binary = env::parley_binary()?;
    let mut table = String::from(
        "| fault | cycles | sent | acknowledged | found | lost | duplicated | recovery (mean / max) | read models = rebuild |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    let mut failed = Vec::new();
    for fault in Fault::ALL {
        if !args.only.is_empty() && !args.only.iter().any(|k| k == fault.key()) {
            continue;
        }
        eprintln!("{}: {} cycle(s), {} projector partition(s)", fault.name(), args.cycles, args.partitions);
        let outcome = faults::run(&repo, &binary, fault, args.cycles, args.clients, args.partitions).await?;
        let mean = outcome.recoveries.iter().map(|d| d.as_secs_f64()).sum::<f64>()
            / outcome.recoveries.len().max(1) as f64;
        let max = outcome.recoveries.iter().map(|d| d.as_secs_f64()).fold(0.0, f64::max);
        let _ = writeln!(
            table,
            "| {} | {} | {} | {} | {} | {} | {} | {mean:.2} s / {max:.2} s | {} |",
            fault.name(),
            args.cycles,
            outcome.sent,
            outcome.acked,
            outcome.found,
            outcome.lost,
            outcome.duplicated,
            if outcome.differences.is_empty() { "yes" } else { "**no**" }
        );
        if !outcome.passed() {
            failed.push(format!(
                "{}: lost {}, duplicated {}, {:?}",
                fault.name(),
                outcome.lost,
                outcome.duplicated,
                outcome.differences
            ));
        }
    }
    println!("{table}");
    if let Some(path) = args.output {
        let text = format!(
            "# Reliability\n\nLatest run of `scripts/chaos`. Every acknowledged message must be found exactly once, and the read \
             models must equal a rebuild from the log (with every unread count equal to a recount).\n\n{}\n{table}",
            machine()
        );
        std::fs::write(&path, text)?;
        eprintln!("wrote {}", path.display());
    }
    anyhow::ensure!(failed.is_empty(), "promises broken:\n{}", failed.join("\n"));
    Ok(())
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    format!("- machine: {cores} cores\n- command: `{}`\n", std::env::args().collect::<Vec<_>>().join(" "))
}
