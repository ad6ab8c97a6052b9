//! One overview row per cluster: what `/`, `/api/clusters` and each `/events` event show.

use super::{Sources, svg};
use crate::{api::convert, store::ClusterSlot};
use serde::Serialize;
use std::{sync::Arc, time::SystemTime};

/// Reports the overview's sparkline covers, newest last.
pub const SPARK_POINTS: usize = 60;

/// A cluster as the overview shows it. Every text field may come from a connector or the
/// config: escape it before it goes into HTML.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Cluster id.
    pub id: String,
    /// Connector name.
    pub connector: String,
    /// `healthy`, `degraded`, `unhealthy`, `unreachable` or `unknown` (no report yet).
    pub verdict: &'static str,
    /// Why the verdict is not healthy; with the collection's error when it failed.
    pub reasons: Vec<String>,
    /// The collector that collects it, when another process does; empty when this one does.
    pub collector: String,
    /// When the newest report was collected (RFC 3339, UTC).
    pub last_report_at: Option<String>,
    /// The same, in milliseconds since 1970 (what the script counts the age from).
    pub last_report_ms: Option<u64>,
    /// No report for longer than its schedule explains.
    pub stale: bool,
    /// Why, when stale.
    pub stale_reason: String,
    /// Age past which the newest report is stale (3 intervals and a timeout), in ms.
    pub stale_after_ms: u64,
    /// The collection time of the last reports, as a sparkline.
    pub spark: svg::Spark,
}

/// Every cluster's row, by id.
pub fn all(sources: &Sources) -> Vec<Row> {
    sources
        .store
        .clusters()
        .iter()
        .map(|slot| of(sources, slot))
        .collect()
}

/// The row of one cluster.
pub fn of(sources: &Sources, slot: &Arc<ClusterSlot>) -> Row {
    let id = &*slot.info.id;
    let runner = sources.live.runner(id);
    let remote = sources.collectors.remote(id);
    let wire = convert::cluster(slot, runner.as_deref(), remote.as_ref());
    let latest = slot.latest();
    let mut durations: Vec<f64> = slot
        .reports(SPARK_POINTS, None)
        .iter()
        .map(|r| r.duration.as_secs_f64() * 1000.0)
        .collect();
    durations.reverse();
    let info = &slot.info;
    Row {
        id: wire.id,
        connector: wire.connector,
        verdict: latest.as_ref().map_or("unknown", |r| r.status.as_str()),
        reasons: wire.reasons,
        collector: wire.collector,
        last_report_at: latest
            .as_ref()
            .map(|r| humantime::format_rfc3339_seconds(r.collected_at).to_string()),
        last_report_ms: latest.as_ref().map(|r| millis(r.collected_at)),
        stale: wire.stale,
        stale_reason: wire.stale_reason,
        stale_after_ms: (info.interval * 3 + info.timeout).as_millis() as u64,
        spark: svg::Spark::of(&durations, "ms", "collection time"),
    }
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
