//! The health rules: each problem found adds a reason naming the node or queue and the figure.
//!
//! UNHEALTHY when publishing or the cluster's integrity is at risk: an alarm (RabbitMQ then
//! blocks every publishing connection of the cluster), a network partition, half the nodes or
//! more down. DEGRADED for what needs attention while the cluster serves: one node down or not
//! answering, a queue filling with nobody consuming, a question the API did not answer.

use crate::api::{Alarm, Queue};
use crate::gather::Gathered;
use crate::options::Settings;
use crate::view::{NodeView, View};
use dbmon_connector_api::Report;

/// Adds a reason for every problem in `view` and `gathered`.
pub fn judge(report: &mut Report, view: &View, gathered: &Gathered, settings: &Settings) {
    let asked = view.asked.map_or("", |p| p.url.as_str());
    for alarm in alarms(view, gathered) {
        report.unhealthy(alarm_reason(&alarm, view));
    }
    for node in &view.nodes {
        let Some(listed) = node
            .listed
            .filter(|n| n.running && !n.partitions.is_empty())
        else {
            continue;
        };
        report.unhealthy(format!(
            "network partition: {} cannot reach {} (partitions); until it heals, the sides \
             serve apart and may lose messages when they merge",
            node.describe(),
            listed.partitions.join(", ")
        ));
    }
    let listed = view.nodes.iter().filter(|n| n.listed.is_some()).count();
    let running = view
        .nodes
        .iter()
        .filter(|n| n.running() == Some(true))
        .count();
    if listed > 1 && running * 2 <= listed {
        report.unhealthy(format!(
            "only {running} of {listed} nodes running: quorum queues need a majority of their members"
        ));
    }
    for node in &view.nodes {
        node_reason(report, node);
    }
    if let Err(e) = &gathered.nodes {
        report.degraded(format!("cannot read the nodes from {asked}: {e}"));
    }
    if let Err(e) = &gathered.alarms {
        report.degraded(format!("cannot read the alarms from {asked}: {e}"));
    }
    match &gathered.queues {
        Ok(page) => {
            for queue in &page.items {
                queue_reason(report, queue, settings.ready_without_consumers_degraded);
            }
        }
        Err(e) => report.degraded(format!("cannot read the queues from {asked}: {e}")),
    }
    strangers(report, view, gathered);
}

/// Every alarm in effect, once each: the health check's list, which is live; without it (an
/// older RabbitMQ, or the check failed), the nodes' flags, as of their last statistics.
pub fn alarms(view: &View, gathered: &Gathered) -> Vec<Alarm> {
    if let Ok(Some(check)) = &gathered.alarms {
        return check.alarms.clone();
    }
    let mut alarms: Vec<Alarm> = Vec::new();
    for node in view.nodes.iter().filter_map(|n| n.listed) {
        for (on, resource) in [
            (node.mem_alarm, "memory"),
            (node.disk_free_alarm, "disk space"),
        ] {
            let alarm = Alarm {
                node: node.name.clone(),
                resource: resource.into(),
            };
            if on == Some(true) && !alarms.contains(&alarm) {
                alarms.push(alarm);
            }
        }
    }
    alarms
}

fn alarm_reason(alarm: &Alarm, view: &View) -> String {
    let node = view.node(&alarm.node);
    let listed = node.and_then(|n| n.listed);
    let who = node.map_or_else(|| format!("node {}", alarm.node), NodeView::describe);
    let blocks = "RabbitMQ blocks every publishing connection of the cluster until it clears";
    match alarm.resource.as_str() {
        "memory" => {
            let figures = match listed.and_then(|n| Some((n.mem_used?, n.mem_limit?))) {
                Some((used, limit)) => format!(
                    ": {} used, high watermark {}",
                    human_bytes(used),
                    human_bytes(limit)
                ),
                None => String::new(),
            };
            format!("memory alarm on {who}{figures}; {blocks}")
        }
        "disk space" | "disk" => {
            let figures = match listed.and_then(|n| Some((n.disk_free?, n.disk_free_limit?))) {
                Some((free, limit)) => format!(
                    ": {} free, under its disk_free_limit {}",
                    human_bytes(free),
                    human_bytes(limit)
                ),
                None => String::new(),
            };
            format!("disk alarm on {who}{figures}; {blocks}")
        }
        other => format!("{other} alarm on {who}; {blocks}"),
    }
}

fn node_reason(report: &mut Report, node: &NodeView) {
    let who = node.describe();
    match (node.running(), node.failure()) {
        (Some(false), Some(e)) => report.degraded(format!(
            "{who} is not running (the cluster lists it as stopped); its management API: {e}"
        )),
        (Some(false), None) => report.degraded(format!(
            "{who} is not running (the cluster lists it as stopped)"
        )),
        (Some(true), Some(e)) => report.degraded(format!(
            "{who} runs, but its management API does not answer: {e}"
        )),
        (None, Some(e)) => report.degraded(format!("endpoint {} not answering: {e}", node.id)),
        (_, None) => {}
    }
}

fn queue_reason(report: &mut Report, queue: &Queue, threshold: u64) {
    let name = format!("queue '{}' in vhost '{}'", queue.name, queue.vhost);
    if let (Some(ready), Some(0.0)) = (queue.messages_ready, queue.consumers)
        && ready > threshold as f64
    {
        report.degraded(format!(
            "{name} has {ready} messages ready and no consumer \
             (ready_without_consumers_degraded is {threshold})"
        ));
    }
    if matches!(queue.state.as_str(), "down" | "crashed" | "stopped") {
        report.degraded(format!(
            "{name} is {} (on node {})",
            queue.state, queue.node
        ));
    }
}

/// Endpoints that answer as a node the cluster does not list: another cluster's. (Cluster
/// names tell nothing: a node without `cluster_name` set gives a default of its own.)
fn strangers(report: &mut Report, view: &View, gathered: &Gathered) {
    let (Ok(_), Some(asked)) = (&gathered.nodes, view.asked) else {
        return;
    };
    for node in view.nodes.iter().filter(|n| n.listed.is_none()) {
        if let (Some(o), Some(p)) = (node.overview(), node.probe) {
            report.degraded(format!(
                "endpoint {} answers as node {}, which is not a node of the cluster {} belongs to",
                p.url, o.node, asked.url
            ));
        }
    }
}

/// `1.5 GiB`, `130.2 MiB`, `2527 B`.
pub fn human_bytes(bytes: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{value} B"),
        _ => format!("{value:.1} {}", UNITS[unit]),
    }
}
