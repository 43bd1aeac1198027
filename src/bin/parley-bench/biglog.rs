//! Scenarios over a large log of conversations and their messages: rebuilt by the projector
//! (beside a raw batched insert of the same rows), replayed, and read back a page at a time
//! through the API.

use std::time::Instant;

use parley::domain::{
    Actor, ConversationEvent, ConversationId, ConversationKind, Envelope, Event, EventId, MessageId,
    MessageKind, ParticipantSpec, Role, UserId,
};
use parley::projections::{rebuild, schema};
use rand::Rng;
use sqlx::{Connection, Executor, PgConnection};

use super::append::publish_raw;
use super::env::{Env, Server, token};
use super::report::{Figures, Sample};
use super::stats::{Latencies, rate};

pub struct BigLog {
    pub conversations: Vec<ConversationId>,
    pub events: u64,
}

/// The creation of a conversation between a recruiter and an applicant of the benchmark.
pub fn creation(id: ConversationId) -> Envelope {
    let recruiter = UserId::parse("bench-sender").expect("valid");
    let applicant = UserId::parse("bench-applicant").expect("valid");
    Envelope {
        event_id: EventId::new(),
        occurred_at: chrono::Utc::now(),
        actor: Actor { user_id: recruiter.clone(), role: Role::Recruiter },
        event: Event::Conversation(
            id,
            ConversationEvent::Created {
                title: Some("Benchmark".into()),
                kind: ConversationKind::Group,
                participants: vec![
                    ParticipantSpec { user_id: recruiter.clone(), role: Role::Recruiter },
                    ParticipantSpec { user_id: applicant, role: Role::Applicant },
                ],
                application_id: None,
                job_id: None,
                created_by: recruiter,
            },
        ),
    }
}

fn participant(i: usize) -> (UserId, UserId) {
    (
        UserId::parse(&format!("rec-{}", i % 50)).expect("valid"),
        UserId::parse(&format!("app-{i}")).expect("valid"),
    )
}

/// Appends `conversations` conversations holding `messages` messages between them, with a
/// read receipt every tenth message, as fast as JetStream takes them.
pub async fn seed(env: &Env, conversations: usize, messages: usize) -> anyhow::Result<BigLog> {
    let ids: Vec<ConversationId> = (0..conversations).map(|_| ConversationId::new()).collect();
    let now = chrono::Utc::now();
    let envelope = |actor: &UserId, role, event| Envelope {
        event_id: EventId::new(),
        occurred_at: now,
        actor: Actor { user_id: actor.clone(), role },
        event,
    };
    let mut events = Vec::with_capacity(conversations);
    for (i, id) in ids.iter().enumerate() {
        let (recruiter, applicant) = participant(i);
        events.push(envelope(
            &recruiter,
            Role::Recruiter,
            Event::Conversation(
                *id,
                ConversationEvent::Created {
                    title: Some(format!("Application {i}")),
                    kind: ConversationKind::Group,
                    participants: vec![
                        ParticipantSpec { user_id: recruiter.clone(), role: Role::Recruiter },
                        ParticipantSpec { user_id: applicant.clone(), role: Role::Applicant },
                    ],
                    application_id: None,
                    job_id: None,
                    created_by: recruiter.clone(),
                },
            ),
        ));
    }
    publish_raw(&env.log, &events).await?;
    let mut published = events.len() as u64;
    let chunk = 50_000;
    for start in (0..messages).step_by(chunk) {
        let mut batch = Vec::with_capacity(chunk);
        for n in start..(start + chunk).min(messages) {
            let i = n % conversations;
            let (recruiter, applicant) = participant(i);
            let (sender, role) =
                if n % 2 == 0 { (&recruiter, Role::Recruiter) } else { (&applicant, Role::Applicant) };
            let event = if n % 10 == 9 {
                ConversationEvent::MessagesRead {
                    reader_id: applicant.clone(),
                    up_to_seq: published + batch.len() as u64,
                }
            } else {
                ConversationEvent::MessageSent {
                    message_id: MessageId::new(),
                    sender_id: sender.clone(),
                    sender_role: role,
                    kind: MessageKind::Text,
                    content: format!("Message {n}: the interview is confirmed for Tuesday, see you there."),
                    reply_to: None,
                    attachments: vec![],
                    client_msg_id: None,
                }
            };
            batch.push(envelope(sender, role, Event::Conversation(ids[i], event)));
        }
        publish_raw(&env.log, &batch).await?;
        published += batch.len() as u64;
    }
    Ok(BigLog { conversations: ids, events: published })
}

/// Rebuilds every read model from the log and swaps them in; beside it, the same message
/// rows inserted in batches straight into a copy of the messages table.
pub async fn projector(env: &Env, log: &BigLog) -> anyhow::Result<Sample> {
    let projector_rate = rebuild_rate(env, log).await?;
    let raw_rate = raw_insert(&env.database_url()).await?;
    Ok(Sample::from([("rate", projector_rate), ("raw_rate", raw_rate)]))
}

