//! The applicant-tracking system's events become conversation facts. A durable consumer of
//! `ATS_EVENTS` (one event in flight across all instances, so an application's events apply
//! in the order the ATS published them) turns each into `RecordApplicationStatus`: the first
//! event of an application opens its conversation (id derived from the application id), every
//! event posts a system message. Replays of an `event_id` change nothing (the message id is
//! derived from it). What cannot be processed goes to `ATS_DEAD_LETTERS` with the reason and
//! never blocks the events after it; outages are retried.

pub mod event;

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::{AckPolicy, pull};
use futures::StreamExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::commands::{CommandError, Commands};
use crate::domain::{Actor, ConversationCommand, ConversationId, Role, UserId};
use crate::event_log::{AppendError, EventLog, subjects};

/// The durable consumer's name (NATS permissions refer to it).
pub const CONSUMER: &str = "ats_applications";

/// The principal ATS events act as.
pub fn actor() -> Actor {
    Actor { user_id: UserId::parse("ats").expect("`ats` is a valid user id"), role: Role::Service }
}

/// The idempotency key of an ATS event's append.
pub fn dedup_id(event_id: &str) -> String {
    format!("ats:{event_id}")
}

enum Handled {
    Done,
    DeadLetter(String),
    Retry(String),
}

pub fn spawn(log: EventLog, commands: Commands, stop: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(200);
        while !stop.is_cancelled() {
            match consume(&log, &commands, &stop).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), "ATS consumer restarting");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = stop.cancelled() => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    })
}

async fn consume(log: &EventLog, commands: &Commands, stop: &CancellationToken) -> anyhow::Result<()> {
    let stream = log.jetstream().get_stream(subjects::ATS_STREAM).await?;
    let consumer = stream
        .get_or_create_consumer(
            CONSUMER,
            pull::Config {
                durable_name: Some(CONSUMER.into()),
                description: Some("Parley: ATS application events to system messages".into()),
                filter_subject: "ats.applications.>".into(),
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_secs(30),
                max_ack_pending: 1,
                ..Default::default()
            },
        )
        .await?;
    let mut messages = consumer.stream().heartbeat(Duration::from_secs(5)).messages().await?;
    loop {
        let message = tokio::select! {
            message = messages.next() => message,
            () = stop.cancelled() => return Ok(()),
        };
        let message = message.ok_or_else(|| anyhow::anyhow!("the ATS consumer's stream ended"))??;
        let seq = message.info().map(|i| i.stream_sequence).map_err(|e| anyhow::anyhow!("{e}"))?;
        match handle(commands, &message.subject, &message.payload).await {
            Handled::Done => {
                metrics::counter!("parley_ats_events_total", "outcome" => "applied").increment(1);
                message.ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            Handled::DeadLetter(reason) => {
                dead_letter(log, seq, &message.subject, message.headers.as_ref(), &message.payload, &reason)
                    .await?;
                message.ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            Handled::Retry(reason) => {
                tracing::warn!(seq, %reason, "ATS event will be retried");
                message
                    .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
        }
    }
}

async fn handle(commands: &Commands, subject: &str, payload: &[u8]) -> Handled {
    let Some((application, change)) = event::parse_subject(subject) else {
        return Handled::DeadLetter(format!(
            "subject {subject} is not ats.applications.<application_id>.<type>"
        ));
    };
    let update = match event::parse(payload, change, Some(application)) {
        Ok(update) => update,
        Err(malformed) => return Handled::DeadLetter(malformed.0),
    };
    let conversation = ConversationId::for_application(&update.application_id);
    let dedup = dedup_id(update.ats_event_id.as_str());
    let command = ConversationCommand::RecordApplicationStatus(update);
    match commands.execute(&actor(), conversation, &command, Some(dedup)).await {
        Ok(_) => Handled::Done,
        Err(CommandError::Rejected(rejection)) => Handled::DeadLetter(format!("refused: {rejection}")),
        Err(CommandError::Append(AppendError::Rejected(reason))) => Handled::DeadLetter(reason),
        Err(other) => Handled::Retry(other.to_string()),
    }
}

async fn dead_letter(
    log: &EventLog,
    seq: u64,
    subject: &str,
    original: Option<&HeaderMap>,
    payload: &bytes::Bytes,
    reason: &str,
) -> anyhow::Result<()> {
    tracing::error!(seq, %subject, %reason, "ATS event dead-lettered");
    metrics::counter!("parley_ats_events_total", "outcome" => "dead_letter").increment(1);
    let mut headers = original.cloned().unwrap_or_default();
    headers.insert("Nats-Msg-Id", format!("ats-dead-letter:{seq}").as_str());
    headers.insert("Parley-Reason", reason.replace(['\r', '\n'], " ").as_str());
    headers.insert("Parley-Original-Subject", subject);
    headers.insert("Parley-Original-Seq", seq.to_string().as_str());
    log.jetstream()
        .publish_with_headers(subjects::ats_dead_letter(seq), headers, payload.clone())
        .await?
        .await?;
    Ok(())
}
