//! `GET /metrics`: every cluster's current metrics (from its newest report) and the host's
//! own, in Prometheus' text format 0.0.4. Names follow [`super::naming`]; every sample of a
//! cluster carries `cluster` and `connector`, a node's also `node`.
//!
//! A stale cluster (no report for 3 intervals and a timeout, as `dbmon clusters` says) loses
//! its connector series, as an exporter's vanish when it stops seeing them; its
//! `dbmon_cluster_up` is 0 and its status stays.

use super::{
    State,
    naming::{self, Exposed},
    text::{Exposition, Kind, Labels, Refused},
};
use crate::store::{ClusterSlot, Report};
use axum::{Router, routing::get};
use dbmon_connector_api::Status;
use std::{
    sync::{Arc, atomic::Ordering},
    time::SystemTime,
};

pub use super::durations::Durations;

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The verdicts, as `dbmon_cluster_status{status}` names them.
const STATUSES: [(Status, &str); 5] = [
    (Status::Healthy, "healthy"),
    (Status::Degraded, "degraded"),
    (Status::Unhealthy, "unhealthy"),
    (Status::Unreachable, "unreachable"),
    (Status::Unknown, "unknown"),
];

/// The `/metrics` route.
pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn metrics(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
) -> impl axum::response::IntoResponse {
    // Thousands of series: off the runtime's workers, so that other requests go on.
    let body = tokio::task::spawn_blocking(move || exposition(&state, SystemTime::now()))
        .await
        .unwrap_or_default();
    ([(hyper::header::CONTENT_TYPE, CONTENT_TYPE)], body)
}

/// The whole exposition at `now`.
pub fn exposition(state: &State, now: SystemTime) -> String {
    let mut out = Exposition::default();
    // The host's families first, so that a connector's series never take their names.
    for (name, kind, help) in OWN {
        out.family(name, *kind, help);
    }
    build_info(&mut out);
    for slot in state.store.clusters() {
        cluster(&mut out, state, &slot, now);
    }
    host(&mut out, state);
    out.finish()
}

/// Every family of the host's own, with its help.
const OWN: &[(&str, Kind, &str)] = &[
    (
        "dbmon_build_info",
        Kind::Gauge,
        "The host's version and the connector ABI it loads; always 1.",
    ),
    (
        "dbmon_cluster_up",
        Kind::Gauge,
        "1 when the cluster's last collection succeeded and is not stale, else 0.",
    ),
    (
        "dbmon_cluster_status",
        Kind::Gauge,
        "The cluster's verdict: 1 for the current status, 0 for the others.",
    ),
    (
        "dbmon_cluster_rule_firing",
        Kind::Gauge,
        "Places (nodes, series) where a verdict rule of the configuration holds in the cluster's newest report; absent when none.",
    ),
    (
        "dbmon_cluster_last_report_timestamp_seconds",
        Kind::Gauge,
        "When the cluster's newest report was collected, in seconds since 1970.",
    ),
    (
        "dbmon_collection_duration_seconds",
        Kind::Histogram,
        "How long collections took, by connector, since the host started.",
    ),
    (
        "dbmon_collections_total",
        Kind::Counter,
        "Collections of the cluster stored since the host started.",
    ),
    (
        "dbmon_collection_failures_total",
        Kind::Counter,
        "Collections that failed (timeouts and panics included) since the host started.",
    ),
    (
        "dbmon_collection_timeouts_total",
        Kind::Counter,
        "Collections abandoned at their timeout since the host started.",
    ),
    (
        "dbmon_connector_panics_total",
        Kind::Counter,
        "Collections that panicked inside the connector since the host started.",
    ),
    (
        "dbmon_worker_restarts_total",
        Kind::Counter,
        "Restarts of the cluster's connector worker process (isolation: process).",
    ),
    (
        "dbmon_connector_info",
        Kind::Gauge,
        "A connector loaded by this host, with its versions; always 1.",
    ),
    (
        "dbmon_plugins_loaded",
        Kind::Gauge,
        "Connector libraries loaded from the plugins folder.",
    ),
    (
        "dbmon_plugins_refused",
        Kind::Gauge,
        "Libraries of the plugins folder that were refused (the log says why).",
    ),
    (
        "dbmon_watchers",
        Kind::Gauge,
        "Open Watch streams of the gRPC API.",
    ),
    (
        "dbmon_ingest_connected",
        Kind::Gauge,
        "1 while the collector is connected to this server, else 0.",
    ),
    (
        "dbmon_ingest_reports_stored_total",
        Kind::Counter,
        "Reports of the collector this server stored since it started.",
    ),
    (
        "dbmon_ingest_duplicates_total",
        Kind::Counter,
        "Reports the collector sent again that this server had stored already.",
    ),
    (
        "dbmon_alert_deliveries_total",
        Kind::Counter,
        "Alert posts to Alertmanager and webhooks, by result: sent (accepted), retried \
         (failed, tried again), dropped (batches given up, or the queue was full).",
    ),
    (
        "dbmon_alerts_firing",
        Kind::Gauge,
        "Clusters whose alert is firing now.",
    ),
];

