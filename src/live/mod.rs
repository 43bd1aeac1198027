//! Live: what happens now rather than what happened. WebSocket sessions fed by one ordered
//! feed of stored events per instance, gap-free resume, typing, presence and unread frames.
//! Reads PostgreSQL (memberships, counts) but never writes to it.
//!
//! - `hub`: the interest map and dispatch to sessions; `feed`: the instance's one
//!   subscription on `parley.live.>` and gap repair.
//! - `event`: an event as live delivery sees it, and the rule of who receives it.
//! - `resume`: catching a session up from `since`, then switching it to live.
//! - `session`: one WebSocket: queue, pings, limits, closing.
//! - `frames`: the JSON shape of every frame sent; `client_frames`: parsing what clients send.
//! - `presence`, `typing`, `unread`, `tickets`: the rest of the live surface.
//! - `caps`: how many sessions each user holds open here.

pub mod caps;
pub mod client_frames;
pub mod event;
mod feed;
pub mod frames;
pub mod hub;
pub mod presence;
pub mod resume;
pub mod session;
pub mod tickets;
pub mod typing;
pub mod unread;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use caps::{SessionCaps, SessionSlot};
pub use presence::Presence;
pub use tickets::Tickets;
pub use typing::Typing;

use crate::config::LiveConfig;
use crate::event_log::EventLog;
use crate::event_log::keyvalue::Buckets;
use crate::projections::Progress;

/// Everything live sessions share on one instance. Cheap to clone.
#[derive(Clone)]
pub struct Live {
    pub hub: Arc<hub::Hub>,
    pub presence: Presence,
    pub typing: Arc<Typing>,
    pub tickets: Tickets,
    pub config: Arc<LiveConfig>,
    log: EventLog,
    db: PgPool,
    progress: Progress,
    /// How long a resuming session waits for the read models to reach the stream's tip.
    resume_wait: Duration,
    /// Cancelled when the server shuts down: sessions close with 1001.
    shutdown: CancellationToken,
    next_id: Arc<AtomicU64>,
}

impl Live {
    /// Subscribes to the live feed and signals, opens the buckets and starts every task.
    pub async fn start(
        log: EventLog,
        db: PgPool,
        progress: Progress,
        config: LiveConfig,
        resume_wait: Duration,
        shutdown: CancellationToken,
    ) -> anyhow::Result<(Self, Vec<JoinHandle<()>>)> {
        let buckets = Buckets::open(log.jetstream()).await?;
        let (hints, hinted) = mpsc::channel(unread::QUEUE);
        let (hub, feed) = hub::Hub::start(log.clone(), hints, shutdown.clone()).await?;
        let (typing, mut tasks) = Typing::start(
            log.clone(),
            hub.clone(),
            config.typing_rate,
            config.typing_timeout,
            shutdown.clone(),
        )
        .await?;
        let (presence, presence_tasks) =
            Presence::start(buckets.clone(), hub.clone(), db.clone(), &config, shutdown.clone());
        tasks.extend(presence_tasks);
        tasks.push(feed);
        tasks.push(tokio::spawn(unread::run(
            hub.clone(),
            db.clone(),
            progress.clone(),
            hinted,
            shutdown.clone(),
        )));
        let live = Self {
            hub,
            presence,
            typing,
            tickets: Tickets::new(buckets, config.ws_ticket_ttl),
            config: Arc::new(config),
            log,
            db,
            progress,
            resume_wait,
            shutdown,
            next_id: Arc::new(AtomicU64::new(1)),
        };
        Ok((live, tasks))
    }

    fn next_session_id(&self) -> hub::SessionId {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }
}
