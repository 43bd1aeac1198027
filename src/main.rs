//! The `parley` binary: parses the command line and runs a subcommand. Errors end the
//! process with one line on stderr, never a panic or backtrace.

use std::process::ExitCode;

use clap::Parser;
use parley::config::{Cli, Command};

mod cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    parley::telemetry::init(cli.log_format);
    let result = match cli.command {
        Command::Serve(config) => cli::serve(*config).await,
        Command::Projections(args) => cli::projections::run(args).await,
        Command::Events(args) => cli::events::run(args).await,
        Command::Token(args) => cli::token(*args),
        Command::DevPostgres(args) => cli::dev_postgres(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
