//! The report's labels, nodes and metrics, written from the assembled topology.

use crate::topology::{NodeState, Topology};
use dbmon_connector_api::{NodeStatus, Report};

/// How far one replica is behind its master, from the master's `INFO`.
#[derive(Debug, Clone, PartialEq)]
pub struct Lag {
    /// `host:port` of the replica, as the master reports it.
    pub replica: String,
    /// `host:port` of the master.
    pub master: String,
    /// `master_repl_offset` minus the offset the replica acknowledged.
    pub bytes: f64,
}

/// Every replica's lag, as reported by the masters that answered.
pub fn lags(topology: &Topology) -> Vec<Lag> {
    let mut lags = Vec::new();
    for node in &topology.nodes {
        let Some(answer) = node.answer() else {
            continue;
        };
        let Some(master_offset) = answer.info.master_repl_offset else {
            continue;
        };
        if answer.info.replica {
            continue;
        }
        for line in &answer.info.replicas {
            lags.push(Lag {
                replica: line.address.clone(),
                master: node.address.clone(),
                bytes: (master_offset - line.offset).max(0.0),
            });
        }
    }
    lags
}

/// The status of a node: the cluster's flags first, then whether it answered.
pub fn node_status(node: &NodeState) -> NodeStatus {
    if let Some(member) = node.member {
        if member.failed() {
            return NodeStatus::Dead;
        }
        if member.suspected() {
            return NodeStatus::Unavailable;
        }
        if member.handshake() {
            return NodeStatus::Initializing;
        }
        if member.no_address() {
            return NodeStatus::Unknown;
        }
    }
    match node.answer() {
        Some(answer) if answer.info.loading => NodeStatus::Initializing,
        Some(_) => NodeStatus::Live,
        None => NodeStatus::Unavailable,
    }
}

/// Writes labels, nodes and metrics (not the verdict).
pub fn write(report: &mut Report, topology: &Topology, lags: &[Lag]) {
    let answers: Vec<_> = topology.nodes.iter().filter_map(|n| n.answer()).collect();
    report.label(
        "mode",
        if topology.view.is_some() {
            "cluster"
        } else {
            "standalone"
        },
    );
    let mut versions: Vec<&str> = answers.iter().map(|a| a.info.version.as_str()).collect();
    versions.sort_unstable();
    versions.dedup();
    report.label("version", &versions.join(", "));

    for node in &topology.nodes {
        write_node(report, node, lags);
    }

    let all_up = answers.len() == topology.nodes.len();
    report.metric("up", if all_up { 1.0 } else { 0.0 }).gauge();
    report.metric("nodes", topology.nodes.len() as f64).gauge();
    report.metric("nodes_up", answers.len() as f64).gauge();
    if let Some((_, view)) = topology.view {
        let info = &view.info;
        report
            .metric(
                "cluster_state_ok",
                if info.state == "ok" { 1.0 } else { 0.0 },
            )
            .gauge();
        report
            .metric("cluster_slots_assigned", info.slots_assigned)
            .gauge();
        report.metric("cluster_slots_ok", info.slots_ok).gauge();
        report
            .metric("cluster_slots_pfail", info.slots_pfail)
            .gauge();
        report.metric("cluster_slots_fail", info.slots_fail).gauge();
        report
            .metric("cluster_known_nodes", info.known_nodes)
            .gauge();
    }
    let count = |role: &str| {
        let healthy = |n: &&NodeState| n.member.is_none_or(|m| !m.failed());
        topology
            .nodes
            .iter()
            .filter(healthy)
            .filter(|n| n.role() == Some(role))
            .count() as f64
    };
    report.metric("masters", count("master")).gauge();
    report.metric("replicas", count("replica")).gauge();
    let sum = |f: fn(&crate::info::ServerInfo) -> f64| answers.iter().map(|a| f(&a.info)).sum();
    report
        .metric("memory_used_bytes", sum(|i| i.used_memory))
        .gauge()
        .unit("bytes");
    report
        .metric("memory_max_bytes", sum(|i| i.maxmemory))
        .gauge()
        .unit("bytes");
    let fullest = answers
        .iter()
        .filter_map(|a| a.info.memory_used_percent())
        .reduce(f64::max);
    if let Some(percent) = fullest {
        report
            .metric("memory_used_percent", percent)
            .gauge()
            .unit("percent");
    }
    report
        .metric("ops_per_second", sum(|i| i.ops_per_second))
        .gauge();
    report
        .metric("connected_clients", sum(|i| i.connected_clients))
        .gauge();
    let keys: f64 = topology
        .nodes
        .iter()
        .filter(|n| n.role() == Some("master"))
        .filter_map(|n| n.answer())
        .map(|a| a.info.keys)
        .sum();
    report.metric("keyspace_keys", keys).gauge();
    for lag in lags {
        report
            .metric("replication_offset_lag_bytes", lag.bytes)
            .gauge()
            .unit("bytes")
            .label("replica", &lag.replica)
            .label("master", &lag.master);
    }
}

fn write_node(report: &mut Report, node: &NodeState, lags: &[Lag]) {
    let handle = report.node(&node.address, node_status(node));
    if node.member.is_none_or(|m| !m.no_address()) {
        report.node_address(handle, &node.address);
    }
    if let Some(role) = node.role() {
        report.node_label(handle, "role", role);
    }
    if let Some(member) = node.member {
        report.node_label(handle, "node_id", &member.id);
        report.node_label(handle, "flags", &member.flags.join(","));
        if !member.slot_ranges.is_empty() {
            report.node_label(handle, "slots", &member.slot_ranges);
        }
    }
    let answer = node.answer();
    if let Some(answer) = answer {
        report.node_label(handle, "version", &answer.info.version);
        if let Some(master) = &answer.info.master {
            report.node_label(handle, "master", master);
        }
        if let Some((_, limit)) = answer.info.memory_limit() {
            report.node_label(handle, "memory_limit", limit);
        }
    }
    report
        .node_metric(handle, "up", if answer.is_some() { 1.0 } else { 0.0 })
        .gauge();
    if let Some(member) = node.member {
        report
            .node_metric(handle, "slots", member.slots as f64)
            .gauge();
    }
    // Known from the master's INFO even when the replica itself does not answer.
    if let Some(lag) = lags.iter().find(|l| l.replica == node.address) {
        report
            .node_metric(handle, "replication_offset_lag_bytes", lag.bytes)
            .gauge()
            .unit("bytes");
    }
    let Some(answer) = answer else { return };
    let info = &answer.info;
    report
        .node_metric(handle, "round_trip_ms", answer.round_trip_ms)
        .gauge()
        .unit("ms");
    report
        .node_metric(handle, "uptime_seconds", info.uptime_seconds)
        .gauge()
        .unit("seconds");
    report
        .node_metric(handle, "memory_used_bytes", info.used_memory)
        .gauge()
        .unit("bytes");
    report
        .node_metric(handle, "memory_max_bytes", info.maxmemory)
        .gauge()
        .unit("bytes");
    if let Some(percent) = info.memory_used_percent() {
        report
            .node_metric(handle, "memory_used_percent", percent)
            .gauge()
            .unit("percent");
    }
    report
        .node_metric(handle, "ops_per_second", info.ops_per_second)
        .gauge();
    report
        .node_metric(handle, "connected_clients", info.connected_clients)
        .gauge();
    report
        .node_metric(handle, "keyspace_keys", info.keys)
        .gauge();
}
