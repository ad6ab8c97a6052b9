//! The cluster's figures: node counts, and sums or worst cases of the answering nodes' figures.

use crate::cluster::{Cluster, NodeView};
use crate::vars::NodeVars;
use dbmon_connector_api::NodeStatus;

/// Used share of a capacity, as CockroachDB's console computes it: used / (used + available).
pub fn used_percent(used: f64, available: f64) -> Option<f64> {
    let usable = used + available;
    (usable > 0.0).then(|| used / usable * 100.0)
}

/// RSS over the machine's memory, when the memory is known.
pub fn memory_percent(rss: f64, total: f64) -> Option<f64> {
    (total > 0.0).then(|| rss / total * 100.0)
}

/// The cluster-level figures of one collection.
#[derive(Debug, Default)]
pub struct Figures {
    /// Nodes known: every node the API lists and every endpoint's node of known id (or,
    /// without the API, one per endpoint, or more when `liveness_livenodes` says so).
    pub nodes_total: f64,
    /// Live nodes: the API's count, else the highest `liveness_livenodes`.
    pub nodes_live: f64,
    /// Nodes by status.
    pub nodes_dead: f64,
    /// UNAVAILABLE nodes.
    pub nodes_unavailable: f64,
    /// DRAINING nodes.
    pub nodes_draining: f64,
    /// DECOMMISSIONING nodes.
    pub nodes_decommissioning: f64,
    /// DECOMMISSIONED nodes.
    pub nodes_decommissioned: f64,
    /// Endpoints whose `/health?ready=1` did not answer 200.
    pub nodes_not_ready: f64,
    /// Sums over the answering nodes.
    pub ranges: f64,
    /// Sum of `ranges_unavailable`.
    pub ranges_unavailable: f64,
    /// Sum of `ranges_underreplicated`.
    pub ranges_underreplicated: f64,
    /// Sum of `ranges_overreplicated`.
    pub ranges_overreplicated: f64,
    /// Sum of `replicas`.
    pub replicas: f64,
    /// Sum of `capacity`.
    pub capacity: f64,
    /// Sum of `capacity_available`.
    pub capacity_available: f64,
    /// Sum of `capacity_used`.
    pub capacity_used: f64,
    /// Sum of `sys_rss`.
    pub memory_rss: f64,
    /// Sum of the memory of the nodes whose RSS and memory are both known.
    pub memory_total: Option<f64>,
    /// RSS of those nodes over their memory.
    pub memory_used_percent: Option<f64>,
    /// Sum of the nodes' query rates (only nodes seen in the previous collection).
    pub sql_qps: Option<f64>,
    /// Sum of the nodes' query counters.
    pub sql_queries_total: Option<f64>,
    /// The worst node's heartbeat p99, ms.
    pub heartbeat_p99_ms: Option<f64>,
    /// The node with the largest |mean clock offset|: (index in `nodes`, mean, stddev).
    pub clock_offset: Option<(usize, f64, f64)>,
    /// The fastest `/health` round trip, ms.
    pub round_trip_ms: Option<f64>,
    /// Sum of the `queue_*_pending` gauges.
    pub queue_pending: Option<f64>,
}

fn sum_some(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    values
        .flatten()
        .fold(None, |acc, v| Some(acc.unwrap_or(0.0) + v))
}

fn count(nodes: &[NodeView], status: NodeStatus) -> f64 {
    nodes.iter().filter(|n| n.status == status).count() as f64
}

/// Adds up the cluster.
pub fn figures(cluster: &Cluster) -> Figures {
    let nodes = &cluster.nodes;
    let answering: Vec<(&NodeView, &NodeVars)> = cluster.answering().collect();
    let sum = |f: fn(&NodeVars) -> f64| answering.iter().map(|(_, v)| f(v)).sum::<f64>();
    let (nodes_total, nodes_live) = if cluster.has_liveness() {
        // An endpoint that never answered is one of the listed nodes, not one more.
        let known = nodes.iter().filter(|n| n.node_id.is_some()).count();
        (known as f64, count(nodes, NodeStatus::Live))
    } else {
        let seen = answering
            .iter()
            .filter_map(|(_, v)| v.live_nodes)
            .reduce(f64::max);
        let live = seen.unwrap_or_else(|| count(nodes, NodeStatus::Live));
        ((nodes.len() as f64).max(live), live)
    };
    let with_memory: Vec<(f64, f64)> = answering
        .iter()
        .filter_map(|(n, v)| Some((v.rss?, n.total_memory?)))
        .collect();
    let memory_total = (!with_memory.is_empty()).then(|| with_memory.iter().map(|m| m.1).sum());
    let memory_used_percent =
        memory_total.and_then(|total| memory_percent(with_memory.iter().map(|m| m.0).sum(), total));
    let clock_offset = nodes
        .iter()
        .enumerate()
        .filter_map(|(i, n)| {
            let v = n.vars.as_ref()?;
            Some((
                i,
                v.clock_offset_mean_ns?,
                v.clock_offset_stddev_ns.unwrap_or(0.0),
            ))
        })
        .reduce(|a, b| if b.1.abs() > a.1.abs() { b } else { a });
    Figures {
        nodes_total,
        nodes_live,
        nodes_dead: count(nodes, NodeStatus::Dead),
        nodes_unavailable: count(nodes, NodeStatus::Unavailable),
        nodes_draining: count(nodes, NodeStatus::Draining),
        nodes_decommissioning: count(nodes, NodeStatus::Decommissioning),
        nodes_decommissioned: count(nodes, NodeStatus::Decommissioned),
        nodes_not_ready: nodes.iter().filter(|n| n.not_ready()).count() as f64,
        ranges: sum(|v| v.ranges),
        ranges_unavailable: sum(|v| v.ranges_unavailable),
        ranges_underreplicated: sum(|v| v.ranges_underreplicated),
        ranges_overreplicated: sum(|v| v.ranges_overreplicated),
        replicas: sum(|v| v.replicas),
        capacity: sum(|v| v.capacity),
        capacity_available: sum(|v| v.capacity_available),
        capacity_used: sum(|v| v.capacity_used),
        memory_rss: sum(|v| v.rss.unwrap_or(0.0)),
        memory_total,
        memory_used_percent,
        sql_qps: sum_some(answering.iter().map(|(n, _)| n.rates.sql_qps)),
        sql_queries_total: sum_some(answering.iter().map(|(_, v)| v.sql_queries)),
        heartbeat_p99_ms: answering
            .iter()
            .filter_map(|(n, _)| n.rates.heartbeat_p99_ns)
            .reduce(f64::max)
            .map(|ns| ns / 1e6),
        clock_offset,
        round_trip_ms: nodes
            .iter()
            .filter_map(|n| n.health.as_ref()?.round_trip_ms())
            .reduce(f64::min),
        queue_pending: sum_some(answering.iter().map(|(_, v)| v.queue_pending)),
    }
}

impl Figures {
    /// `capacity_used_percent`.
    pub fn capacity_used_percent(&self) -> Option<f64> {
        used_percent(self.capacity_used, self.capacity_available)
    }
}
