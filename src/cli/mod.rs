//! Subcommands of the `parley` binary.

pub mod events;
pub mod progress;
pub mod projections;
mod token;

pub use token::token;

use parley::config::{Config, DevPostgresArgs};
use parley::embedded::{PgCluster, PgOptions};
use parley::startup::Application;

mod replay;
pub use replay::replay;

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    app.run_until(shutdown_signal()).await
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

pub async fn dev_postgres(args: DevPostgresArgs) -> anyhow::Result<()> {
    let mut cluster = PgCluster::start(PgOptions {
        data_dir: args.dir.clone(),
        port: None,
        fast_unsafe: args.fast_unsafe,
        log_file: Some(args.dir.with_extension("log")),
    })
    .await?;
    println!("{}", cluster.url("postgres"));
    shutdown_signal().await;
    cluster.stop().await;
    Ok(())
}