/// A sample of one of the host's own families.
fn own(out: &mut Exposition, name: &str, suffix: &str, labels: &[(String, String)], value: f64) {
    let (_, kind, help) = OWN
        .iter()
        .find(|(n, _, _)| *n == name)
        .expect("a family of OWN");
    let _ = out.sample(name, *kind, help, suffix, labels, value);
}

fn label(key: &str, value: impl Into<String>) -> (String, String) {
    (key.to_string(), value.into())
}

fn build_info(out: &mut Exposition) {
    let labels = [
        label("version", env!("CARGO_PKG_VERSION")),
        label("abi", dbmon_connector_api::ffi::ABI_VERSION),
    ];
    own(out, "dbmon_build_info", "", &labels, 1.0);
}

/// Whether a report collected `at` is older than the cluster's schedule explains at `now`.
pub fn is_stale(slot: &ClusterSlot, at: SystemTime, now: SystemTime) -> bool {
    let info = &slot.info;
    now.duration_since(at)
        .is_ok_and(|age| age > info.interval * 3 + info.timeout)
}

/// One cluster's families: its state, its agent's counters and its connector's series.
fn cluster(out: &mut Exposition, state: &State, slot: &ClusterSlot, now: SystemTime) {
    let info = &slot.info;
    let base: Labels = vec![
        label("cluster", &*info.id),
        label("connector", &*info.connector),
    ];
    let latest = slot.latest();
    let stale = latest
        .as_ref()
        .is_some_and(|r| is_stale(slot, r.collected_at, now));
    let up = latest.as_ref().is_some_and(|r| r.error.is_none()) && !stale;
    own(out, "dbmon_cluster_up", "", &base, f64::from(u8::from(up)));
    let current = latest.as_ref().map_or(Status::Unknown, |r| r.status);
    // A verdict this host does not know yet (the enum may grow) reads as unknown.
    let known = STATUSES.iter().any(|(s, _)| *s == current);
    for (status, name) in STATUSES {
        let mut labels = base.clone();
        labels.push(label("status", name));
        let on = current == status || (status == Status::Unknown && !known);
        own(
            out,
            "dbmon_cluster_status",
            "",
            &labels,
            f64::from(u8::from(on)),
        );
    }
    if let Some(report) = &latest {
        // One series per rule, counting where it held; in the order the rules fired.
        let mut firing: Vec<(&str, Status, u64)> = Vec::new();
        for fired in &report.fired {
            let places = u64::from(fired.places);
            match firing.iter_mut().find(|(rule, ..)| *rule == &*fired.rule) {
                Some((_, _, n)) => *n += places,
                None => firing.push((&fired.rule, fired.status, places)),
            }
        }
        for (rule, status, places) in firing {
            let mut labels = base.clone();
            labels.push(label("rule", rule));
            labels.push(label("status", status.as_str()));
            own(out, "dbmon_cluster_rule_firing", "", &labels, places as f64);
        }
        let at = report
            .collected_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let name = "dbmon_cluster_last_report_timestamp_seconds";
        own(out, name, "", &base, at.as_secs_f64());
    }
    let stats = &slot.stats;
    let counters = [
        ("dbmon_collections_total", &stats.collections),
        ("dbmon_collection_failures_total", &stats.failures),
        ("dbmon_collection_timeouts_total", &stats.timeouts),
        ("dbmon_connector_panics_total", &stats.panics),
    ];
    for (name, counter) in counters {
        own(out, name, "", &base, counter.load(Ordering::Relaxed) as f64);
    }
    let restarts = match state.live.runner(&info.id) {
        Some(runner) => Some(runner.restarts()),
        None => state
            .collectors
            .remote(&info.id)
            .map(|r| r.stats.worker_restarts),
    };
    if let Some(restarts) = restarts {
        own(
            out,
            "dbmon_worker_restarts_total",
            "",
            &base,
            restarts as f64,
        );
    }
    if let Some(report) = latest.filter(|_| !stale) {
        series(out, &base, &report);
    }
}

