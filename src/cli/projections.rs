//! `parley projections status|rebuild`.

use std::time::Duration;

use anyhow::Context;
use parley::config::{ProjectionsAction, ProjectionsArgs};
use parley::event_log::{EventLog, subjects};
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
                    let copied = match status.copied_up_to {
                        Some(seq) => format!("copied by partition up to {seq}"),
                        None => format!("{} missing: restart an instance", subjects::PARTITIONS_STREAM),
                    };
                    println!(
                        "{} partition {}: checkpoint {}, stream tip {}, lag {} events, {} dead letters, {copied}",
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
        ProjectionsAction::Verify => {
            let mut problems = projections::verify::compare_with_rebuild(&log, &db, &database_url).await?;
            for (conversation, user, stored, recount) in projections::verify::unread_mismatches(&db).await? {
                problems.push(format!(
                    "unread of {user} in {conversation}: stored {stored}, recounted {recount}"
                ));
            }
            if !problems.is_empty() {
                for problem in &problems {
                    eprintln!("{problem}");
                }
                anyhow::bail!("{} difference(s) between the read models and the log", problems.len());
            }
            println!("the read models equal a rebuild from the log, and every unread count its recount");
        }
        ProjectionsAction::Rebuild { no_swap, partitions } => {
            let total = log.last_seq().await?;
            let mut progress = Progress::new("rebuilding", total);
            let report = rebuild::rebuild_with(&log, &database_url, !no_swap, partitions, |done, total| {
                progress.update(done, total)
            })
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
