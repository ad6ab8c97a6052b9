//! The nodes of the report, put together from a survey: in a Redis Cluster, every node of the
//! cluster view with its answer (matched by node id for listed endpoints, by address for the
//! others); otherwise, every listed endpoint.

use crate::{
    cluster::ClusterNode,
    probe::{Answer, ClusterView, Probe},
};

/// One node of the report.
#[derive(Debug)]
pub struct NodeState<'a> {
    /// `host:port` (the node id when the cluster does not know its address).
    pub address: String,
    /// Its line in the cluster view.
    pub member: Option<&'a ClusterNode>,
    /// What it answered; `None` when it could not be asked (no address).
    pub outcome: Option<&'a Result<Answer, String>>,
}

impl<'a> NodeState<'a> {
    /// Its answer, if it gave one.
    pub fn answer(&self) -> Option<&'a Answer> {
        self.outcome.and_then(|o| o.as_ref().ok())
    }

    /// Why it gave no answer.
    pub fn failure(&self) -> Option<&'a str> {
        self.outcome
            .and_then(|o| o.as_ref().err())
            .map(String::as_str)
    }

    /// `master` or `replica`, from the cluster's flags or else the node's `INFO`.
    pub fn role(&self) -> Option<&'static str> {
        match (self.member, self.answer()) {
            (Some(m), _) => m.role(),
            (None, Some(a)) if a.info.replica => Some("replica"),
            (None, Some(_)) => Some("master"),
            (None, None) => None,
        }
    }

    /// `node ADDRESS (role, id)`, how reasons name it.
    pub fn name(&self) -> String {
        let role = self.role().unwrap_or("role unknown");
        match self.member {
            Some(m) if m.no_address() => format!("node {} ({role})", m.short_id()),
            Some(m) => format!("node {} ({role}, {})", self.address, m.short_id()),
            None if self.role().is_some() => format!("node {} ({role})", self.address),
            None => format!("node {}", self.address),
        }
    }
}

/// The nodes, and the view they were read from.
#[derive(Debug)]
pub struct Topology<'a> {
    /// The cluster view used, and the address of the node that gave it.
    pub view: Option<(&'a str, &'a ClusterView)>,
    /// Every node.
    pub nodes: Vec<NodeState<'a>>,
    /// Listed endpoints that answered but are not members of the cluster viewed.
    pub strangers: Vec<String>,
}

/// Puts the survey together; `Err` with every node's failure when no node answered.
pub fn assemble(probes: &[Probe]) -> Result<Topology<'_>, String> {
    if probes.iter().all(|p| p.outcome.is_err()) {
        let failures: Vec<String> = probes
            .iter()
            .filter_map(|p| {
                p.outcome
                    .as_ref()
                    .err()
                    .map(|e| format!("{}: {e}", p.address))
            })
            .collect();
        return Err(failures.join("; "));
    }
    let mut listed: Vec<&Probe> = probes.iter().filter(|p| p.listed.is_some()).collect();
    listed.sort_by_key(|p| p.listed);
    let view = listed.iter().find_map(|p| {
        let answer = p.outcome.as_ref().ok()?;
        Some((p.address.as_str(), answer.cluster.as_ref()?))
    });
    let Some((_, cluster)) = view else {
        let nodes = listed
            .iter()
            .map(|p| NodeState {
                address: p.address.clone(),
                member: None,
                outcome: Some(&p.outcome),
            })
            .collect();
        return Ok(Topology {
            view: None,
            nodes,
            strangers: vec![],
        });
    };
    let own_id = |p: &Probe| -> Option<String> {
        let view = p.outcome.as_ref().ok()?.cluster.as_ref()?;
        Some(view.myself()?.id.clone())
    };
    let mut members: Vec<&ClusterNode> = cluster.nodes.iter().collect();
    members.sort_by_key(|m| (m.no_address(), m.address()));
    let mut matched = vec![false; probes.len()];
    let mut nodes = Vec::new();
    for member in members {
        let address = member.address();
        // A listed endpoint is this member when it says so itself; any other probe when it
        // was asked at the member's address.
        let found = probes
            .iter()
            .position(|p| own_id(p).as_deref() == Some(member.id.as_str()))
            .or_else(|| probes.iter().position(|p| p.address == address));
        if let Some(i) = found {
            matched[i] = true;
        }
        nodes.push(NodeState {
            address,
            member: Some(member),
            outcome: found.map(|i| &probes[i].outcome),
        });
    }
    let mut strangers = Vec::new();
    for (i, probe) in probes.iter().enumerate() {
        if matched[i] || probe.listed.is_none() {
            continue;
        }
        if probe.outcome.is_ok() {
            strangers.push(probe.address.clone());
        }
        nodes.push(NodeState {
            address: probe.address.clone(),
            member: None,
            outcome: Some(&probe.outcome),
        });
    }
    Ok(Topology {
        view,
        nodes,
        strangers,
    })
}
