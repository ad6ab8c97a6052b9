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
    format!("{}{}", m.name, label_set(&m.labels))
}

/// `{k="v",...}`, values escaped as in the Prometheus text format.
fn label_set(labels: &[proto::Label]) -> String {
    let pairs: Vec<String> = labels
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
    format!("{{{}}}", pairs.join(","))
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

/// Unit by metric name, for the metrics that have one (as `units` has always been keyed).
fn units(list: &[proto::Metric]) -> Value {
    Value::Object(
        list.iter()
            .filter(|m| !m.unit.is_empty())
            .map(|m| (m.name.clone(), Value::String(m.unit.clone())))
            .collect(),
    )
}

/// Lowercase kind name; `None` for a metric whose connector does not say.
pub fn kind(code: i32) -> Option<&'static str> {
    match proto::MetricKind::try_from(code).unwrap_or(proto::MetricKind::Unspecified) {
        proto::MetricKind::Unspecified => None,
        proto::MetricKind::Gauge => Some("gauge"),
        proto::MetricKind::Counter => Some("counter"),
        proto::MetricKind::Histogram => Some("histogram"),
        proto::MetricKind::Summary => Some("summary"),
    }
}

/// Kind by metric name (keyed as `units` is), for the metrics whose kind is known.
fn kinds(list: &[proto::Metric]) -> Value {
    Value::Object(
        list.iter()
            .filter_map(|m| Some((m.name.clone(), Value::String(kind(m.kind)?.into()))))
            .collect(),
    )
}

/// Help by metric name, for the metrics that have one.
fn help(list: &[proto::Metric]) -> Value {
    Value::Object(
        list.iter()
            .filter(|m| !m.help.is_empty())
            .map(|m| (m.name.clone(), Value::String(m.help.clone())))
            .collect(),
    )
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
                "units": units(&n.metrics),
                "kinds": kinds(&n.metrics),
                "help": help(&n.metrics),
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
        "units": units(&r.metrics),
        "kinds": kinds(&r.metrics),
        "help": help(&r.metrics),
        "nodes": nodes,
        "labels": labels(&r.labels),
        "error": r.error,
        "consecutive_failures": r.consecutive_failures,
        "last_success": time(r.last_success.as_ref()),
        "collector": r.collector,
        "collector_sequence": r.collector_sequence,
        "rules": r.rules.iter().map(|f| json!({
            "rule": f.rule,
            "status": status(f.status),
            "reason": f.reason,
            "places": f.places,
        })).collect::<Vec<_>>(),
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
        "isolation": c.isolation,
        "worker_restarts": c.worker_restarts,
        "collector": c.collector,
        "last_push": time(c.last_push.as_ref()),
        "stale_reason": c.stale_reason,
        "store_note": c.store_note,
    })
}

