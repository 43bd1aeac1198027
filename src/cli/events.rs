//! `parley events erase-conversation`: removes a conversation's events from the log and
//! rebuilds the read models from what remains. For legal erasure requests; every
//! `parley serve` must be stopped while it runs.

use std::time::Duration;

use anyhow::Context;
use parley::config::{EventsAction, EventsArgs};
use parley::domain::ConversationId;
use parley::event_log::{EventLog, erase, subjects};
use parley::projections::{leadership, rebuild, schema};
use parley::startup::{connect_nats, connect_postgres};

pub async fn run(args: EventsArgs) -> anyhow::Result<()> {
    let (nats_url, database_url) = args.connect.resolve()?;
    let timeout = Duration::from_secs(10);
    let log = EventLog::new(connect_nats(&nats_url, args.connect.credentials(), timeout).await?);
    match args.action {
        EventsAction::EraseConversation { conversation_id, yes } => {
            let id = ConversationId::parse(&conversation_id).map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut events = log.read(&[subjects::conversation_filter(&id)], 1, None).await?;
            let mut count = 0;
            while let Some(event) = events.next().await {
                event?;
                count += 1;
            }
            if !yes {
                println!(
                    "conversation {id} has {count} events in {}; run again with --yes, with every \
                     `parley serve` stopped, to erase them and rebuild the read models",
                    subjects::EVENTS_STREAM
                );
                return Ok(());
            }
            let db = connect_postgres(&database_url, timeout).await?;
            schema::migrate(&db).await.context("applying the read-model migrations")?;
            let running = leadership::running_instances(&mut *db.acquire().await?).await?;
            anyhow::ensure!(
                running == 0,
                "{running} `parley serve` instance(s) use this database: stop every one before erasing \
                 (an instance would append to the log, and re-create its copy, while they are rebuilt)"
            );
            let erasure = erase::erase_conversation(log.jetstream(), &id, args.stream_replicas).await?;
            println!(
                "erased {} events and {} attachments of conversation {id}; {} events kept at their sequences (last {})",
                erasure.erased_events,
                erasure.erased_attachments.len(),
                erasure.kept_events,
                erasure.last_seq
            );
            let report = rebuild::rebuild(&log, &database_url, true, |_, _| {}).await?;
            println!("read models rebuilt up to sequence {} and swapped in", report.last_seq);
        }
    }
    Ok(())
}
