//! The report's figures: cluster totals, the largest queues, and one node per cluster node.

use crate::api::{Node, QueuePage};
use crate::gather::Gathered;
use crate::view::{NodeView, View};
use dbmon_connector_api::Report;

/// Writes the labels, cluster metrics, queues and nodes of `view`; `alarms` is the number of
/// alarms in effect.
pub fn write(report: &mut Report, view: &View, gathered: &Gathered, alarms: usize) {
    if let Some(o) = view.asked.and_then(|p| p.answered()) {
        for (key, value) in [
            ("cluster_name", &o.cluster_name),
            ("version", &o.rabbitmq_version),
            ("erlang_version", &o.erlang_version),
        ] {
            if !value.is_empty() {
                report.label(key, value);
            }
        }
        let gauges = [
            ("connections", o.object_totals.connections),
            ("channels", o.object_totals.channels),
            ("consumers", o.object_totals.consumers),
            ("queues", o.object_totals.queues),
            ("exchanges", o.object_totals.exchanges),
            ("messages", o.queue_totals.messages),
            ("messages_ready", o.queue_totals.messages_ready),
            (
                "messages_unacknowledged",
                o.queue_totals.messages_unacknowledged,
            ),
        ];
        for (name, value) in gauges {
            if let Some(value) = value {
                report.metric(name, value).gauge();
            }
        }
        if let Some(published) = o.message_stats.publish {
            report.metric("messages_published", published).counter();
        }
        if let Some(rate) = o.message_stats.publish_details.rate {
            report
                .metric("messages_published_per_second", rate)
                .gauge()
                .unit("messages/s");
        }
    }
    if gathered.nodes.is_ok() {
        let listed = || view.nodes.iter().filter_map(|n| n.listed);
        report.metric("nodes", listed().count() as f64).gauge();
        let running = listed().filter(|n| n.running).count();
        report.metric("nodes_running", running as f64).gauge();
        let partitioned = listed().filter(|n| !n.partitions.is_empty()).count();
        report
            .metric("nodes_partitioned", partitioned as f64)
            .gauge();
    }
    if gathered.alarms.is_ok() || gathered.nodes.is_ok() {
        report.metric("alarms", alarms as f64).gauge();
    }
    if let Ok(page) = &gathered.queues {
        queues(report, page);
    }
    for node in &view.nodes {
        write_node(report, node);
    }
}

/// The queues of the page, each labelled `vhost` and `queue`, and how many were left out.
fn queues(report: &mut Report, page: &QueuePage) {
    let left_out = page.total_count.saturating_sub(page.items.len() as u64);
    report
        .metric("queues_not_reported", left_out as f64)
        .gauge();
    for q in &page.items {
        let figures = [
            ("queue_messages", q.messages),
            ("queue_messages_ready", q.messages_ready),
            ("queue_messages_unacknowledged", q.messages_unacknowledged),
            ("queue_consumers", q.consumers),
        ];
        for (name, value) in figures {
            if let Some(value) = value {
                report
                    .metric(name, value)
                    .gauge()
                    .label("vhost", &q.vhost)
                    .label("queue", &q.name);
            }
        }
    }
}

fn write_node(report: &mut Report, view: &NodeView) {
    let node = report.node(&view.id, view.status);
    if let Some(probe) = view.probe {
        report.node_address(node, &probe.url);
        if let Ok((_, took)) = &probe.overview {
            let ms = took.as_secs_f64() * 1e3;
            report
                .node_metric(node, "round_trip_ms", ms)
                .gauge()
                .unit("ms");
        }
    }
    let Some(listed) = view.listed else {
        return;
    };
    if !listed.kind.is_empty() {
        report.node_label(node, "type", &listed.kind);
    }
    let running = if listed.running { 1.0 } else { 0.0 };
    report.node_metric(node, "running", running).gauge();
    if !listed.running {
        return;
    }
    report
        .node_metric(node, "partitions", listed.partitions.len() as f64)
        .gauge();
    for (name, value) in flags(listed) {
        report.node_metric(node, name, value).gauge();
    }
    for (name, value, unit) in figures(listed) {
        let Some(value) = value else { continue };
        let metric = report.node_metric(node, name, value).gauge();
        if let Some(unit) = unit {
            metric.unit(unit);
        }
    }
}

fn flags(n: &Node) -> Vec<(&'static str, f64)> {
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    [
        ("mem_alarm", n.mem_alarm),
        ("disk_free_alarm", n.disk_free_alarm),
    ]
    .into_iter()
    .filter_map(|(name, b)| Some((name, flag(b?))))
    .collect()
}

type Figure = (&'static str, Option<f64>, Option<&'static str>);

fn figures(n: &Node) -> [Figure; 13] {
    let used_percent = match (n.mem_used, n.mem_limit) {
        (Some(used), Some(limit)) if limit > 0.0 => Some(used * 100.0 / limit),
        _ => None,
    };
    let bytes = Some("bytes");
    [
        ("mem_used_bytes", n.mem_used, bytes),
        ("mem_limit_bytes", n.mem_limit, bytes),
        ("mem_used_percent", used_percent, Some("percent")),
        ("disk_free_bytes", n.disk_free, bytes),
        ("disk_free_limit_bytes", n.disk_free_limit, bytes),
        ("fd_used", n.fd_used, None),
        ("fd_total", n.fd_total, None),
        ("sockets_used", n.sockets_used, None),
        ("sockets_total", n.sockets_total, None),
        ("proc_used", n.proc_used, None),
        ("proc_total", n.proc_total, None),
        ("run_queue", n.run_queue, None),
        (
            "uptime_seconds",
            n.uptime.map(|ms| ms / 1e3),
            Some("seconds"),
        ),
    ]
}
