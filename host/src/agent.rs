//! One agent per cluster: a tokio task (not a thread) that calls the connector every interval,
//! abandons a collection at its timeout, and records a report whatever happened.

use crate::{
    runner::Runner,
    store::{ClusterSlot, Collection},
};
use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};
use tokio::{sync::watch, time::MissedTickBehavior};

/// When and how one cluster is collected.
pub struct Agent {
    /// Where reports go.
    pub slot: Arc<ClusterSlot>,
    /// The cluster's connector.
    pub runner: Arc<Runner>,
    /// Bound of the start offset.
    pub jitter: Duration,
    /// Fixed delay before the first collection.
    pub initial_delay: Duration,
}

impl Agent {
    /// Collects until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let info = &self.slot.info;
        let spread = self.jitter.mul_f64(offset_fraction(&info.id));
        let first = tokio::time::Instant::now() + self.initial_delay + spread;
        let mut ticker = tokio::time::interval_at(first, info.interval);
        // A host that fell behind skips the missed collections instead of bursting them.
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        // Sequences continue from what the store holds, across restarts.
        let mut sequence = self.slot.last_sequence();
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => break,
            }
            sequence += 1;
            let started_at = SystemTime::now();
            let clock = Instant::now();
            let outcome = self.runner.collect(&info.id, sequence, info.timeout).await;
            let recorded = self.slot.record(Collection {
                sequence,
                started_at,
                duration: clock.elapsed(),
                outcome,
                origin: None,
            });
            match recorded.await {
                Ok(report) => {
                    if let Some(error) = &report.error {
                        tracing::debug!(cluster = %info.id, sequence, "collection failed: {error}");
                    }
                }
                Err(e) => tracing::warn!(cluster = %info.id, sequence, "report not stored: {e}"),
            }
        }
        tracing::debug!(cluster = %info.id, "agent stopped");
    }
}

/// A fraction in [0, 1) fixed by the cluster id: each cluster keeps its place in the interval
/// across restarts, and clusters spread evenly.
fn offset_fraction(id: &str) -> f64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(id);
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::offset_fraction;

    #[test]
    fn offsets_are_stable_and_spread() {
        assert_eq!(offset_fraction("a"), offset_fraction("a"));
        let offsets: Vec<f64> = (0..1000)
            .map(|i| offset_fraction(&format!("cluster-{i}")))
            .collect();
        assert!(offsets.iter().all(|f| (0.0..1.0).contains(f)));
        let first_half = offsets.iter().filter(|f| **f < 0.5).count();
        assert!(
            (400..600).contains(&first_half),
            "{first_half} of 1000 in the first half"
        );
    }
}
