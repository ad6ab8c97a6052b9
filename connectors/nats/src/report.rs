//! The report's figures: cluster metrics, the JetStream streams and consumers, one node per
//! endpoint. The verdict is [`crate::verdict`]'s.

use crate::api::go_duration_ms;
use crate::fetch::Probe;
use crate::verdict::route_peers;
use crate::view::{NodeView, View};
use dbmon_connector_api::{NodeRef, NodeStatus, Report};
use std::time::SystemTime;

/// Writes the figures of `view` into `report`.
pub fn write(report: &mut Report, view: &View) {
    labels(report, view);
    let answering: Vec<&NodeView> = view.answering().collect();
    report.metric("nodes", view.nodes.len() as f64).gauge();
    report.metric("nodes_up", answering.len() as f64).gauge();
    let connections: u64 = answering.iter().map(|n| connections(n.probe)).sum();
    report.metric("connections", connections as f64).gauge();
    let slow: u64 = answering
        .iter()
        .filter_map(|n| n.probe.varz())
        .map(|v| v.slow_consumers)
        .sum();
    report.metric("slow_consumers", slow as f64).counter();
    jetstream(report, view);
    for node in &view.nodes {
        write_node(report, node);
    }
}

/// The cluster's name and version (the first answering server's).
fn labels(report: &mut Report, view: &View) {
    if let Some(varz) = view.answering().find_map(|n| n.probe.varz()) {
        report.label("version", &varz.version);
        if !varz.cluster.name.is_empty() {
            report.label("cluster", &varz.cluster.name);
        }
    }
}

/// Client connections: `/connz`'s count, else `/varz`'s.
fn connections(probe: &Probe) -> u64 {
    match (&probe.connz, probe.varz()) {
        (Ok(connz), _) => connz.num_connections,
        (Err(_), Some(varz)) => varz.connections,
        (Err(_), None) => 0,
    }
}

/// Streams and consumers once each, and whether the meta group has a leader.
fn jetstream(report: &mut Report, view: &View) {
    let running: Vec<&crate::api::Jsz> = view
        .answering()
        .filter_map(|n| n.probe.jsz())
        .filter(|j| !j.disabled)
        .collect();
    if running.is_empty() {
        return;
    }
    let clustered: Vec<&str> = running
        .iter()
        .filter_map(|j| Some(j.meta_cluster.as_ref()?.leader.as_str()))
        .collect();
    if !clustered.is_empty() {
        let has = clustered.iter().any(|l| !l.is_empty());
        report
            .metric("has_meta_leader", if has { 1.0 } else { 0.0 })
            .gauge();
    }
    report.metric("streams", view.streams.len() as f64).gauge();
    report
        .metric("consumers", view.consumers.len() as f64)
        .gauge();
    for ((account, stream), s) in &view.streams {
        let series = [
            ("stream_messages", s.state.messages, None),
            ("stream_bytes", s.state.bytes, Some("bytes")),
            ("stream_consumers", s.state.consumer_count, None),
        ];
        for (name, value, unit) in series {
            let mut metric = report.metric(name, value as f64);
            metric = metric
                .gauge()
                .label("account", account)
                .label("stream", stream);
            if let Some(unit) = unit {
                metric.unit(unit);
            }
        }
    }
    for ((account, stream, consumer), c) in &view.consumers {
        let series = [
            ("consumer_num_pending", c.detail.num_pending),
            ("consumer_num_ack_pending", c.detail.num_ack_pending),
            ("consumer_num_redelivered", c.detail.num_redelivered),
            ("consumer_num_waiting", c.detail.num_waiting),
        ];
        for (name, value) in series {
            report
                .metric(name, value as f64)
                .gauge()
                .label("account", account)
                .label("stream", stream)
                .label("consumer", consumer);
        }
    }
}

