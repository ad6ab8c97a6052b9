//! From the host's types to the wire's.

use crate::{
    ingest::Remote,
    plugins::Plugin,
    runner::Runner,
    store::{ClusterSlot, LabelDef, MetricKind, Report, Schema},
};
use dbmon_connector_api::{NodeStatus, Status};
use dbmon_proto as proto;
use std::{
    sync::atomic::Ordering,
    time::{Duration, SystemTime},
};

/// Wire status of a verdict.
pub fn status(s: Status) -> proto::Status {
    match s {
        Status::Healthy => proto::Status::Healthy,
        Status::Degraded => proto::Status::Degraded,
        Status::Unhealthy => proto::Status::Unhealthy,
        Status::Unreachable => proto::Status::Unreachable,
        _ => proto::Status::Unknown,
    }
}

fn node_status(s: NodeStatus) -> proto::NodeStatus {
    match s {
        NodeStatus::Live => proto::NodeStatus::Live,
        NodeStatus::Draining => proto::NodeStatus::Draining,
        NodeStatus::Decommissioning => proto::NodeStatus::Decommissioning,
        NodeStatus::Decommissioned => proto::NodeStatus::Decommissioned,
        NodeStatus::Dead => proto::NodeStatus::Dead,
        NodeStatus::Initializing => proto::NodeStatus::Initializing,
        NodeStatus::Unavailable => proto::NodeStatus::Unavailable,
        _ => proto::NodeStatus::Unknown,
    }
}

/// Wire time.
pub fn timestamp(t: SystemTime) -> prost_types::Timestamp {
    t.into()
}

/// Wire duration.
pub fn duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration::try_from(d).unwrap_or_default()
}

/// Wire kind of a metric.
pub fn metric_kind(k: MetricKind) -> proto::MetricKind {
    match k {
        MetricKind::Gauge => proto::MetricKind::Gauge,
        MetricKind::Counter => proto::MetricKind::Counter,
        MetricKind::Histogram => proto::MetricKind::Histogram,
        MetricKind::Summary => proto::MetricKind::Summary,
        _ => proto::MetricKind::Unspecified,
    }
}

fn labels(schema: &Schema, labels: &[LabelDef]) -> Vec<proto::Label> {
    labels
        .iter()
        .map(|l| proto::Label {
            key: schema.str(l.key).to_string(),
            value: schema.str(l.value).to_string(),
        })
        .collect()
}

/// A report on the wire: cluster metrics in `metrics`, node metrics under their node.
pub fn report(r: &Report) -> proto::Report {
    let schema = &*r.schema;
    let mut nodes: Vec<proto::Node> = schema
        .nodes()
        .zip(r.node_status.iter())
        .map(|(n, s)| proto::Node {
            id: n.id.to_string(),
            address: n.address.to_string(),
            status: node_status(*s) as i32,
            metrics: Vec::new(),
            labels: labels(schema, n.labels),
        })
        .collect();
    let mut metrics = Vec::with_capacity(schema.series().len());
    for (series, value) in schema.series().iter().zip(r.values.iter()) {
        let metric = proto::Metric {
            name: schema.str(series.name).to_string(),
            value: *value,
            unit: schema.str(series.unit).to_string(),
            labels: labels(schema, schema.labels(series.labels)),
            kind: metric_kind(series.kind) as i32,
            help: schema.str(series.help).to_string(),
        };
        match series.node {
            0 => metrics.push(metric),
            n => nodes[n as usize - 1].metrics.push(metric),
        }
    }
    proto::Report {
        cluster_id: r.cluster.to_string(),
        connector: r.connector.to_string(),
        sequence: r.sequence,
        collected_at: Some(timestamp(r.collected_at)),
        duration: Some(duration(r.duration)),
        status: status(r.status) as i32,
        reasons: r.reasons.clone(),
        metrics,
        nodes,
        error: r.error.clone(),
        consecutive_failures: r.consecutive_failures,
        last_success: r.last_success.map(timestamp),
        labels: labels(schema, schema.report_labels()),
        collector: r
            .origin
            .as_ref()
            .map_or(String::new(), |o| o.collector.to_string()),
        collector_sequence: r.origin.as_ref().map_or(0, |o| o.sequence),
        rules: r
            .fired
            .iter()
            .map(|f| proto::FiredRule {
                rule: f.rule.to_string(),
                status: status(f.status) as i32,
                reason: f.reason.clone(),
                places: f.places,
            })
            .collect(),
    }
}

