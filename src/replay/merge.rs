//! Several sources (Parley's events, the ATS's) merged into one sequence: by stored time
//! while catching up; once every source has delivered what was pending when it opened,
//! whatever arrives first (`--follow`).

use tokio_util::sync::CancellationToken;

use super::ReplayError;
use super::source::{Delivered, Source};

/// Sources merged into one sequence of deliveries.
pub struct Merged {
    sources: Vec<Source>,
    follow: bool,
}

impl Merged {
    pub fn new(sources: Vec<Source>, follow: bool) -> Self {
        Self { sources, follow }
    }

    pub fn total_pending(&self) -> u64 {
        self.sources.iter().map(Source::pending).sum()
    }

    /// Whether every source has delivered what was pending (what `--follow` waits for).
    pub fn caught_up(&self) -> bool {
        self.sources.iter().all(|s| s.head.is_none() && s.pending == 0)
    }

    /// The next delivery: the oldest head among sources with events pending, or in follow
    /// mode whatever arrives first once all have caught up. `None` at the end or on `stop`.
    pub async fn next(&mut self, stop: &CancellationToken) -> Result<Option<Delivered>, ReplayError> {
        loop {
            for source in &mut self.sources {
                if source.head.is_none() && source.pending > 0 && !source.ended {
                    tokio::select! {
                        biased;
                        _ = stop.cancelled() => return Ok(None),
                        filled = source.fill() => { filled?; }
                    }
                }
            }
            let oldest = self
                .sources
                .iter_mut()
                .filter(|s| s.head.is_some())
                .min_by_key(|s| s.head.as_ref().map(|h| h.stored_at));
            if let Some(source) = oldest {
                return Ok(source.head.take());
            }
            if !self.follow || self.sources.iter().all(|s| s.ended) {
                return Ok(None);
            }
            let waiting = self.sources.iter_mut().filter(|s| !s.ended);
            let fills = waiting.map(|s| Box::pin(s.fill())).collect::<Vec<_>>();
            tokio::select! {
                biased;
                _ = stop.cancelled() => return Ok(None),
                (filled, _, _) = futures::future::select_all(fills) => { filled?; }
            }
        }
    }
}