/// A collector as one JSON object.
pub fn collector_json(c: &proto::Collector) -> Value {
    json!({
        "id": c.id,
        "connected": c.connected,
        "address": c.address,
        "connected_since": time(c.connected_since.as_ref()),
        "disconnected_at": time(c.disconnected_at.as_ref()),
        "last_push": time(c.last_push.as_ref()),
        "clusters": c.clusters,
        "buffered_reports": c.buffered_reports,
        "dropped_reports": c.dropped_reports,
        "reports_stored": c.reports_stored,
        "duplicates": c.duplicates,
        "identity": c.identity,
        "coordinated": c.coordinated,
        "weight": c.weight,
        "members": c.members,
        "assigned": c.assigned,
        "moves_last_hour": c.moves_last_hour,
        "overlaps": c.overlaps,
        "why_nothing": c.why_nothing,
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
        "abi_version": c.abi_version,
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

/// The labels, metrics and nodes of a report, indented under its row. Labels sit in the last
/// column (the unit's), which is not padded, so long ones widen nothing. When a metric of the
/// report has a known kind, a column before the unit's shows each metric's kind.
pub fn report_details(r: &proto::Report) -> String {
    let with_kinds = r
        .metrics
        .iter()
        .chain(r.nodes.iter().flat_map(|n| &n.metrics))
        .any(|m| kind(m.kind).is_some());
    // The kind column, when there is one, before the last.
    let row = |mut cells: Vec<String>| {
        if with_kinds {
            cells.insert(2, String::new());
        }
        cells
    };
    let mut rows: Vec<Vec<String>> = Vec::new();
    for fired in &r.rules {
        rows.push(row(vec![
            format!("  rule {}", fired.rule),
            status(fired.status).to_string(),
            fired.reason.clone(),
        ]));
    }
    if !r.labels.is_empty() {
        rows.push(row(vec![
            "  labels".into(),
            String::new(),
            label_set(&r.labels),
        ]));
    }
    rows.extend(r.metrics.iter().map(|m| metric_row("  ", m, with_kinds)));
    for n in &r.nodes {
        let labels = if n.labels.is_empty() {
            String::new()
        } else {
            label_set(&n.labels)
        };
        rows.push(row(vec![
            format!("  node {} {}", n.id, n.address),
            node_status(n.status),
            labels,
        ]));
        rows.extend(n.metrics.iter().map(|m| metric_row("    ", m, with_kinds)));
    }
    table(&rows)
}

fn metric_row(indent: &str, m: &proto::Metric, with_kind: bool) -> Vec<String> {
    let mut cells = vec![format!("{indent}{}", series_key(m)), format_value(m.value)];
    if with_kind {
        cells.push(kind(m.kind).unwrap_or("-").into());
    }
    cells.push(m.unit.clone());
    cells
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

#[cfg(test)]
mod tests {
    use super::*;

    fn label(key: &str, value: &str) -> proto::Label {
        proto::Label {
            key: key.into(),
            value: value.into(),
        }
    }

    fn metric(name: &str, value: f64, unit: &str, labels: Vec<proto::Label>) -> proto::Metric {
        proto::Metric {
            name: name.into(),
            value,
            unit: unit.into(),
            labels,
            ..proto::Metric::default()
        }
    }

    fn report() -> proto::Report {
        proto::Report {
            cluster_id: "cache".into(),
            metrics: vec![metric("memory_used_bytes", 1024.0, "bytes", vec![])],
            labels: vec![label("mode", "standalone"), label("version", "7.0.15")],
            nodes: vec![proto::Node {
                id: "db1".into(),
                address: "10.0.0.1:6379".into(),
                status: proto::NodeStatus::Live as i32,
                metrics: vec![
                    metric("round_trip_ms", 0.25, "ms", vec![]),
                    metric("lag_bytes", 3.0, "bytes", vec![label("replica", "db2")]),
                ],
                labels: vec![label("role", "master")],
            }],
            ..proto::Report::default()
        }
    }

    #[test]
    fn details_show_report_and_node_labels() {
        let text = report_details(&report());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                r#"  labels                             {mode="standalone",version="7.0.15"}"#,
                "  memory_used_bytes           1024   bytes",
                r#"  node db1 10.0.0.1:6379      live   {role="master"}"#,
                "    round_trip_ms             0.250  ms",
                r#"    lag_bytes{replica="db2"}  3      bytes"#,
            ],
            "{text}"
        );
    }

    #[test]
    fn json_nodes_carry_their_units_beside_the_old_keys() {
        let json = report_json(&report());
        assert_eq!(json["units"], json!({"memory_used_bytes": "bytes"}));
        assert_eq!(json["labels"]["version"], "7.0.15");
        let node = &json["nodes"][0];
        assert_eq!(
            node["units"],
            json!({"round_trip_ms": "ms", "lag_bytes": "bytes"})
        );
        assert_eq!(node["metrics"][r#"lag_bytes{replica="db2"}"#], 3.0);
        assert_eq!(node["labels"], json!({"role": "master"}));
        let mut keys: Vec<&str> = node
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "address", "help", "id", "kinds", "labels", "metrics", "status", "units"
            ]
        );
        assert_eq!(node["kinds"], json!({}), "unknown kinds are left out");
        assert_eq!(json["help"], json!({}));
    }

    fn with_kinds() -> proto::Report {
        let mut r = report();
        r.metrics[0].kind = proto::MetricKind::Gauge as i32;
        r.metrics[0].help = "Memory in use.".into();
        r.nodes[0].metrics[1].kind = proto::MetricKind::Counter as i32;
        r
    }

    #[test]
    fn json_has_kinds_and_help_beside_the_old_keys() {
        let json = report_json(&with_kinds());
        assert_eq!(json["kinds"], json!({"memory_used_bytes": "gauge"}));
        assert_eq!(json["help"], json!({"memory_used_bytes": "Memory in use."}));
        assert_eq!(json["metrics"], json!({"memory_used_bytes": 1024.0}));
        assert_eq!(json["units"], json!({"memory_used_bytes": "bytes"}));
        let node = &json["nodes"][0];
        assert_eq!(node["kinds"], json!({"lag_bytes": "counter"}));
        assert_eq!(node["help"], json!({}));
    }

    #[test]
    fn details_show_kinds_in_a_column_when_some_are_known() {
        let text = report_details(&with_kinds());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                r#"  labels                                      {mode="standalone",version="7.0.15"}"#,
                "  memory_used_bytes           1024   gauge    bytes",
                r#"  node db1 10.0.0.1:6379      live            {role="master"}"#,
                "    round_trip_ms             0.250  -        ms",
                r#"    lag_bytes{replica="db2"}  3      counter  bytes"#,
            ],
            "{text}"
        );
    }
}
