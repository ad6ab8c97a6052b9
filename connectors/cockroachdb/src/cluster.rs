//! One view of the cluster from what the endpoints and the nodes API answered: a node per
//! endpoint (named by the id its `/_status/vars` gives, or the one it had last time), plus the
//! nodes only the API knows, each with its status.

use crate::api::{ApiNode, Liveness};
use crate::fetch::{Health, Probe, VarsFailure};
use crate::history::{History, Known, Rates};
use crate::options::Settings;
use crate::vars::NodeVars;
use dbmon_connector_api::NodeStatus;
use std::cmp::Ordering;

/// One node as the report shows it.
#[derive(Debug)]
pub struct NodeView {
    /// Its id in the report: the node id, or the endpoint URL while it is unknown.
    pub id: String,
    /// CockroachDB's node id, when known.
    pub node_id: Option<u64>,
    /// Its address: `advertise_addr`, the API's address, or the endpoint's `host:port`.
    pub address: String,
    /// Index of its endpoint in the settings, when it has one.
    pub endpoint: Option<usize>,
    /// Its status.
    pub status: NodeStatus,
    /// Its liveness, when the nodes API answered.
    pub liveness: Option<Liveness>,
    /// Its figures, when its `/_status/vars` was read.
    pub vars: Option<NodeVars>,
    /// Why its `/_status/vars` could not be read.
    pub failure: Option<VarsFailure>,
    /// Its `/health?ready=1`, when it has an endpoint.
    pub health: Option<Health>,
    /// Rates since the previous collection.
    pub rates: Rates,
    /// Its CockroachDB version.
    pub version: Option<String>,
    /// Memory of its machine: the API's `total_system_memory`, else `sys_totalmem`.
    pub total_memory: Option<f64>,
}

impl NodeView {
    /// How reasons name it: `node 2 (roach2:26257)`, or `node at URL (host:port)`.
    pub fn name(&self, settings: &Settings) -> String {
        match (self.node_id, self.endpoint) {
            (Some(id), _) if self.address.is_empty() => format!("node {id}"),
            (Some(id), _) => format!("node {id} ({})", self.address),
            (None, Some(i)) => format!("node at {} ({})", settings.endpoints[i].url, self.address),
            (None, None) => format!("node ({})", self.address),
        }
    }

    /// Whether its `/health?ready=1` did not answer 200 (no answer counts as not ready).
    pub fn not_ready(&self) -> bool {
        self.health.as_ref().is_some_and(|h| !h.ok())
    }
}

/// What the cluster looks like.
#[derive(Debug)]
pub struct Cluster {
    /// Every node known, by node id (nodes without one last).
    pub nodes: Vec<NodeView>,
    /// `None` without `auth:`; else whether the nodes API answered.
    pub api: Option<Result<(), String>>,
}

impl Cluster {
    /// Nodes whose `/_status/vars` was read.
    pub fn answering(&self) -> impl Iterator<Item = (&NodeView, &NodeVars)> {
        self.nodes
            .iter()
            .filter_map(|n| n.vars.as_ref().map(|vars| (n, vars)))
    }

    /// Whether liveness came from the nodes API.
    pub fn has_liveness(&self) -> bool {
        matches!(self.api, Some(Ok(())))
    }
}

fn status_of(liveness: Liveness) -> NodeStatus {
    match liveness {
        Liveness::Unknown => NodeStatus::Unknown,
        Liveness::Dead => NodeStatus::Dead,
        Liveness::Unavailable => NodeStatus::Unavailable,
        Liveness::Live => NodeStatus::Live,
        Liveness::Decommissioning => NodeStatus::Decommissioning,
        Liveness::Decommissioned => NodeStatus::Decommissioned,
        Liveness::Draining => NodeStatus::Draining,
    }
}

/// Puts the answers together. With `update`, the counters are recorded in `history` and rates
/// computed (a collection); without, `history` is only read (a command).
pub fn assemble(
    settings: &Settings,
    probes: Vec<Probe>,
    api: Option<Result<Vec<ApiNode>, String>>,
    history: &mut History,
    update: bool,
) -> Cluster {
    let mut nodes: Vec<NodeView> = Vec::with_capacity(probes.len());
    for (index, probe) in probes.into_iter().enumerate() {
        let endpoint = &settings.endpoints[index];
        let mut view = NodeView {
            id: String::new(),
            node_id: None,
            address: endpoint.address.clone(),
            endpoint: Some(index),
            status: NodeStatus::Unknown,
            liveness: None,
            vars: None,
            failure: None,
            health: Some(probe.health),
            rates: Rates::default(),
            version: None,
            total_memory: None,
        };
        match probe.vars {
            Ok(scraped) => {
                let vars = scraped.vars;
                view.node_id = vars.node_id;
                if let Some(address) = &vars.advertise_addr {
                    view.address = address.clone();
                }
                view.version = vars.version.clone();
                view.total_memory = vars.total_memory;
                if update {
                    let known = Known {
                        node_id: vars.node_id,
                        address: vars.advertise_addr.clone(),
                    };
                    view.rates = history.update(
                        &endpoint.url,
                        scraped.at,
                        vars.sql_queries,
                        &vars.heartbeat_buckets,
                        known,
                    );
                }
                view.vars = Some(vars);
            }
            Err(failure) => {
                let known = history.known(&endpoint.url);
                view.node_id = known.node_id;
                if let Some(address) = known.address {
                    view.address = address;
                }
                view.failure = Some(failure);
            }
        }
        nodes.push(view);
    }
    let api = api.map(|answer| {
        answer.map(|listed| {
            for node in listed {
                merge(&mut nodes, node);
            }
        })
    });
    for view in &mut nodes {
        view.id = match (view.node_id, view.endpoint) {
            (Some(id), _) => id.to_string(),
            (None, Some(i)) => settings.endpoints[i].url.clone(),
            (None, None) => view.address.clone(),
        };
        view.status = match view.liveness {
            Some(liveness) => status_of(liveness),
            None if view.vars.is_some() && !view.not_ready() => NodeStatus::Live,
            None if view.vars.is_some() => NodeStatus::Unavailable,
            None => NodeStatus::Unknown,
        };
    }
    nodes.sort_by(|a, b| match (a.node_id, b.node_id) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.endpoint.cmp(&b.endpoint),
    });
    Cluster { nodes, api }
}

/// Adds what the API says of `node` to its view, or a view of its own.
fn merge(nodes: &mut Vec<NodeView>, node: ApiNode) {
    let view = match nodes.iter_mut().find(|v| v.node_id == Some(node.node_id)) {
        Some(view) => view,
        None => {
            nodes.push(NodeView {
                id: String::new(),
                node_id: Some(node.node_id),
                address: String::new(),
                endpoint: None,
                status: NodeStatus::Unknown,
                liveness: None,
                vars: None,
                failure: None,
                health: None,
                rates: Rates::default(),
                version: None,
                total_memory: None,
            });
            nodes.last_mut().expect("just pushed")
        }
    };
    view.liveness = Some(node.liveness);
    let has_own_address = view
        .vars
        .as_ref()
        .is_some_and(|v| v.advertise_addr.is_some());
    if let Some(address) = node.address.filter(|_| !has_own_address) {
        view.address = address;
    }
    if view.version.is_none() {
        view.version = node.build_tag;
    }
    if node.total_system_memory.is_some() {
        view.total_memory = node.total_system_memory;
    }
}