/// Builds the read models of the whole log with one rebuild, and says how fast it went.
pub async fn build_read_models(env: &Env, log: &BigLog) -> anyhow::Result<Figures> {
    let rate = rebuild_rate(env, log).await?;
    Ok(Figures::from_runs(&[Sample::from([("rebuild_rate", rate)])]))
}

async fn rebuild_rate(env: &Env, log: &BigLog) -> anyhow::Result<f64> {
    let url = env.database_url();
    let pool = schema::connect_pool(&url).await?;
    schema::migrate(&pool).await?;
    let report = rebuild::rebuild(&env.log, &url, true, |_, _| {}).await?;
    anyhow::ensure!(report.events == log.events, "rebuilt {} of {} events", report.events, log.events);
    Ok(rate(report.events, report.elapsed))
}

/// Copies the projected message rows into a fresh table with the same columns, indexes and
/// generated search column, 5,000 rows per statement, building the full-text index after the
/// rows are in (as a rebuild does), and returns rows per second.
async fn raw_insert(url: &str) -> anyhow::Result<f64> {
    let mut conn = PgConnection::connect_with(&schema::connect_options(url, schema::SCHEMA)?).await?;
    conn.execute("DROP SCHEMA IF EXISTS bench_raw CASCADE").await?;
    conn.execute("CREATE SCHEMA bench_raw").await?;
    conn.execute("CREATE TABLE bench_raw.messages (LIKE parley.messages INCLUDING ALL)").await?;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM parley.messages").fetch_one(&mut conn).await?;
    let started = Instant::now();
    let deferred = schema::drop_gin_indexes(&mut conn, "bench_raw").await?;
    let mut last_seq = 0i64;
    loop {
        // Each batch is read and written in one statement: the read is part of the price the
        // projector pays too (it decodes events), and is small next to the insert.
        let inserted = sqlx::query(
            "WITH batch AS (SELECT * FROM parley.messages WHERE seq > $1 ORDER BY seq LIMIT 5000)
             INSERT INTO bench_raw.messages (message_id, conversation_id, seq, sender_id, sender_type, kind,
                 content, reply_to, attachments, client_msg_id, created_at)
             SELECT message_id, conversation_id, seq, sender_id, sender_type, kind, content, reply_to, attachments,
                 client_msg_id, created_at FROM batch RETURNING seq",
        )
        .bind(last_seq)
        .fetch_all(&mut conn)
        .await?;
        let Some(max) = inserted.iter().map(|row| sqlx::Row::get::<i64, _>(row, 0)).max() else { break };
        last_seq = max;
    }
    schema::create_indexes(&mut conn, &deferred).await?;
    let elapsed = started.elapsed();
    conn.execute("DROP SCHEMA bench_raw CASCADE").await?;
    Ok(rate(total as u64, elapsed))
}

/// Latest-50 history pages of random conversations through the API.
pub async fn history(server: &Server, log: &BigLog, requests: usize) -> anyhow::Result<Sample> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(8).build()?;
    let tokens: Vec<String> = (0..50).map(|i| token(&format!("rec-{i}"), Role::Recruiter)).collect();
    let mut latencies = Latencies::with_capacity(requests);
    let mut rng = rand::rng();
    for _ in 0..requests {
        let i = rng.random_range(0..log.conversations.len());
        let url = format!("{}/api/conversations/{}/messages?limit=50", server.base, log.conversations[i]);
        let sent = Instant::now();
        let response = http.get(&url).bearer_auth(&tokens[i % 50]).send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        latencies.record(sent.elapsed());
        anyhow::ensure!(status.is_success(), "history answered {status}: {}", String::from_utf8_lossy(&body));
    }
    Ok(Sample::from([("p50_ms", latencies.percentile_ms(50.0)), ("p99_ms", latencies.percentile_ms(99.0))]))
}

/// `parley replay` (the release binary, as analysts run it) of the whole log to JSON lines,
/// beside a raw ordered-consumer read of the same events without decoding.
pub async fn replay(env: &Env, log: &BigLog) -> anyhow::Result<Sample> {
    let binary = super::env::parley_binary()?;
    let started = Instant::now();
    let status = tokio::process::Command::new(binary)
        .args(["replay", "--nats-url", &env.nats.url()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await?;
    anyhow::ensure!(status.success(), "parley replay failed: {status}");
    let replay_rate = rate(log.events, started.elapsed());
    let started = Instant::now();
    let mut reader = env.log.read(&[], 1, None).await?;
    let mut read = 0u64;
    while let Some(raw) = reader.next().await {
        raw?;
        read += 1;
    }
    anyhow::ensure!(read == log.events, "read {read} of {} events", log.events);
    Ok(Sample::from([("rate", replay_rate), ("raw_rate", rate(read, started.elapsed()))]))
}
