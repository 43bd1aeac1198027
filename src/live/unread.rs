//! `unread` frames: after an event that may change a receiving user's unread count has been
//! sent, wait until the read models include it, then tell the user their count in that
//! conversation and their total. Hints are gathered while waiting, so a burst of events costs
//! one query for all users concerned, and event frames are never delayed by it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::frames::Signal;
use super::hub::{Hub, UnreadHint};
use crate::domain::{ConversationId, UserId};
use crate::projections::Progress;
use crate::queries::live::unread_counts;

/// Hints waiting for the read models; more are dropped (a later frame corrects the count).
pub const QUEUE: usize = 8192;
/// Longest wait for the read models before counting anyway.
const WAIT: Duration = Duration::from_secs(5);

pub async fn run(
    hub: Arc<Hub>,
    db: PgPool,
    progress: Progress,
    mut hints: mpsc::Receiver<UnreadHint>,
    stop: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            hint = hints.recv() => match hint { Some(hint) => hint, None => return },
            () = stop.cancelled() => return,
        };
        let mut pending: HashSet<(UserId, ConversationId)> = HashSet::new();
        let mut upto = first.seq;
        pending.insert((first.user, first.conversation));
        while let Ok(hint) = hints.try_recv() {
            upto = upto.max(hint.seq);
            pending.insert((hint.user, hint.conversation));
        }
        // Hints arriving meanwhile wait in the channel for the next round.
        progress.wait_for(upto, WAIT, &db).await;
        let users: Vec<String> =
            pending.iter().map(|(user, _)| user.to_string()).collect::<HashSet<_>>().into_iter().collect();
        let rows = match unread_counts(&db, &users).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "unread counts not sent: PostgreSQL unavailable");
                continue;
            }
        };
        let mut counts: HashMap<String, HashMap<Uuid, i64>> = HashMap::new();
        for (user, conversation, unread) in rows {
            counts.entry(user).or_default().insert(conversation, unread);
        }
        for (user, conversation) in pending {
            let mine = counts.get(user.as_str());
            let total = mine.map(|m| m.values().sum()).unwrap_or(0);
            let unread = mine.and_then(|m| m.get(&conversation.0)).copied().unwrap_or(0);
            let frame = Signal::Unread { conversation_id: conversation.0, unread, total };
            hub.to_user(&user, &frame.encode());
        }
    }
}
