//! Figures from samples: rates, latency percentiles, and medians across runs with their
//! spread (how noisy the machine was).

use std::time::Duration;

/// Latency samples of one run.
#[derive(Default)]
pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn with_capacity(n: usize) -> Self {
        Self(Vec::with_capacity(n))
    }

    pub fn record(&mut self, sample: Duration) {
        self.0.push(sample);
    }

    pub fn extend(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The p-th percentile (0..=100) in milliseconds.
    pub fn percentile_ms(&mut self, p: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        self.0.sort_unstable();
        let rank = ((p / 100.0) * (self.0.len() - 1) as f64).round() as usize;
        self.0[rank.min(self.0.len() - 1)].as_secs_f64() * 1000.0
    }
}

/// The median of several runs, with the relative spread (max - min) / median.
pub fn median(values: &[f64]) -> (f64, f64) {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    sorted.sort_by(f64::total_cmp);
    let middle = sorted[sorted.len() / 2];
    let spread = if middle == 0.0 { 0.0 } else { (sorted[sorted.len() - 1] - sorted[0]) / middle };
    (middle, spread)
}

pub fn rate(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-9)
}
