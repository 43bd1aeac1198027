//! The hub: this instance's one ordered feed of stored events, dispatched in process to the
//! sessions whose user takes part in each event's conversation.
//!
//! `PARLEY_EVENTS` republishes every stored event under `parley.live.` with its sequence; the
//! hub holds one core subscription on it. Sequences are dense (the stream never deletes), so
//! a jump reveals exactly what a slow-consumer drop or a reconnect lost: the hub reads those
//! events from the stream before dispatching anything later, and checks the stream's tip when
//! the feed is quiet, so nothing is lost at the tail either. The interest map (conversation ->
//! local sessions) changes with the membership events it dispatches. Sending never waits: a
//! session whose queue is full is closed with 1013, and others are not slowed. The hub keeps
//! the last events it dispatched so a session catching up can switch to live without a gap.
//! It never touches PostgreSQL.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::event::{LiveEvent, Route};
use super::session::{Closer, close_code};
use crate::domain::{ConversationId, UserId};
use crate::event_log::{EventLog, subjects};

/// Events kept for sessions switching from catch-up to live (shared, not per session).
const RECENT: usize = 4096;

pub type SessionId = u64;

/// What the hub needs to reach one session.
#[derive(Clone)]
pub struct Attachment {
    pub id: SessionId,
    /// The `session_id` the client was told.
    pub name: Arc<str>,
    pub tx: mpsc::Sender<Utf8Bytes>,
    pub closer: Closer,
}

/// A hint that `user`'s unread count in `conversation` may have changed at `seq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnreadHint {
    pub user: UserId,
    pub conversation: ConversationId,
    pub seq: u64,
}

struct Entry {
    session: Attachment,
    route: Route,
    /// Events at or before this sequence were accounted for before the session attached.
    skip_through: u64,
}

#[derive(Default)]
struct State {
    /// The sequence of the last event dispatched.
    position: u64,
    recent: VecDeque<Arc<LiveEvent>>,
    sessions: HashMap<SessionId, Entry>,
    interest: HashMap<ConversationId, Vec<SessionId>>,
    by_user: HashMap<UserId, Vec<SessionId>>,
}

/// How attaching went.
pub enum Attached {
    /// The session is live.
    Live,
    /// The hub is ahead: apply these (the next events, in order) and try again.
    CatchUp(Vec<Arc<LiveEvent>>),
    /// The hub is further ahead than it remembers: read the log up to this sequence.
    ReadLog(u64),
    /// The session's queue filled while attaching: it is being closed.
    Closed,
}

pub struct Hub {
    pub(super) log: EventLog,
    state: Mutex<State>,
    unread: mpsc::Sender<UnreadHint>,
    /// Live messages to discard on arrival: fault injection for tests of gap repair.
    pub(super) discard: std::sync::atomic::AtomicU64,
}

