//! One agent per cluster: a tokio task (not a thread) that calls the connector every interval,
//! abandons a collection at its timeout, and records a report whatever happened.

use crate::store::{ClusterSlot, Collection, Outcome};
use abi_stable::std_types::RResult;
use dbmon_connector_api::ffi::{FfiCollectRequest, InstanceBox};
use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant, SystemTime},
};
use tokio::{sync::watch, time::MissedTickBehavior};

/// A poll that holds a host thread longer than this is logged: the connector is blocking.
const SLOW_POLL: Duration = Duration::from_millis(50);

/// The prefix the SDK puts on errors that were panics.
const PANIC_PREFIX: &str = "connector panicked: ";

/// When and how one cluster is collected.
pub struct Agent {
    /// Where reports go.
    pub slot: Arc<ClusterSlot>,
    /// The connector's instance for this cluster.
    pub instance: Arc<InstanceBox>,
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
            let collection = self.collect_once(sequence).await;
            let report = self.slot.record(collection);
            if let Some(error) = &report.error {
                tracing::debug!(cluster = %info.id, sequence, "collection failed: {error}");
            }
        }
        tracing::debug!(cluster = %info.id, "agent stopped");
    }

    async fn collect_once(&self, sequence: u64) -> Collection {
        let timeout = self.slot.info.timeout;
        let request = FfiCollectRequest {
            sequence,
            timeout_ms: timeout.as_millis() as u64,
        };
        let started_at = SystemTime::now();
        let clock = Instant::now();
        let watched = BlockWatch {
            inner: self.instance.collect(request),
            cluster: &self.slot.info.id,
        };
        let outcome = match tokio::time::timeout(timeout, watched).await {
            Ok(RResult::ROk(report)) => Outcome::Collected(report),
            Ok(RResult::RErr(e)) if e.starts_with(PANIC_PREFIX) => Outcome::Panicked(e.into()),
            Ok(RResult::RErr(e)) => Outcome::Failed(e.into()),
            // Dropping the future cancels the collection inside the connector.
            Err(_) => Outcome::TimedOut(timeout),
        };
        Collection {
            sequence,
            started_at,
            duration: clock.elapsed(),
            outcome,
        }
    }
}

/// Logs polls that hold the host's thread too long: a connector that blocks instead of
/// awaiting. Costs two clock reads per poll.
pub struct BlockWatch<'a, F> {
    /// The connector's future.
    pub inner: F,
    /// Whose collection it is.
    pub cluster: &'a str,
}

impl<F: Future + Unpin> Future for BlockWatch<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let start = Instant::now();
        let result = Pin::new(&mut self.inner).poll(cx);
        let held = start.elapsed();
        if held > SLOW_POLL {
            tracing::warn!(
                cluster = self.cluster,
                "connector blocked a host thread for {} ms; connectors must await, not block (use spawn_blocking)",
                held.as_millis()
            );
        }
        result
    }
}
