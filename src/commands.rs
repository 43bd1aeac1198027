//! Executes commands: loads a conversation's state from the log (cached per instance),
//! decides, appends with the expectation that nothing changed since, and on a conflict
//! refreshes the state and decides again. This is where "exactly one of two racing writers
//! wins" is enforced, with the stream's own expected-sequence check.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use lru::LruCache;

use crate::domain::{
    Actor, Conversation, ConversationCommand, ConversationEvent, ConversationId, Decision, Envelope, Event,
    EventId, Limits, Rejection, Role, Unchanged, UserId, user,
};
use crate::event_log::{AppendError, EventLog, Expectation, ReadError, subjects};

/// Conversations whose state an instance keeps in memory.
const CACHED_CONVERSATIONS: usize = 20_000;
/// Decisions retried after conflicts before giving up (each retry sees fresher state).
const MAX_ATTEMPTS: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error(transparent)]
    Append(#[from] AppendError),
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// What executing a command did.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// New events, stored at `first_seq..=last_seq`, that occurred at `occurred_at`.
    Appended { first_seq: u64, last_seq: u64, occurred_at: DateTime<Utc>, events: Vec<ConversationEvent> },
    /// Nothing new: the effect was already there.
    Unchanged { reason: Unchanged, last_seq: u64 },
}

impl Outcome {
    /// The sequence a reader must wait for to see the command's effect.
    pub fn visible_at(&self) -> u64 {
        match self {
            Outcome::Appended { last_seq, .. } => *last_seq,
            Outcome::Unchanged { last_seq, .. } => *last_seq,
        }
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<Conversation>>>;

#[derive(Clone)]
pub struct Commands {
    log: EventLog,
    limits: Limits,
    cache: Arc<Mutex<LruCache<ConversationId, Slot>>>,
}

impl Commands {
    pub fn new(log: EventLog, limits: Limits) -> Self {
        let capacity = NonZeroUsize::new(CACHED_CONVERSATIONS).expect("the cache holds at least one");
        Self { log, limits, cache: Arc::new(Mutex::new(LruCache::new(capacity))) }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn slot(&self, id: ConversationId) -> Slot {
        let mut cache = self.cache.lock().expect("the cache lock is never held across a panic");
        cache.get_or_insert(id, Slot::default).clone()
    }

    /// Decides and appends `command` against conversation `id`. `dedup_id` names the append
    /// for the stream's duplicate window (a client's idempotency key); `None` for a fresh one.
    pub async fn execute(
        &self,
        actor: &Actor,
        id: ConversationId,
        command: &ConversationCommand,
        dedup_id: Option<String>,
    ) -> Result<Outcome, CommandError> {
        let dedup_id = dedup_id.unwrap_or_else(|| EventId::new().to_string());
        let slot = self.slot(id);
        // One command at a time per conversation on this instance: they would only conflict.
        let mut guard = slot.lock().await;
        for _ in 0..MAX_ATTEMPTS {
            let state = match guard.as_mut() {
                Some(state) => state,
                None => guard.insert(self.load(id, Conversation::default()).await?),
            };
            let events = match state.decide(actor, command, &self.limits)? {
                Decision::Unchanged(reason) => {
                    return Ok(Outcome::Unchanged { reason, last_seq: state.last_seq });
                }
                Decision::Append(events) => events,
            };
            let expectation = match state.last_seq {
                0 => Expectation::Empty,
                seq => Expectation::LastSeq(seq),
            };
            let now = Utc::now();
            let envelopes: Vec<Envelope> = events
                .iter()
                .map(|event| Envelope {
                    event_id: EventId::new(),
                    occurred_at: now,
                    actor: actor.clone(),
                    event: Event::Conversation(id, event.clone()),
                })
                .collect();
            let scope = subjects::conversation_filter(&id);
            match self.log.append(&scope, &envelopes, expectation, &dedup_id).await {
                Ok(appended) if appended.duplicate => {
                    // Stored before (a retried publish or a racing twin): read what is there.
                    let current = guard.take().unwrap_or_default();
                    let refreshed = guard.insert(self.load(id, current).await?);
                    return Ok(Outcome::Unchanged {
                        reason: Unchanged::NothingToDo,
                        last_seq: refreshed.last_seq.max(appended.last_seq),
                    });
                }
                Ok(appended) => {
                    for (offset, event) in events.iter().enumerate() {
                        state.evolve(id, appended.first_seq + offset as u64, event);
                    }
                    return Ok(Outcome::Appended {
                        first_seq: appended.first_seq,
                        last_seq: appended.last_seq,
                        occurred_at: now,
                        events,
                    });
                }
                Err(AppendError::Conflict(_)) => {
                    metrics::counter!("parley_command_conflicts_total").increment(1);
                    let current = guard.take().unwrap_or_default();
                    *guard = Some(self.load(id, current).await?);
                }
                Err(e) => {
                    // The append may or may not have happened: read the log again next time.
                    *guard = None;
                    return Err(e.into());
                }
            }
        }
        Err(AppendError::Conflict(format!(
            "conversation {id} kept changing; gave up after {MAX_ATTEMPTS} tries"
        ))
        .into())
    }

    /// Folds every event of the conversation after `state.last_seq` into `state`.
    async fn load(&self, id: ConversationId, mut state: Conversation) -> Result<Conversation, CommandError> {
        let filter = subjects::conversation_filter(&id);
        let mut reader = self.log.read(&[filter], state.last_seq + 1, None).await?;
        while let Some(raw) = reader.next().await {
            let raw = raw?;
            match raw.decode() {
                Ok(Envelope { event: Event::Conversation(_, event), .. }) => {
                    state.evolve(id, raw.seq, &event)
                }
                Ok(_) => {}
                Err(e) => {
                    // The projector dead-letters the same event; both skip it, so the rules and
                    // the read models keep agreeing. Operators find it in dead_letters.
                    tracing::error!(seq = raw.seq, error = %e, conversation = %id, "skipping an undecodable event");
                    metrics::counter!("parley_aggregate_undecodable_events_total").increment(1);
                    state.last_seq = state.last_seq.max(raw.seq);
                }
            }
        }
        Ok(state)
    }

    /// The current state of a conversation, fresh from the log.
    pub async fn state(&self, id: ConversationId) -> Result<Conversation, CommandError> {
        let slot = self.slot(id);
        let mut guard = slot.lock().await;
        let current = guard.take().unwrap_or_default();
        let state = guard.insert(self.load(id, current).await?);
        Ok(state.clone())
    }

    /// Updates a user's profile (a user-scoped fact: no conversation rules apply).
    pub async fn update_profile(
        &self,
        actor: &Actor,
        user_id: &UserId,
        name: Option<&str>,
        role: Option<Role>,
    ) -> Result<u64, CommandError> {
        let event = user::decide_profile_update(actor, user_id, name, role)?;
        let envelope = Envelope {
            event_id: EventId::new(),
            occurred_at: Utc::now(),
            actor: actor.clone(),
            event: Event::User(user_id.clone(), event),
        };
        let scope = subjects::user_filter(user_id);
        let appended =
            self.log.append(&scope, &[envelope], Expectation::Any, &EventId::new().to_string()).await?;
        Ok(appended.last_seq)
    }
}
