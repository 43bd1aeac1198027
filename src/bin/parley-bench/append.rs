//! Append: events per second through `EventLog::append` (dedup id, one request per event,
//! many concurrent appenders), beside the raw limit: pipelined asynchronous JetStream
//! publishes of the same subjects, bytes and headers.

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Instant;

use async_nats::jetstream::context::PublishAckFuture;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use parley::domain::{
    Actor, ConversationEvent, ConversationId, Envelope, Event, EventId, MessageId, MessageKind, Role, UserId,
};
use parley::event_log::{EventLog, Expectation, subjects, wire};

use super::report::Sample;
use super::stats::rate;

/// Concurrent appenders (the server's request handlers, in effect).
const APPENDERS: usize = 128;
/// Raw publishes in flight at once.
const WINDOW: usize = 4_096;

/// `n` message events spread over `conversations` conversations.
pub fn messages(n: usize, conversations: usize) -> Vec<Envelope> {
    let ids: Vec<ConversationId> = (0..conversations).map(|_| ConversationId::new()).collect();
    let sender = UserId::parse("bench-sender").expect("a valid user id");
    let actor = Actor { user_id: sender.clone(), role: Role::Recruiter };
    (0..n)
        .map(|i| Envelope {
            event_id: EventId::new(),
            occurred_at: chrono::Utc::now(),
            actor: actor.clone(),
            event: Event::Conversation(
                ids[i % conversations],
                ConversationEvent::MessageSent {
                    message_id: MessageId::new(),
                    sender_id: sender.clone(),
                    sender_role: Role::Recruiter,
                    kind: MessageKind::Text,
                    content: format!("Benchmark message number {i}: thanks for applying, when can we talk?"),
                    reply_to: None,
                    attachments: vec![],
                    client_msg_id: Some(
                        parley::domain::ClientMsgId::parse(&format!("c-{i}")).expect("valid"),
                    ),
                },
            ),
        })
        .collect()
}

/// Publishes already encoded events as fast as JetStream acknowledges them.
pub async fn publish_raw(log: &EventLog, events: &[Envelope]) -> anyhow::Result<()> {
    let js = log.jetstream();
    let mut in_flight = FuturesUnordered::new();
    for envelope in events {
        let encoded = wire::encode(envelope);
        let mut headers = encoded.headers;
        headers.insert("Nats-Msg-Id", envelope.event_id.to_string().as_str());
        let ack: PublishAckFuture =
            js.publish_with_headers(encoded.subject, headers, encoded.payload).await?;
        in_flight.push(ack.into_future());
        if in_flight.len() >= WINDOW
            && let Some(ack) = in_flight.next().await
        {
            ack?;
        }
    }
    while let Some(ack) = in_flight.next().await {
        ack?;
    }
    Ok(())
}

pub async fn run(log: &EventLog, n: usize) -> anyhow::Result<Sample> {
    let raw_events = messages(n, 1_000);
    let started = Instant::now();
    publish_raw(log, &raw_events).await?;
    let raw_rate = rate(n as u64, started.elapsed());

    let events = Arc::new(messages(n, 1_000));
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..APPENDERS {
        let (log, events) = (log.clone(), events.clone());
        workers.push(tokio::spawn(async move {
            for envelope in events.iter().skip(worker).step_by(APPENDERS) {
                let Event::Conversation(id, _) = &envelope.event else { unreachable!("messages only") };
                let scope = subjects::conversation_filter(id);
                let dedup = envelope.event_id.to_string();
                log.append(&scope, std::slice::from_ref(envelope), Expectation::Any, &dedup).await?;
            }
            anyhow::Ok(())
        }));
    }
    for worker in workers {
        worker.await??;
    }
    let parley_rate = rate(n as u64, started.elapsed());
    Ok(Sample::from([("rate", parley_rate), ("raw_rate", raw_rate)]))
}