/// The connector's series of `report`.
fn series(out: &mut Exposition, base: &Labels, report: &Report) {
    let schema = &*report.schema;
    let prefix = naming::prefix(&report.connector);
    let nodes: Vec<&str> = schema.nodes().map(|n| n.id).collect();
    for (def, value) in schema.series().iter().zip(report.values.iter()) {
        let name = schema.str(def.name);
        let Exposed {
            family,
            suffix,
            kind,
            scale,
        } = naming::exposed(&prefix, name, schema.str(def.unit), def.kind);
        let mut labels = base.clone();
        if def.node > 0
            && let Some(node) = nodes.get(def.node as usize - 1)
        {
            labels.push(label("node", *node));
        }
        for l in schema.labels(def.labels) {
            let key = naming::label_name(schema.str(l.key), kind);
            if labels.iter().all(|(k, _)| *k != key) {
                labels.push((key, schema.str(l.value).to_string()));
            }
        }
        let help = match schema.str(def.help) {
            "" => format!("{name} of connector {}, as it reports it", report.connector),
            help => help.to_string(),
        };
        let value = if scale == 1.0 { *value } else { value * scale };
        match out.sample(&family, kind, &help, suffix, &labels, value) {
            Ok(()) | Err(Refused::Duplicate) => {}
            Err(Refused::OtherKind { family, kind }) => tracing::debug!(
                "/metrics: series {name} of cluster {} left out: {family} is a {kind:?} family",
                report.cluster
            ),
        }
    }
}

/// The host's families that are not per cluster.
fn host(out: &mut Exposition, state: &State) {
    let name = "dbmon_collection_duration_seconds";
    for (connector, h) in state.durations.snapshot() {
        let base = vec![label("connector", &*connector)];
        for (le, count) in h.cumulative() {
            let mut labels = base.clone();
            labels.push(label("le", super::text::format_value(le)));
            own(out, name, "_bucket", &labels, count as f64);
        }
        own(out, name, "_sum", &base, h.sum);
        own(out, name, "_count", &base, h.count as f64);
    }
    let registry = state.live.registry();
    for plugin in registry.iter() {
        let labels = [
            label("connector", &*plugin.name),
            label("version", &*plugin.version),
            label("api_version", &*plugin.api_version),
            label("abi_version", &*plugin.abi_version),
        ];
        own(out, "dbmon_connector_info", "", &labels, 1.0);
    }
    let loaded = registry.iter().count() as f64;
    own(out, "dbmon_plugins_loaded", "", &[], loaded);
    own(
        out,
        "dbmon_plugins_refused",
        "",
        &[],
        state.live.refusals().len() as f64,
    );
    own(out, "dbmon_watchers", "", &[], state.watchers.open() as f64);
    for c in state.collectors.list() {
        let labels = [label("collector", c.id)];
        own(
            out,
            "dbmon_ingest_connected",
            "",
            &labels,
            f64::from(u8::from(c.connected)),
        );
        let stored = c.reports_stored as f64;
        own(
            out,
            "dbmon_ingest_reports_stored_total",
            "",
            &labels,
            stored,
        );
        let duplicates = c.duplicates as f64;
        own(
            out,
            "dbmon_ingest_duplicates_total",
            "",
            &labels,
            duplicates,
        );
    }
    let deliveries = &state.deliveries;
    for (result, n) in deliveries.by_result() {
        let labels = [label("result", result)];
        own(out, "dbmon_alert_deliveries_total", "", &labels, n as f64);
    }
    if let Some(firing) = deliveries.firing() {
        own(out, "dbmon_alerts_firing", "", &[], firing as f64);
    }
}
