//! The `parley` binary: parses the command line and runs a subcommand. Errors end the
//! process with one line on stderr, never a panic or backtrace.

use std::process::ExitCode;

use clap::Parser;
use parley::config::{Cli, Command};

mod cli;

// Allocation was a third of the server's CPU under load with the system allocator, and idle
// sessions left memory in glibc's per-thread arenas (docs/profiling.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    parley::telemetry::init(cli.log_format);
    // Replay is one sequential pipeline (read, decode, write): on one thread the messages the
    // NATS connection parses are decoded and freed where they were allocated, without
    // cross-thread wake-ups, which measured faster than the multi-threaded runtime. The
    // server serves many clients and wants every core.
    let runtime = match &cli.command {
        Command::Replay(_) => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    }
    .enable_all()
    .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(config) => cli::serve(*config).await,
            Command::Projections(args) => cli::projections::run(args).await,
            Command::Events(args) => cli::events::run(args).await,
            Command::Token(args) => cli::token(*args),
            Command::Replay(args) => cli::replay(*args).await,
            Command::DevPostgres(args) => cli::dev_postgres(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
