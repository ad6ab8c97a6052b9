//! How the client prints what the server sends: aligned tables for people, one JSON object per
//! line for programs.

use dbmon_proto as proto;
use serde_json::{Map, Value, json};
use std::time::SystemTime;

/// Lowercase status name.
pub fn status(code: i32) -> &'static str {
    match proto::Status::try_from(code).unwrap_or(proto::Status::Unknown) {
        proto::Status::Healthy => "healthy",
        proto::Status::Degraded => "degraded",
        proto::Status::Unhealthy => "unhealthy",
        proto::Status::Unreachable => "unreachable",
        _ => "unknown",
    }
}

fn node_status(code: i32) -> String {
    let s = proto::NodeStatus::try_from(code).unwrap_or(proto::NodeStatus::Unknown);
    s.as_str_name()
        .trim_start_matches("NODE_STATUS_")
        .to_lowercase()
}

/// RFC 3339 with milliseconds, UTC.
pub fn time(t: Option<&prost_types::Timestamp>) -> Option<String> {
    let t = SystemTime::try_from(*t?).ok()?;
    Some(humantime::format_rfc3339_millis(t).to_string())
}

fn millis(d: Option<&prost_types::Duration>) -> f64 {
    d.map_or(0.0, |d| d.seconds as f64 * 1e3 + d.nanos as f64 / 1e6)
}

/// `name` or `name{k="v",...}`: unique per series within a report.
pub fn series_key(m: &proto::Metric) -> String {
    if m.labels.is_empty() {
        return m.name.clone();
    }
    let labels: Vec<String> = m
        .labels
        .iter()
        .map(|l| {
            format!(
                "{}=\"{}\"",
                l.key,
                l.value
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n")
            )
        })
        .collect();
    format!("{}{{{}}}", m.name, labels.join(","))
}

fn number(v: f64) -> Value {
    // JSON has no NaN or infinities; they print as strings so nothing is lost.
    serde_json::Number::from_f64(v).map_or_else(|| Value::String(v.to_string()), Value::Number)
}

fn metrics(list: &[proto::Metric]) -> Value {
    let map: Map<String, Value> = list
        .iter()
        .map(|m| (series_key(m), number(m.value)))
        .collect();
    Value::Object(map)
}

fn labels(list: &[proto::Label]) -> Value {
    Value::Object(
        list.iter()
            .map(|l| (l.key.clone(), Value::String(l.value.clone())))
            .collect(),
    )
}

/// A report as one JSON object.
pub fn report_json(r: &proto::Report) -> Value {
    let nodes: Vec<Value> = r
        .nodes
        .iter()
        .map(|n| {
            json!({
                "id": n.id,
                "address": n.address,
                "status": node_status(n.status),
                "metrics": metrics(&n.metrics),
                "labels": labels(&n.labels),
            })
        })
        .collect();
    json!({
        "cluster": r.cluster_id,
        "connector": r.connector,
        "sequence": r.sequence,
        "collected_at": time(r.collected_at.as_ref()),
        "duration_ms": millis(r.duration.as_ref()),
        "status": status(r.status),
        "reasons": r.reasons,
        "metrics": metrics(&r.metrics),
        "units": Value::Object(r.metrics.iter().filter(|m| !m.unit.is_empty())
            .map(|m| (m.name.clone(), Value::String(m.unit.clone()))).collect()),
        "nodes": nodes,
        "labels": labels(&r.labels),
        "error": r.error,
        "consecutive_failures": r.consecutive_failures,
        "last_success": time(r.last_success.as_ref()),
    })
}

/// A cluster as one JSON object.
pub fn cluster_json(c: &proto::Cluster) -> Value {
    json!({
        "id": c.id,
        "connector": c.connector,
        "status": status(c.status),
        "last_report_at": time(c.last_report_at.as_ref()),
        "endpoints": c.endpoints,
        "interval_ms": millis(c.interval.as_ref()),
        "timeout_ms": millis(c.timeout.as_ref()),
        "reports_stored": c.reports_stored,
        "consecutive_failures": c.consecutive_failures,
        "stale": c.stale,
        "reasons": c.reasons,
        "collections": c.collections,
        "failures": c.failures,
        "timeouts": c.timeouts,
        "panics": c.panics,
    })
}

/// A connector as one JSON object.
pub fn connector_json(c: &proto::Connector) -> Value {
    let commands: Vec<Value> = c
        .commands
        .iter()
        .map(|k| json!({"name": k.name, "description": k.description}))
        .collect();
    json!({
        "name": c.name,
        "version": c.version,
        "api_version": c.api_version,
        "path": c.path,
        "description": c.description,
        "sha256": c.sha256,
        "commands": commands,
    })
}

/// One table row of a report.
pub fn report_row(r: &proto::Report) -> Vec<String> {
    let why = r.error.clone().unwrap_or_else(|| r.reasons.join("; "));
    vec![
        time(r.collected_at.as_ref()).unwrap_or_default(),
        r.cluster_id.clone(),
        r.sequence.to_string(),
        status(r.status).to_string(),
        format!("{:.1}", millis(r.duration.as_ref())),
        r.metrics.len().to_string(),
        r.nodes.len().to_string(),
        why,
    ]
}

/// Header matching [`report_row`].
pub const REPORT_HEADER: [&str; 8] = [
    "COLLECTED_AT",
    "CLUSTER",
    "SEQ",
    "STATUS",
    "MS",
    "METRICS",
    "NODES",
    "REASONS",
];

/// The metrics and nodes of a report, indented under its row.
pub fn report_details(r: &proto::Report) -> String {
    let mut rows: Vec<Vec<String>> = r
        .metrics
        .iter()
        .map(|m| {
            vec![
                format!("  {}", series_key(m)),
                format_value(m.value),
                m.unit.clone(),
            ]
        })
        .collect();
    for n in &r.nodes {
        rows.push(vec![
            format!("  node {} {}", n.id, n.address),
            node_status(n.status),
            String::new(),
        ]);
        for m in &n.metrics {
            rows.push(vec![
                format!("    {}", series_key(m)),
                format_value(m.value),
                m.unit.clone(),
            ]);
        }
    }
    table(&rows)
}

fn format_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// Aligned columns; the last column is not padded.
pub use dbmon_connector_api::text::table;
