//! Presence: a user is online while at least one of their sessions, on any instance, is
//! connected.
//!
//! Each instance keeps one key per connected user in the `PARLEY_PRESENCE` bucket
//! (`online.<user>.<instance>`), written when the user's first session here opens, renewed
//! by heartbeats, removed when their last session here closes, and expiring by its per-key
//! TTL if the instance dies. Every instance watches those keys, so it knows who is online
//! anywhere, tells its sessions when someone who shares a conversation with them comes or
//! goes, and answers `GET /api/presence` and `GET /api/users/{id}` from the same knowledge.
//! `last_seen` is kept per user (`seen.<user>`). All writes go through one task, in order,
//! so a renewal can never resurrect a key that was just removed.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use lru::LruCache;
use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::frames::Signal;
use super::hub::Hub;
use crate::config::LiveConfig;
use crate::domain::UserId;
use crate::event_log::keyvalue::{Buckets, PresenceChange};
use crate::queries::live::co_participants;
use crate::views::PresenceView;

/// Users whose last-seen time this instance remembers without asking the bucket.
const REMEMBERED: usize = 50_000;
/// Presence changes gathered before telling sessions, so a burst costs one query.
const NOTIFY_BATCH: Duration = Duration::from_millis(50);

enum Command {
    Connected(UserId),
    Disconnected(UserId),
}

#[derive(Debug)]
struct Change {
    user: UserId,
    online: bool,
    at: DateTime<Utc>,
}

struct Known {
    /// Instances each online user has a session on, with their last renewal.
    online: HashMap<UserId, HashMap<String, DateTime<Utc>>>,
    last_seen: LruCache<UserId, DateTime<Utc>>,
}

struct Inner {
    buckets: Buckets,
    instance: String,
    ttl: Duration,
    commands: mpsc::UnboundedSender<Command>,
    known: Mutex<Known>,
}

#[derive(Clone)]
pub struct Presence {
    inner: Arc<Inner>,
}

impl Presence {
    /// Starts the key keeper, the bucket watcher and the notifier of sessions.
    pub fn start(
        buckets: Buckets,
        hub: Arc<Hub>,
        db: PgPool,
        config: &LiveConfig,
        stop: CancellationToken,
    ) -> (Self, Vec<JoinHandle<()>>) {
        let (commands, received) = mpsc::unbounded_channel();
        let remembered = NonZeroUsize::new(REMEMBERED).expect("a positive capacity");
        let inner = Arc::new(Inner {
            buckets,
            instance: uuid::Uuid::new_v4().simple().to_string(),
            ttl: config.presence_ttl,
            commands,
            known: Mutex::new(Known { online: HashMap::new(), last_seen: LruCache::new(remembered) }),
        });
        let (changes, pending) = mpsc::unbounded_channel();
        let tasks = vec![
            tokio::spawn(keep(inner.clone(), received, config.presence_heartbeat, stop.clone())),
            tokio::spawn(watch(inner.clone(), changes, stop.clone())),
            tokio::spawn(notify(hub, db, pending, stop)),
        ];
        (Self { inner }, tasks)
    }

    /// A session of `user` opened on this instance.
    pub fn connected(&self, user: &UserId) {
        let _ = self.inner.commands.send(Command::Connected(user.clone()));
    }

    /// A session of `user` on this instance ended.
    pub fn disconnected(&self, user: &UserId) {
        let _ = self.inner.commands.send(Command::Disconnected(user.clone()));
    }

    pub async fn lookup(&self, user: &UserId) -> PresenceView {
        let view = |online: bool, last_seen| PresenceView {
            user_id: user.to_string(),
            status: if online { "online" } else { "offline" }.into(),
            last_seen,
        };
        {
            let mut known = self.inner.known();
            if let Some(instances) = known.online.get(user) {
                return view(true, instances.values().max().copied());
            }
            if let Some(at) = known.last_seen.get(user) {
                return view(false, Some(*at));
            }
        }
        match self.inner.buckets.last_seen(user).await {
            Ok(at) => view(false, at),
            Err(e) => {
                tracing::warn!(error = %e, "last seen unavailable");
                view(false, None)
            }
        }
    }
}

impl Inner {
    fn known(&self) -> MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies one key change; returns the user's coming or going, if it is one, and whether
    /// it was an expiry (whose last-seen time nobody else records).
    fn apply(&self, change: PresenceChange, ttl: chrono::Duration) -> (Option<Change>, bool) {
        let mut known = self.known();
        match change {
            PresenceChange::Renewed { user, instance, at } => {
                let instances = known.online.entry(user.clone()).or_default();
                let came = instances.is_empty();
                instances.insert(instance, at);
                (came.then_some(Change { user, online: true, at }), false)
            }
            PresenceChange::Removed { user, instance, at } => {
                let Some(instances) = known.online.get_mut(&user) else { return (None, false) };
                let renewed = instances.remove(&instance);
                if !instances.is_empty() {
                    return (None, false);
                }
                known.online.remove(&user);
                // A key that expired was last renewed a TTL ago: that is when the user was
                // last seen. A closed one was seen until it closed.
                let expired = renewed.filter(|renewed| at - *renewed >= ttl);
                let last_seen = expired.unwrap_or(at);
                known.last_seen.put(user.clone(), last_seen);
                (Some(Change { user, online: false, at: last_seen }), expired.is_some())
            }
        }
    }
}

