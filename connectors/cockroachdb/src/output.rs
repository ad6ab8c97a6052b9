//! Writes the figures into the report: labels, cluster metrics, then each node with its own.

use crate::cluster::{Cluster, NodeView};
use crate::figures::{Figures, memory_percent, used_percent};
use dbmon_connector_api::Report;

/// The cluster's version label: one version, or every version present during an upgrade.
pub fn version(cluster: &Cluster) -> Option<String> {
    let mut versions: Vec<&str> = cluster
        .nodes
        .iter()
        .filter_map(|n| n.version.as_deref())
        .collect();
    versions.sort_unstable();
    versions.dedup();
    (!versions.is_empty()).then(|| versions.join(", "))
}

/// Fills `report` with the cluster's labels, metrics and nodes.
pub fn write(report: &mut Report, cluster: &Cluster, figures: &Figures) {
    if let Some(version) = version(cluster) {
        report.label("version", &version);
    }
    let f = figures;
    let counts = [
        ("nodes_total", f.nodes_total),
        ("nodes_live", f.nodes_live),
        ("nodes_dead", f.nodes_dead),
        ("nodes_unavailable", f.nodes_unavailable),
        ("nodes_draining", f.nodes_draining),
        ("nodes_decommissioning", f.nodes_decommissioning),
        ("nodes_decommissioned", f.nodes_decommissioned),
        ("nodes_not_ready", f.nodes_not_ready),
        ("ranges", f.ranges),
        ("ranges_unavailable", f.ranges_unavailable),
        ("ranges_underreplicated", f.ranges_underreplicated),
        ("ranges_overreplicated", f.ranges_overreplicated),
        ("replicas", f.replicas),
    ];
    for (name, value) in counts {
        report.metric(name, value).gauge();
    }
    report
        .metric("capacity_bytes", f.capacity)
        .gauge()
        .unit("bytes");
    report
        .metric("capacity_available_bytes", f.capacity_available)
        .gauge()
        .unit("bytes");
    report
        .metric("capacity_used_bytes", f.capacity_used)
        .gauge()
        .unit("bytes");
    if let Some(percent) = f.capacity_used_percent() {
        report
            .metric("capacity_used_percent", percent)
            .gauge()
            .unit("percent");
    }
    report
        .metric("memory_rss_bytes", f.memory_rss)
        .gauge()
        .unit("bytes");
    if let Some(total) = f.memory_total {
        report
            .metric("memory_total_bytes", total)
            .gauge()
            .unit("bytes");
    }
    if let Some(percent) = f.memory_used_percent {
        report
            .metric("memory_used_percent", percent)
            .gauge()
            .unit("percent");
    }
    if let Some(qps) = f.sql_qps {
        report.metric("sql_qps", qps).gauge().unit("queries/s");
    }
    if let Some(total) = f.sql_queries_total {
        report.metric("sql_queries_total", total).counter();
    }
    if let Some(p99) = f.heartbeat_p99_ms {
        report
            .metric("heartbeat_latency_p99_ms", p99)
            .gauge()
            .unit("ms");
    }
    if let Some((_, mean, stddev)) = f.clock_offset {
        report
            .metric("clock_offset_mean_ns", mean)
            .gauge()
            .unit("ns");
        report
            .metric("clock_offset_stddev_ns", stddev)
            .gauge()
            .unit("ns");
    }
    if let Some(ms) = f.round_trip_ms {
        report.metric("round_trip_ms", ms).gauge().unit("ms");
    }
    if let Some(pending) = f.queue_pending {
        report.metric("queue_pending_total", pending).gauge();
    }
    for node in &cluster.nodes {
        write_node(report, node);
    }
}

fn write_node(report: &mut Report, node: &NodeView) {
    let r = report.node(&node.id, node.status);
    report.node_address(r, &node.address);
    if let Some(version) = &node.version {
        report.node_label(r, "version", version);
    }
    if let Some(rtt) = node.health.as_ref().and_then(|h| h.round_trip_ms()) {
        report
            .node_metric(r, "round_trip_ms", rtt)
            .gauge()
            .unit("ms");
    }
    if let Some(total) = node.total_memory {
        report
            .node_metric(r, "memory_total_bytes", total)
            .gauge()
            .unit("bytes");
    }
    let Some(v) = &node.vars else {
        return;
    };
    let counts = [
        ("ranges", v.ranges),
        ("ranges_unavailable", v.ranges_unavailable),
        ("ranges_underreplicated", v.ranges_underreplicated),
        ("ranges_overreplicated", v.ranges_overreplicated),
        ("replicas", v.replicas),
    ];
    for (name, value) in counts {
        report.node_metric(r, name, value).gauge();
    }
    report
        .node_metric(r, "capacity_bytes", v.capacity)
        .gauge()
        .unit("bytes");
    report
        .node_metric(r, "capacity_available_bytes", v.capacity_available)
        .gauge()
        .unit("bytes");
    report
        .node_metric(r, "capacity_used_bytes", v.capacity_used)
        .gauge()
        .unit("bytes");
    if let Some(percent) = used_percent(v.capacity_used, v.capacity_available) {
        report
            .node_metric(r, "capacity_used_percent", percent)
            .gauge()
            .unit("percent");
    }
    if let Some(rss) = v.rss {
        report
            .node_metric(r, "memory_rss_bytes", rss)
            .gauge()
            .unit("bytes");
        if let Some(percent) = node.total_memory.and_then(|t| memory_percent(rss, t)) {
            report
                .node_metric(r, "memory_used_percent", percent)
                .gauge()
                .unit("percent");
        }
    }
    if let Some(qps) = node.rates.sql_qps {
        report
            .node_metric(r, "sql_qps", qps)
            .gauge()
            .unit("queries/s");
    }
    if let Some(total) = v.sql_queries {
        report.node_metric(r, "sql_queries_total", total).counter();
    }
    if let Some(p99) = node.rates.heartbeat_p99_ns {
        report
            .node_metric(r, "heartbeat_latency_p99_ms", p99 / 1e6)
            .gauge()
            .unit("ms");
    }
    if let Some(mean) = v.clock_offset_mean_ns {
        report
            .node_metric(r, "clock_offset_mean_ns", mean)
            .gauge()
            .unit("ns");
    }
    if let Some(stddev) = v.clock_offset_stddev_ns {
        report
            .node_metric(r, "clock_offset_stddev_ns", stddev)
            .gauge()
            .unit("ns");
    }
    if let Some(pending) = v.queue_pending {
        report
            .node_metric(r, "queue_pending_total", pending)
            .gauge();
    }
    if let Some(live) = v.live_nodes {
        report.node_metric(r, "live_nodes_seen", live).gauge();
    }
    if let Some(uptime) = v.uptime_seconds {
        report
            .node_metric(r, "uptime_seconds", uptime)
            .gauge()
            .unit("seconds");
    }
}