fn write_node(report: &mut Report, node: &NodeView) {
    let probe = node.probe;
    let status = match (&probe.varz, &probe.healthz) {
        (Err(_), _) => NodeStatus::Dead,
        (Ok(_), Err(_)) => NodeStatus::Unavailable,
        (Ok(_), Ok(())) => NodeStatus::Live,
    };
    let handle = report.node(&node.id, status);
    report.node_address(handle, &probe.url);
    let up = probe.varz.is_ok();
    report
        .node_metric(handle, "up", if up { 1.0 } else { 0.0 })
        .gauge();
    let Ok((varz, took)) = &probe.varz else {
        return;
    };
    report.node_label(handle, "server_id", &varz.server_id);
    report.node_label(handle, "version", &varz.version);
    let healthy = if probe.healthz.is_ok() { 1.0 } else { 0.0 };
    report.node_metric(handle, "healthy", healthy).gauge();
    report
        .node_metric(handle, "round_trip_ms", took.as_secs_f64() * 1e3)
        .gauge()
        .unit("ms");
    if let Some(seconds) = uptime_seconds(&varz.start, &varz.now) {
        report
            .node_metric(handle, "uptime_seconds", seconds)
            .gauge()
            .unit("seconds");
    }
    report
        .node_metric(handle, "memory_bytes", varz.mem as f64)
        .gauge()
        .unit("bytes");
    report
        .node_metric(handle, "cpu_percent", varz.cpu)
        .gauge()
        .unit("percent");
    report
        .node_metric(handle, "connections", connections(probe) as f64)
        .gauge();
    report
        .node_metric(handle, "total_connections", varz.total_connections as f64)
        .counter();
    report
        .node_metric(handle, "subscriptions", varz.subscriptions as f64)
        .gauge();
    report
        .node_metric(handle, "slow_consumers", varz.slow_consumers as f64)
        .counter();
    report
        .node_metric(handle, "in_msgs", varz.in_msgs as f64)
        .counter();
    report
        .node_metric(handle, "out_msgs", varz.out_msgs as f64)
        .counter();
    report
        .node_metric(handle, "in_bytes", varz.in_bytes as f64)
        .counter()
        .unit("bytes");
    report
        .node_metric(handle, "out_bytes", varz.out_bytes as f64)
        .counter()
        .unit("bytes");
    report
        .node_metric(handle, "leafnodes", varz.leafnodes as f64)
        .gauge();
    if let Ok(connz) = &probe.connz {
        let pending = connz.connections.first().map_or(0, |c| c.pending_bytes);
        report
            .node_metric(handle, "client_pending_bytes_max", pending as f64)
            .gauge()
            .unit("bytes");
    }
    routes(report, handle, node);
    jetstream_node(report, handle, node);
}

fn routes(report: &mut Report, handle: NodeRef, node: &NodeView) {
    let Some(varz) = node.probe.varz() else {
        return;
    };
    if !varz.cluster.name.is_empty() {
        report.node_label(handle, "cluster", &varz.cluster.name);
    }
    report
        .node_metric(handle, "routes", varz.routes as f64)
        .gauge();
    report
        .node_metric(handle, "routes_configured", varz.cluster.urls.len() as f64)
        .gauge();
    let Ok(routez) = &node.probe.routez else {
        return;
    };
    if let Some(peers) = route_peers(node) {
        report
            .node_metric(handle, "route_peers", peers.len() as f64)
            .gauge();
    }
    let slowest = routez
        .routes
        .iter()
        .filter_map(|r| go_duration_ms(&r.rtt))
        .reduce(f64::max);
    if let Some(ms) = slowest {
        report
            .node_metric(handle, "route_rtt_max_ms", ms)
            .gauge()
            .unit("ms");
    }
    let pending: u64 = routez.routes.iter().map(|r| r.pending_size).sum();
    report
        .node_metric(handle, "route_pending_bytes", pending as f64)
        .gauge()
        .unit("bytes");
}

fn jetstream_node(report: &mut Report, handle: NodeRef, node: &NodeView) {
    let Some(jsz) = node.probe.jsz() else {
        return;
    };
    let enabled = if jsz.disabled { 0.0 } else { 1.0 };
    report
        .node_metric(handle, "jetstream_enabled", enabled)
        .gauge();
    if jsz.disabled {
        return;
    }
    let gauges = [
        ("jetstream_memory_bytes", jsz.memory, Some("bytes")),
        ("jetstream_storage_bytes", jsz.storage, Some("bytes")),
        ("jetstream_streams", jsz.streams, None),
        ("jetstream_consumers", jsz.consumers, None),
        ("jetstream_messages", jsz.messages, None),
    ];
    for (name, value, unit) in gauges {
        let metric = report.node_metric(handle, name, value as f64).gauge();
        if let Some(unit) = unit {
            metric.unit(unit);
        }
    }
    report
        .node_metric(handle, "jetstream_api_requests", jsz.api.total as f64)
        .counter();
    report
        .node_metric(handle, "jetstream_api_errors", jsz.api.errors as f64)
        .counter();
    if let (Some(meta), Some(varz)) = (&jsz.meta_cluster, node.probe.varz()) {
        let leads = !meta.leader.is_empty() && meta.leader == varz.server_name;
        report
            .node_metric(handle, "is_meta_leader", if leads { 1.0 } else { 0.0 })
            .gauge();
        report.node_label(
            handle,
            "role",
            if leads {
                "meta_leader"
            } else {
                "meta_follower"
            },
        );
    }
}

/// `now - start` of `/varz`, both the server's clock.
fn uptime_seconds(start: &str, now: &str) -> Option<f64> {
    let start: SystemTime = humantime::parse_rfc3339_weak(start).ok()?;
    let now: SystemTime = humantime::parse_rfc3339_weak(now).ok()?;
    Some(now.duration_since(start).ok()?.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_is_now_minus_start() {
        let up = uptime_seconds(
            "2026-12-02T02:50:29.68098833Z",
            "2026-12-02T02:51:32.18098833Z",
        );
        assert!((up.unwrap() - 62.5).abs() < 1e-6, "{up:?}");
        assert_eq!(uptime_seconds("yesterday", "2026-12-02T02:51:32Z"), None);
    }
}
