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
    /// Random start delay bound.
    pub jitter: Duration,
    /// Fixed delay before the first collection.
    pub initial_delay: Duration,
}

impl Agent {
    /// Collects until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let info = &self.slot.info;
        let spread = if self.jitter.is_zero() {
            Duration::ZERO
        } else {
            self.jitter.mul_f64(fastrand::f64())
        };
        let first = tokio::time::Instant::now() + self.initial_delay + spread;
        let mut ticker = tokio::time::interval_at(first, info.interval);
        // A host that fell behind skips the missed collections instead of bursting them.
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut sequence = 0;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => break,
            }
            sequence += 1;
            let started_at = SystemTime::now();
            let clock = Instant::now();
            let outcome = self.runner.collect(&info.id, sequence, info.timeout).await;
            let report = self.slot.record(Collection {
                sequence,
                started_at,
                duration: clock.elapsed(),
                outcome,
            });
            if let Some(error) = &report.error {
                tracing::debug!(cluster = %info.id, sequence, "collection failed: {error}");
            }
        }
        tracing::debug!(cluster = %info.id, "agent stopped");
    }
}
