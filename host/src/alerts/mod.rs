//! Alerts on verdict changes, to Alertmanager (`/api/v2/alerts`) and webhooks.

use std::sync::atomic::AtomicU64;

/// Alert deliveries since the start, by result (`dbmon_alert_deliveries_total{result}`).
#[derive(Debug, Default)]
pub struct Deliveries {
    /// Posts a target accepted (2xx).
    pub sent: AtomicU64,
    /// Posts that failed and are tried again.
    pub retried: AtomicU64,
    /// Alerts given up: tried as often as allowed, or dropped from a full queue.
    pub dropped: AtomicU64,
}
