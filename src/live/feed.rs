//! The hub's side of NATS: the one core subscription on `parley.live.>`, read in order.
//! Sequences are dense, so a jump shows exactly which events were lost (a slow-consumer drop,
//! a reconnect); they are read from the stream before anything later is dispatched. A quiet
//! feed checks the stream's tip, so losses at the tail are found too.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::event::LiveEvent;
use super::hub::Hub;
use crate::event_log::RawEvent;

/// How often a quiet feed checks the stream's tip for events lost at the tail.
const TAIL_CHECK: Duration = Duration::from_secs(1);

impl Hub {
    pub(super) async fn feed(
        self: Arc<Self>,
        mut subscription: async_nats::Subscriber,
        stop: CancellationToken,
    ) {
        let mut tail = tokio::time::interval(TAIL_CHECK);
        let mut heard = false;
        loop {
            tokio::select! {
                message = subscription.next() => {
                    let Some(message) = message else {
                        tracing::error!("the live subscription ended; live delivery stops");
                        return;
                    };
                    heard = true;
                    if self.discard.fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1)).is_ok() {
                        continue;
                    }
                    match RawEvent::from_republished(&message) {
                        Some(raw) => self.ingest(raw, &stop).await,
                        None => tracing::warn!(subject = %message.subject, "live message without its sequence headers"),
                    }
                }
                _ = tail.tick() => {
                    if !std::mem::take(&mut heard) {
                        match self.log.last_seq().await {
                            Ok(tip) if tip > self.position() => self.fill(tip, &stop).await,
                            Ok(_) => {}
                            Err(e) => tracing::debug!(error = %e, "live tail check failed"),
                        }
                    }
                }
                () = stop.cancelled() => return,
            }
        }
    }

    async fn ingest(&self, raw: RawEvent, stop: &CancellationToken) {
        let position = self.position();
        if raw.seq <= position {
            return;
        }
        if raw.seq > position + 1 {
            metrics::counter!("parley_live_gaps_total").increment(1);
            self.fill(raw.seq - 1, stop).await;
            if raw.seq <= self.position() {
                return;
            }
        }
        self.dispatch(Arc::new(LiveEvent::from_raw(&raw)));
    }

    /// Reads and dispatches every event after the position up to `to`, retrying until done:
    /// nothing later may be dispatched before them.
    async fn fill(&self, to: u64, stop: &CancellationToken) {
        loop {
            let from = self.position() + 1;
            if from > to || stop.is_cancelled() {
                return;
            }
            let result = async {
                let mut reader = self.log.read(&[], from, Some(to)).await?;
                while let Some(raw) = reader.next().await {
                    let raw = raw?;
                    if raw.seq > self.position() {
                        metrics::counter!("parley_live_recovered_events_total").increment(1);
                        self.dispatch(Arc::new(LiveEvent::from_raw(&raw)));
                    }
                }
                Ok::<(), crate::event_log::ReadError>(())
            }
            .await;
            if let Err(e) = result {
                tracing::warn!(error = %e, from, to, "live delivery could not read missed events; retrying");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
}
