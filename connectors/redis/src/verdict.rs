//! The health rules: each problem found adds a reason naming the figure and the node.

use crate::{
    cluster::SLOTS,
    options::Settings,
    probe::ClusterView,
    topology::{NodeState, Topology},
};
use dbmon_connector_api::Report;

/// Adds a reason for every problem in `topology`.
pub fn judge(report: &mut Report, topology: &Topology, settings: &Settings) {
    if let Some((viewer, view)) = topology.view {
        judge_cluster(report, viewer, view, settings);
        for stranger in &topology.strangers {
            report.degraded(format!(
                "node {stranger} is listed in endpoints but is not a member of the cluster \
                 that node {viewer} belongs to"
            ));
        }
    }
    for node in &topology.nodes {
        judge_node(report, node, settings);
    }
}

fn judge_cluster(report: &mut Report, viewer: &str, view: &ClusterView, settings: &Settings) {
    let info = &view.info;
    if info.state != "ok" {
        let state = if info.state.is_empty() {
            "unknown"
        } else {
            &info.state
        };
        report.unhealthy(format!(
            "cluster_state is {state} (as seen by node {viewer}): the cluster refuses queries"
        ));
    }
    if info.slots_fail > 0.0 {
        report.unhealthy(format!(
            "{} slots are failing (cluster_slots_fail): their master is down and no replica \
             has taken over",
            info.slots_fail
        ));
    }
    let unassigned = SLOTS - info.slots_assigned;
    if unassigned > 0.0 {
        report.unhealthy(format!(
            "{unassigned} of {SLOTS} slots are not assigned to any node (cluster_slots_assigned \
             is {})",
            info.slots_assigned
        ));
    }
    if info.slots_pfail > 0.0 {
        report.degraded(format!(
            "{} slots are served by a node suspected down (cluster_slots_pfail)",
            info.slots_pfail
        ));
    }
    let wanted = settings.min_replicas_per_master as usize;
    if wanted == 0 {
        return;
    }
    let masters = view.nodes.iter().filter(|m| m.is_master() && m.slots > 0);
    for master in masters.filter(|m| !m.failed()) {
        let healthy = view
            .nodes
            .iter()
            .filter(|r| r.master_id.as_deref() == Some(master.id.as_str()))
            .filter(|r| !r.failed() && !r.suspected())
            .count();
        if healthy < wanted {
            let count = match healthy {
                0 => "no healthy replica".to_string(),
                1 => "1 healthy replica".to_string(),
                n => format!("{n} healthy replicas"),
            };
            report.degraded(format!(
                "master {} ({}) serving slots {} has {count} (min_replicas_per_master is \
                 {wanted})",
                master.address(),
                master.short_id(),
                master.slot_ranges,
            ));
        }
    }
}

fn judge_node(report: &mut Report, node: &NodeState, settings: &Settings) {
    let name = node.name();
    let silence = node.failure().map(|e| format!(" and does not answer: {e}"));
    let silence = silence.unwrap_or_default();
    match node.member {
        Some(m) if m.failed() => {
            report.degraded(format!("{name} is marked failed by the cluster{silence}"));
            return;
        }
        Some(m) if m.suspected() => {
            report.degraded(format!(
                "{name} is suspected down by the cluster (fail?){silence}"
            ));
            return;
        }
        Some(m) if m.no_address() => return,
        _ => {}
    }
    if let Some(error) = node.failure() {
        report.degraded(format!("{name} not answering: {error}"));
        return;
    }
    let Some(answer) = node.answer() else { return };
    let info = &answer.info;
    if let (Some(percent), Some((limit, kind))) = (info.memory_used_percent(), info.memory_limit())
        && percent > settings.memory_used_degraded_percent
    {
        let of = match kind {
            "maxmemory" => "its maxmemory",
            _ => "the machine's memory (no maxmemory set)",
        };
        report.degraded(format!(
            "{name} uses {percent:.1} % of {of}: {} of {}, over {} % \
             (memory_used_degraded_percent)",
            bytes(info.used_memory),
            bytes(limit),
            settings.memory_used_degraded_percent
        ));
    }
    if info.replica && !info.master_link_up {
        let master = info.master.as_deref().unwrap_or("(unknown)");
        report.degraded(format!(
            "{name} has lost its link to master {master} (master_link_status is down)"
        ));
    }
}

/// Bytes in binary units, for reasons.
fn bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bytes_in_binary_units() {
        assert_eq!(super::bytes(512.0), "512 bytes");
        assert_eq!(super::bytes(1536.0), "1.5 KiB");
        assert_eq!(super::bytes(3.0 * 1024.0 * 1024.0 * 1024.0), "3.0 GiB");
    }
}
