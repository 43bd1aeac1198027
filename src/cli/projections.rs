//! `parley projections status|rebuild`.

use std::time::Duration;

use anyhow::Context;
use parley::config::{ProjectionsAction, ProjectionsArgs};
use parley::event_log::EventLog;
use parley::projections::{self, rebuild, schema};
use parley::startup::{connect_nats, connect_postgres};

use super::progress::Progress;

pub async fn run(args: ProjectionsArgs) -> anyhow::Result<()> {
    let (nats_url, database_url) = args.connect.resolve()?;
    let timeout = Duration::from_secs(10);
    let log = EventLog::new(connect_nats(&nats_url, args.connect.credentials(), timeout).await?);
    let db = connect_postgres(&database_url, timeout).await?;
    schema::migrate(&db).await.context("applying the read-model migrations")?;
    match args.action {
        ProjectionsAction::Status { json } => {
            for status in projections::status(&log, &db).await? {
                if json {
                    println!("{}", serde_json::to_string(&status)?);
                } else {
                    println!(
                        "{} partition {}: checkpoint {}, stream tip {}, lag {} events, {} dead letters",
                        status.projection,
                        status.partition,
                        status.checkpoint,
                        status.stream_tip,
                        status.lag,
                        status.dead_letters
                    );
                }
            }
        }
        ProjectionsAction::Rebuild { no_swap } => {
            let total = log.last_seq().await?;
            let mut progress = Progress::new("rebuilding", total);
            let report =
                rebuild::rebuild(&log, &database_url, !no_swap, |done, total| progress.update(done, total))
                    .await?;
            progress.finish();
            let rate = report.events as f64 / report.elapsed.as_secs_f64().max(0.001);
            println!(
                "rebuilt {} events up to sequence {} in {:.1} s ({rate:.0} events/s), {} dead letters; {}",
                report.events,
                report.last_seq,
                report.elapsed.as_secs_f64(),
                report.dead_letters,
                if no_swap { "left in schema parley_rebuild" } else { "swapped in" }
            );
        }
    }
    Ok(())
}