impl Hub {
    /// Subscribes to the live feed and starts dispatching from the stream's current tip.
    pub async fn start(
        log: EventLog,
        unread: mpsc::Sender<UnreadHint>,
        stop: CancellationToken,
    ) -> anyhow::Result<(Arc<Self>, tokio::task::JoinHandle<()>)> {
        let subscription = log.client().subscribe(subjects::ALL_LIVE).await?;
        // The subscription is in place before the tip is read: nothing after it is missed.
        log.client().flush().await?;
        let tip = log.last_seq().await?;
        let hub = Arc::new(Self {
            log,
            state: Mutex::new(State { position: tip, ..State::default() }),
            unread,
            discard: Default::default(),
        });
        let task = tokio::spawn(hub.clone().feed(subscription, stop));
        Ok((hub, task))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes the feed lose the next `count` live messages, as a slow-consumer drop would.
    #[doc(hidden)]
    pub fn lose_next_messages(&self, count: u64) {
        self.discard.store(count, Relaxed);
    }

    pub fn position(&self) -> u64 {
        self.lock().position
    }

    pub fn sessions(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Sends one event to every session it concerns, in order with everything before it.
    pub(super) fn dispatch(&self, event: Arc<LiveEvent>) {
        let mut guard = self.lock();
        let state = &mut *guard;
        state.position = event.seq;
        state.recent.push_back(event.clone());
        if state.recent.len() > RECENT {
            state.recent.pop_front();
        }
        let Some(conversation) = event.conversation() else {
            return;
        };
        let State { sessions, interest, by_user, .. } = &mut *state;
        let joining = event.joined().iter().map(|p| &p.user_id).chain(event.added());
        for user in joining {
            for id in by_user.get(user).into_iter().flatten() {
                if let Some(entry) = sessions.get_mut(id)
                    && event.seq > entry.skip_through
                    && entry.route.conversations.insert(conversation)
                {
                    interest.entry(conversation).or_default().push(*id);
                }
            }
        }
        let mut full = Vec::new();
        let mut unread_users: Vec<&UserId> = Vec::new();
        if let (Some(ids), Some(frame)) = (interest.get(&conversation), event.frame()) {
            for id in ids {
                let Some(entry) = sessions.get(id) else { continue };
                if event.seq <= entry.skip_through || event.seq <= entry.route.deliver_after {
                    continue;
                }
                match entry.session.tx.try_send(frame.clone()) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        full.push((*id, true));
                        continue;
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => {
                        full.push((*id, false));
                        continue;
                    }
                }
                if event.moves_unread_of(&entry.route.user) && !unread_users.contains(&&entry.route.user) {
                    unread_users.push(&entry.route.user);
                }
            }
        }
        for user in unread_users {
            self.hint(user, conversation, event.seq);
        }
        if let Some(user) = event.removed() {
            for id in by_user.get(user).into_iter().flatten() {
                if let Some(entry) = sessions.get_mut(id)
                    && event.seq > entry.skip_through
                    && entry.route.conversations.remove(&conversation)
                    && let Some(ids) = interest.get_mut(&conversation)
                {
                    ids.retain(|other| other != id);
                }
            }
            if interest.get(&conversation).is_some_and(Vec::is_empty) {
                interest.remove(&conversation);
            }
        }
        for (id, slow) in full {
            // A closed queue is a session that just ended; a full one cannot keep up.
            if let Some(entry) = remove(state, id)
                && slow
            {
                metrics::counter!("parley_live_slow_sessions_total").increment(1);
                entry.session.closer.close(close_code::AGAIN, "cannot keep up; resume with since");
            }
        }
    }

    /// Asks for an `unread` frame for `user` once the read models include `seq`.
    pub fn hint(&self, user: &UserId, conversation: ConversationId, seq: u64) {
        let hint = UnreadHint { user: user.clone(), conversation, seq };
        if self.unread.try_send(hint).is_err() {
            metrics::counter!("parley_live_unread_hints_dropped_total").increment(1);
        }
    }

    /// Makes a session live, with its membership as of sequence `at`: at once if the hub is
    /// not ahead of `at` (earlier events are skipped for it), after sending it the events the
    /// hub dispatched since `at` if they fit its queue, or else tells the caller what to
    /// catch up on first.
    pub fn attach(&self, session: &Attachment, route: &mut Route, at: u64) -> Attached {
        let mut guard = self.lock();
        let state = &mut *guard;
        if session.closer.is_closed() {
            return Attached::Closed;
        }
        if state.position > at {
            let covered = state.recent.front().is_some_and(|first| first.seq <= at + 1);
            if !covered {
                return Attached::ReadLog(state.position);
            }
            let missed: Vec<Arc<LiveEvent>> = state.recent.iter().filter(|e| e.seq > at).cloned().collect();
            if missed.len() > session.tx.capacity() {
                return Attached::CatchUp(missed);
            }
            for event in &missed {
                if route.apply(event)
                    && let Some(frame) = event.frame()
                {
                    if session.tx.try_send(frame.clone()).is_err() {
                        session.closer.close(close_code::AGAIN, "cannot keep up; resume with since");
                        return Attached::Closed;
                    }
                    if let Some(conversation) = event.conversation()
                        && event.moves_unread_of(&route.user)
                    {
                        self.hint(&route.user, conversation, event.seq);
                    }
                }
            }
        }
        let skip_through = state.position.max(at);
        for conversation in &route.conversations {
            state.interest.entry(*conversation).or_default().push(session.id);
        }
        state.by_user.entry(route.user.clone()).or_default().push(session.id);
        state
            .sessions
            .insert(session.id, Entry { session: session.clone(), route: route.clone(), skip_through });
        Attached::Live
    }

    pub fn detach(&self, id: SessionId) {
        let mut guard = self.lock();
        remove(&mut guard, id);
    }

    /// Sends a signal frame to the sessions of a conversation, except those of `except`.
    pub fn to_conversation(&self, conversation: &ConversationId, frame: &Utf8Bytes, except: &UserId) {
        let guard = self.lock();
        for id in guard.interest.get(conversation).into_iter().flatten() {
            if let Some(entry) = guard.sessions.get(id)
                && &entry.route.user != except
            {
                // Signals are best effort: a full queue will close the session soon anyway.
                let _ = entry.session.tx.try_send(frame.clone());
            }
        }
    }

    /// Sends a frame to every session of `user`; false if they have none here.
    pub fn to_user(&self, user: &UserId, frame: &Utf8Bytes) -> bool {
        let guard = self.lock();
        let Some(ids) = guard.by_user.get(user) else { return false };
        for id in ids {
            if let Some(entry) = guard.sessions.get(id) {
                let _ = entry.session.tx.try_send(frame.clone());
            }
        }
        true
    }

    /// Whether the session the client knows as `name` is live here.
    pub fn is_live(&self, name: &str) -> bool {
        self.lock().sessions.values().any(|entry| &*entry.session.name == name)
    }
}

fn remove(state: &mut State, id: SessionId) -> Option<Entry> {
    let entry = state.sessions.remove(&id)?;
    for conversation in &entry.route.conversations {
        if let Some(ids) = state.interest.get_mut(conversation) {
            ids.retain(|other| *other != id);
            if ids.is_empty() {
                state.interest.remove(conversation);
            }
        }
    }
    if let Some(ids) = state.by_user.get_mut(&entry.route.user) {
        ids.retain(|other| *other != id);
        if ids.is_empty() {
            state.by_user.remove(&entry.route.user);
        }
    }
    Some(entry)
}