/// A cluster on the wire: `runner` when this host collects it, `remote` when a collector does.
pub fn cluster(
    slot: &ClusterSlot,
    runner: Option<&Runner>,
    remote: Option<&Remote>,
) -> proto::Cluster {
    let latest = slot.latest();
    let info = &slot.info;
    let stats = &slot.stats;
    let age = latest
        .as_ref()
        .map(|r| r.collected_at.elapsed().unwrap_or_default());
    let stale = age.is_some_and(|age| age > info.interval * 3 + info.timeout);
    // A cluster collected elsewhere whose collector pushes to another server (a shared
    // store): its reports say who made them.
    let made_by = latest
        .as_ref()
        .and_then(|r| r.origin.as_ref())
        .map(|o| &o.collector);
    let age_text = || humantime::format_duration(whole_seconds(age.unwrap_or_default()));
    let stale_reason = match (stale, remote, made_by) {
        (false, _, _) => String::new(),
        (true, Some(remote), _) => remote_stale_reason(remote, age.unwrap_or_default()),
        (true, None, Some(collector)) if runner.is_none() => format!(
            "no report for {}: its collector '{collector}' pushes nothing of it (it is not \
             connected to this server)",
            age_text()
        ),
        (true, _, _) => format!("no report for {}: its agent is stuck", age_text()),
    };
    let isolation = match (runner, remote) {
        (Some(runner), _) => runner.isolation().to_string(),
        (None, Some(remote)) => remote.isolation.clone(),
        (None, None) => String::new(),
    };
    let worker_restarts = match (runner, remote) {
        (Some(runner), _) => runner.restarts(),
        (None, Some(remote)) => remote.stats.worker_restarts,
        (None, None) => 0,
    };
    proto::Cluster {
        id: info.id.to_string(),
        connector: info.connector.to_string(),
        status: latest
            .as_ref()
            .map_or(proto::Status::Unknown, |r| status(r.status)) as i32,
        last_report_at: latest.as_ref().map(|r| timestamp(r.collected_at)),
        endpoints: info.endpoints.clone(),
        interval: Some(duration(info.interval)),
        timeout: Some(duration(info.timeout)),
        reports_stored: slot.stored() as u64,
        consecutive_failures: latest.as_ref().map_or(0, |r| r.consecutive_failures),
        stale,
        reasons: latest
            .as_ref()
            .map(|r| r.reasons.clone())
            .unwrap_or_default(),
        collections: stats.collections.load(Ordering::Relaxed),
        failures: stats.failures.load(Ordering::Relaxed),
        timeouts: stats.timeouts.load(Ordering::Relaxed),
        panics: stats.panics.load(Ordering::Relaxed),
        isolation,
        worker_restarts,
        collector: match (remote, made_by) {
            (Some(remote), _) => remote.collector.to_string(),
            (None, Some(collector)) if runner.is_none() => collector.to_string(),
            _ => String::new(),
        },
        last_push: remote.and_then(|r| r.last_push).map(timestamp),
        stale_reason,
        store_note: slot.store_note().unwrap_or_default(),
    }
}

/// Why a remote cluster has no recent report: its collector is away, or it is connected and
/// pushes nothing of it.
fn remote_stale_reason(remote: &Remote, age: Duration) -> String {
    let ago =
        |t: SystemTime| humantime::format_duration(whole_seconds(t.elapsed().unwrap_or_default()));
    let age = humantime::format_duration(whole_seconds(age));
    match (remote.connected, remote.disconnected_at) {
        (false, Some(at)) => format!(
            "no report for {age}: collector '{}' disconnected {} ago",
            remote.collector,
            ago(at)
        ),
        _ => format!(
            "no report for {age}: collector '{}' is connected but pushes no report of it",
            remote.collector
        ),
    }
}

fn whole_seconds(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}

/// A connector on the wire.
pub fn connector(p: &Plugin) -> proto::Connector {
    proto::Connector {
        name: p.name.clone(),
        version: p.version.clone(),
        api_version: p.api_version.clone(),
        abi_version: p.abi_version.clone(),
        path: p.path.display().to_string(),
        description: p.description.clone(),
        sha256: p.sha256.clone(),
        commands: p
            .commands
            .iter()
            .map(|(name, description)| proto::CommandInfo {
                name: name.clone(),
                description: description.clone(),
            })
            .collect(),
    }
}
