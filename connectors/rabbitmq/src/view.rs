//! The cluster as one collection saw it: every node, with the endpoint that reaches it.
//!
//! An endpoint is matched to its node by the node name its overview gives. An endpoint that
//! does not answer is matched by the name it gave in an earlier collection (kept in the
//! instance, see [`Known`]); one never seen answering stands as a node of its own, named by
//! its URL.

use crate::api::{Node, Overview};
use crate::gather::{Gathered, Probe};
use dbmon_connector_api::NodeStatus;
use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

/// The node each endpoint answered as, learned across collections. A cache: without it, a
/// stopped node's endpoint is reported apart from its node until it answers again.
#[derive(Debug, Default)]
pub struct Known {
    nodes: Mutex<HashMap<String, String>>,
}

impl Known {
    /// Remembers the node of every endpoint that answered in `gathered`.
    pub fn learn(&self, gathered: &Gathered) {
        let mut nodes = self.nodes.lock().unwrap_or_else(PoisonError::into_inner);
        for p in &gathered.probes {
            if let Some(o) = p.answered().filter(|o| !o.node.is_empty()) {
                nodes.insert(p.url.clone(), o.node.clone());
            }
        }
    }

    /// The node `url` answered as before.
    pub fn node_of(&self, url: &str) -> Option<String> {
        let nodes = self.nodes.lock().unwrap_or_else(PoisonError::into_inner);
        nodes.get(url).cloned()
    }
}

/// One node.
#[derive(Debug)]
pub struct NodeView<'g> {
    /// Its id in the report: the node name (`rabbit@host`), or the URL of an endpoint whose
    /// node is unknown.
    pub id: String,
    /// Its entry in `/api/nodes`, if it has one.
    pub listed: Option<&'g Node>,
    /// The endpoint that reaches it, if one is configured.
    pub probe: Option<&'g Probe>,
    /// Its status in the report.
    pub status: NodeStatus,
}

impl NodeView<'_> {
    /// What its endpoint answered, if it did.
    pub fn overview(&self) -> Option<&Overview> {
        self.probe.and_then(Probe::answered)
    }

    /// Why its endpoint failed, if it did.
    pub fn failure(&self) -> Option<&str> {
        self.probe?.overview.as_ref().err().map(String::as_str)
    }

    /// Whether the cluster says it runs (`None`: the cluster does not list it).
    pub fn running(&self) -> Option<bool> {
        self.listed.map(|n| n.running)
    }

    /// `node rabbit@a (http://10.0.0.1:15672)` for reasons.
    pub fn describe(&self) -> String {
        match self.probe {
            Some(p) if p.url != self.id => format!("node {} ({})", self.id, p.url),
            _ => format!("node {}", self.id),
        }
    }
}

/// Every node of the cluster.
#[derive(Debug)]
pub struct View<'g> {
    /// Listed nodes in the API's order, then nodes only an endpoint knows of.
    pub nodes: Vec<NodeView<'g>>,
    /// The overview of the endpoint the cluster-wide questions went to.
    pub asked: Option<&'g Probe>,
}

impl<'g> View<'g> {
    /// Sorts the answers of `gathered` out, matching endpoints to nodes with `known`.
    pub fn new(gathered: &'g Gathered, known: &Known) -> View<'g> {
        let name_of = |p: &Probe| match p.answered() {
            Some(o) if !o.node.is_empty() => Some(o.node.clone()),
            Some(_) => None,
            None => known.node_of(&p.url),
        };
        let names: Vec<Option<String>> = gathered.probes.iter().map(name_of).collect();
        let mut used = vec![false; gathered.probes.len()];
        let mut nodes: Vec<NodeView> = Vec::new();
        for listed in gathered.nodes.as_deref().unwrap_or_default() {
            // An answering endpoint first, then one that answered as this node before.
            let at = (0..gathered.probes.len())
                .filter(|&i| !used[i] && names[i].as_deref() == Some(listed.name.as_str()))
                .min_by_key(|&i| gathered.probes[i].answered().is_none());
            if let Some(at) = at {
                used[at] = true;
            }
            nodes.push(NodeView {
                id: listed.name.clone(),
                listed: Some(listed),
                probe: at.map(|at| &gathered.probes[at]),
                status: match listed.running {
                    true => NodeStatus::Live,
                    false => NodeStatus::Dead,
                },
            });
        }
        for (at, probe) in gathered.probes.iter().enumerate() {
            if used[at] {
                continue;
            }
            let id = names[at].clone().unwrap_or_else(|| probe.url.clone());
            // Two endpoints of one node that is not listed: the second adds nothing.
            if nodes.iter().any(|n| n.id == id) {
                continue;
            }
            let status = match probe.answered() {
                Some(_) => NodeStatus::Live,
                None => NodeStatus::Dead,
            };
            nodes.push(NodeView {
                id,
                listed: None,
                probe: Some(probe),
                status,
            });
        }
        View {
            nodes,
            asked: gathered.asked.map(|i| &gathered.probes[i]),
        }
    }

    /// The node with this name.
    pub fn node(&self, name: &str) -> Option<&NodeView<'g>> {
        self.nodes.iter().find(|n| n.id == name)
    }
}
