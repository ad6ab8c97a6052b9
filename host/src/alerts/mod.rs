//! Alerts on verdict changes (`alerts:`), to Alertmanager (`POST /api/v2/alerts`) and
//! webhooks (the same JSON body). Per cluster, a verdict that held for `for` reports in a
//! row fires an alert (degraded: `DbmonClusterDegraded`, severity warning; unhealthy and
//! unreachable: `DbmonClusterUnhealthy` / `DbmonClusterUnreachable`, critical), sent again
//! every `resend` while it fires, and resolved (`endsAt` now) once the cluster is healthy
//! for `for` reports or has another problem.
//!
//! How it flows: the store's notices → [`engine`] (one task, a [`tracker`] per cluster) →
//! [`payload`] → one bounded queue and task per target ([`deliver`]), which retries with a
//! capped backoff. Nothing on the collection's path waits for any of it; the results are
//! counted in [`Deliveries`] (`dbmon_alert_deliveries_total` on `/metrics`).

pub mod deliver;
pub mod engine;
pub mod payload;
pub mod tracker;

#[cfg(test)]
mod tests;

use crate::{config::Alerts, store::Store};
use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicU64, Ordering},
};
use tokio::sync::watch;

/// Alert deliveries since the start, by result (`dbmon_alert_deliveries_total{result}`).
#[derive(Debug, Default)]
pub struct Deliveries {
    /// Whether alerts are sent at all (`alerts:` is set and the role sends them).
    pub enabled: AtomicBool,
    /// Posts a target accepted (2xx).
    pub sent: AtomicU64,
    /// Posts that failed and are tried again.
    pub retried: AtomicU64,
    /// Batches given up: tried as often as allowed, or dropped from a full queue.
    pub dropped: AtomicU64,
    /// Clusters whose alert is firing now.
    pub firing: AtomicU64,
}

impl Deliveries {
    /// `(result, count)` for each result; none when alerts are not sent.
    pub fn by_result(&self) -> Vec<(&'static str, u64)> {
        if !self.enabled.load(Ordering::Relaxed) {
            return Vec::new();
        }
        vec![
            ("sent", self.sent.load(Ordering::Relaxed)),
            ("retried", self.retried.load(Ordering::Relaxed)),
            ("dropped", self.dropped.load(Ordering::Relaxed)),
        ]
    }

    /// Clusters whose alert is firing, when alerts are sent.
    pub fn firing(&self) -> Option<u64> {
        self.enabled
            .load(Ordering::Relaxed)
            .then(|| self.firing.load(Ordering::Relaxed))
    }
}

/// Starts sending the alerts of `store`'s clusters as `settings` say, until `stopped`.
/// Needs a tokio runtime.
pub fn start(
    settings: &Alerts,
    store: &Arc<Store>,
    deliveries: Arc<Deliveries>,
    stopped: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let client =
        dbmon_scrape::client(None).map_err(|e| anyhow::anyhow!("alerts: {}", e.message))?;
    let queues = settings
        .targets
        .iter()
        .map(|t| deliver::start(t, client.clone(), Arc::clone(&deliveries), stopped.clone()))
        .collect();
    deliveries.enabled.store(true, Ordering::Relaxed);
    let engine = engine::Engine::new(settings.clone(), queues, deliveries);
    let notices = store.subscribe();
    tokio::spawn(engine.run(Arc::downgrade(store), notices, stopped));
    let targets: Vec<&str> = settings.targets.iter().map(|t| t.url()).collect();
    tracing::info!(
        "alerts to {} after {} reports in a row, resent every {}",
        targets.join(", "),
        settings.for_reports,
        humantime::format_duration(settings.resend)
    );
    Ok(())
}
