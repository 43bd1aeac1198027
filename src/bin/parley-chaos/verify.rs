//! After the faults: every acknowledged message must be in the read model exactly once, the
//! log must hold no message twice, and the read models must equal a rebuild from the log.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use parley::domain::{ConversationEvent, Event};
use parley::projections::{schema, verify};

use crate::env::Env;
use crate::workload::Tally;

pub struct Outcome {
    pub sent: u64,
    pub acked: u64,
    pub found: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub differences: Vec<String>,
    pub recoveries: Vec<Duration>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.differences.is_empty()
    }
}

pub async fn verify(env: &Env, tally: Tally, recoveries: Vec<Duration>) -> anyhow::Result<Outcome> {
    let url = env.database_url();
    let db = schema::connect_pool(&url).await?;
    // The projector catches up once the faults are over.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let status = parley::projections::status(&env.log, &db).await?;
        if status.iter().all(|s| s.lag == 0) {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "the read models did not catch up: {:?}", status);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let conversations: Vec<uuid::Uuid> = tally
        .acked
        .iter()
        .filter_map(|(c, _)| uuid::Uuid::parse_str(c).ok())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT conversation_id::text, client_msg_id FROM parley.messages WHERE conversation_id = ANY($1)",
    )
    .bind(&conversations)
    .fetch_all(&db)
    .await?;
    let found: BTreeSet<(String, String)> = rows.into_iter().filter_map(|(c, k)| k.map(|k| (c, k))).collect();
    let lost = tally.acked.difference(&found).count() as u64;

    // Duplicates in the log itself (the read model's unique key would hide them).
    let mut seen: HashMap<(String, String, String), u64> = HashMap::new();
    let mut reader = env.log.read(&[], 1, None).await?;
    while let Some(raw) = reader.next().await {
        let Ok(envelope) = raw?.decode() else { continue };
        if let Event::Conversation(
            id,
            ConversationEvent::MessageSent { sender_id, client_msg_id: Some(key), .. },
        ) = envelope.event
        {
            *seen.entry((id.to_string(), sender_id.to_string(), key.as_str().to_owned())).or_default() += 1;
        }
    }
    let duplicated = seen.values().filter(|n| **n > 1).map(|n| n - 1).sum();

    let mut differences = verify::compare_with_rebuild(&env.log, &db, &url).await?;
    for (conversation, user, stored, recount) in verify::unread_mismatches(&db).await? {
        differences.push(format!("unread of {user} in {conversation}: stored {stored}, recounted {recount}"));
    }
    Ok(Outcome {
        sent: tally.sent,
        acked: tally.acked.len() as u64,
        found: found.len() as u64,
        lost,
        duplicated,
        differences,
        recoveries,
    })
}
