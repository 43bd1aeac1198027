//! Typing indicators: published to `PARLEY_SIGNALS` (rate-limited per user and conversation,
//! GCRA via `governor`), received through this instance's one subscription on
//! `parley.signal.>`, and sent to the other participants' sessions here. A receiving
//! instance clears an indicator itself when it is not renewed within the timeout, so a lost
//! "stopped typing" never leaves one showing. Checking that the user takes part is the
//! caller's job.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::StreamExt;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::frames::Signal as Frame;
use super::hub::Hub;
use crate::domain::{Actor, ConversationId, Signal, UserId};
use crate::event_log::{AppendError, EventLog, subjects, wire};

/// Typing signals one user may send in a burst in one conversation.
const BURST: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum TypingError {
    #[error("too many typing signals; retry after {0:?}")]
    RateLimited(Duration),
    #[error(transparent)]
    Unavailable(#[from] AppendError),
}

pub struct Typing {
    log: EventLog,
    hub: Arc<Hub>,
    limiter: DefaultKeyedRateLimiter<(UserId, ConversationId)>,
    timeout: Duration,
    /// Indicators shown by this instance's sessions, with when they lapse.
    showing: Mutex<HashMap<(ConversationId, UserId), Instant>>,
}

impl Typing {
    /// Subscribes to signals and starts the sweeper that clears lapsed indicators.
    pub async fn start(
        log: EventLog,
        hub: Arc<Hub>,
        rate: u32,
        timeout: Duration,
        stop: CancellationToken,
    ) -> anyhow::Result<(Arc<Self>, Vec<JoinHandle<()>>)> {
        let per_second = NonZeroU32::new(rate.max(1)).expect("at least one");
        let burst = NonZeroU32::new(BURST.max(rate)).expect("at least one");
        let subscription = log.client().subscribe(subjects::ALL_SIGNALS).await?;
        let typing = Arc::new(Self {
            log,
            hub,
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
            timeout,
            showing: Mutex::new(HashMap::new()),
        });
        let tasks = vec![
            tokio::spawn(typing.clone().receive(subscription, stop.clone())),
            tokio::spawn(typing.clone().sweep(stop)),
        ];
        Ok((typing, tasks))
    }

    fn showing(&self) -> MutexGuard<'_, HashMap<(ConversationId, UserId), Instant>> {
        self.showing.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Publishes that `actor` started or stopped typing in `conversation`.
    pub async fn publish(
        &self,
        actor: &Actor,
        conversation: ConversationId,
        is_typing: bool,
    ) -> Result<(), TypingError> {
        if let Err(not_until) = self.limiter.check_key(&(actor.user_id.clone(), conversation)) {
            let wait = not_until.wait_time_from(self.limiter.clock().now());
            return Err(TypingError::RateLimited(wait));
        }
        let signal = Signal::TypingChanged {
            conversation_id: conversation,
            user_id: actor.user_id.clone(),
            is_typing,
        };
        self.log.publish_signal(&signal, actor).await?;
        Ok(())
    }

    async fn receive(self: Arc<Self>, mut subscription: async_nats::Subscriber, stop: CancellationToken) {
        loop {
            let message = tokio::select! {
                message = subscription.next() => match message {
                    Some(message) => message,
                    None => return,
                },
                () = stop.cancelled() => return,
            };
            match wire::decode_signal(&message.subject, message.headers.as_ref(), &message.payload) {
                Ok((_, Signal::TypingChanged { conversation_id, user_id, is_typing })) => {
                    let key = (conversation_id, user_id);
                    if is_typing {
                        self.showing().insert(key.clone(), Instant::now() + self.timeout);
                    } else {
                        self.showing().remove(&key);
                    }
                    self.show(&key.0, &key.1, is_typing);
                }
                // Presence travels through the presence bucket; nothing to do with it here.
                Ok((_, Signal::PresenceChanged { .. })) => {}
                Err(e) => {
                    tracing::debug!(subject = %message.subject, error = %e, "ignoring an unreadable signal")
                }
            }
        }
    }

    fn show(&self, conversation: &ConversationId, user: &UserId, is_typing: bool) {
        let frame = Frame::Typing { conversation_id: conversation.0, user_id: user.as_str(), is_typing };
        self.hub.to_conversation(conversation, &frame.encode(), user);
    }

    /// Clears indicators whose renewal is overdue, and forgets idle rate-limit keys.
    async fn sweep(self: Arc<Self>, stop: CancellationToken) {
        let every = (self.timeout / 10).clamp(Duration::from_millis(50), Duration::from_millis(500));
        let mut tick = tokio::time::interval(every);
        let mut ticks: u64 = 0;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = stop.cancelled() => return,
            }
            let now = Instant::now();
            let lapsed: Vec<(ConversationId, UserId)> = {
                let mut showing = self.showing();
                let lapsed: Vec<_> =
                    showing.iter().filter(|(_, until)| **until <= now).map(|(k, _)| k.clone()).collect();
                for key in &lapsed {
                    showing.remove(key);
                }
                lapsed
            };
            for (conversation, user) in lapsed {
                self.show(&conversation, &user, false);
            }
            ticks += 1;
            if ticks.is_multiple_of(600) {
                self.limiter.retain_recent();
            }
        }
    }
}