/// Awaits a publish acknowledgement in the background, logging a failure.
fn confirm(ack: Result<async_nats::jetstream::context::PublishAckFuture, impl std::fmt::Display>) {
    match ack {
        Ok(ack) => {
            tokio::spawn(async move {
                if let Err(e) = ack.await {
                    tracing::warn!(error = %e, "presence write not acknowledged");
                }
            });
        }
        Err(e) => tracing::warn!(error = %e, "presence write failed"),
    }
}

/// Writes this instance's keys: on first connect, on every heartbeat, on last disconnect.
async fn keep(
    inner: Arc<Inner>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    heartbeat: Duration,
    stop: CancellationToken,
) {
    let (buckets, instance, ttl) = (&inner.buckets, inner.instance.as_str(), inner.ttl);
    let mut local: HashMap<UserId, usize> = HashMap::new();
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Connected(user)) => {
                    let sessions = local.entry(user.clone()).or_default();
                    *sessions += 1;
                    if *sessions == 1 {
                        confirm(buckets.renew_online(&user, instance, ttl).await);
                    }
                }
                Some(Command::Disconnected(user)) => {
                    let Some(sessions) = local.get_mut(&user) else { continue };
                    *sessions -= 1;
                    if *sessions == 0 {
                        local.remove(&user);
                        confirm(buckets.close_online(&user, instance).await);
                        confirm(buckets.record_last_seen(&user, Utc::now()).await);
                    }
                }
                None => return,
            },
            _ = beat.tick() => {
                for user in local.keys() {
                    confirm(buckets.renew_online(user, instance, ttl).await);
                }
            }
            () = stop.cancelled() => {
                for user in local.keys() {
                    confirm(buckets.close_online(user, instance).await);
                    confirm(buckets.record_last_seen(user, Utc::now()).await);
                }
                return;
            }
        }
    }
}

/// Follows every instance's keys, keeping `Known` and reporting who came online or went.
async fn watch(inner: Arc<Inner>, changes: mpsc::UnboundedSender<Change>, stop: CancellationToken) {
    let ttl = chrono::Duration::from_std(inner.ttl).unwrap_or_default();
    loop {
        let watching = async {
            let mut entries = inner.buckets.watch_online().await?;
            // A fresh watch replays every key: start from nothing.
            inner.known().online.clear();
            while let Some(change) = entries.next().await {
                let (change, expired) = inner.apply(change?, ttl);
                if let Some(change) = change {
                    if expired {
                        confirm(inner.buckets.record_last_seen(&change.user, change.at).await);
                    }
                    let _ = changes.send(change);
                }
            }
            Ok::<(), crate::event_log::keyvalue::KvError>(())
        };
        tokio::select! {
            result = watching => {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "presence watch interrupted; watching again");
                }
            }
            () = stop.cancelled() => return,
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = stop.cancelled() => return,
        }
    }
}

/// Tells this instance's sessions about presence changes of people they share a
/// conversation with.
async fn notify(
    hub: Arc<Hub>,
    db: PgPool,
    mut pending: mpsc::UnboundedReceiver<Change>,
    stop: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            change = pending.recv() => match change { Some(change) => change, None => return },
            () = stop.cancelled() => return,
        };
        tokio::time::sleep(NOTIFY_BATCH).await;
        let mut latest: HashMap<UserId, Change> = HashMap::new();
        latest.insert(first.user.clone(), first);
        while let Ok(change) = pending.try_recv() {
            latest.insert(change.user.clone(), change);
        }
        if hub.sessions() == 0 {
            continue;
        }
        let users: Vec<String> = latest.keys().map(ToString::to_string).collect();
        let pairs = match co_participants(&db, &users).await {
            Ok(pairs) => pairs,
            Err(e) => {
                tracing::warn!(error = %e, "presence changes not sent: PostgreSQL unavailable");
                continue;
            }
        };
        for (user, other) in pairs {
            let (Ok(user), Ok(other)) = (UserId::parse(&user), UserId::parse(&other)) else { continue };
            let Some(change) = latest.get(&user) else { continue };
            let frame = Signal::Presence {
                user_id: user.as_str(),
                status: if change.online { "online" } else { "offline" },
                last_seen: Some(change.at),
            };
            hub.to_user(&other, &frame.encode());
        }
    }
}
