//! The cluster as the answers show it: each member with the probe that reached it and its
//! condition, endpoints that matched no member, and the leader.

use crate::api::{Member, Status};
use crate::gather::{Gathered, Probe};
use dbmon_connector_api::NodeStatus;
use dbmon_scrape::same_listener;
use std::collections::HashMap;

/// How a member is doing.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Answers, knows the leader, passes `/health`.
    Healthy,
    /// Answers, but knows no leader.
    NoLeader,
    /// Answers, but `/health` fails (the text says how).
    HealthFailed(String),
    /// Its status call failed (the text says how).
    NotAnswering(String),
    /// Listed without name or client URL: added, never started.
    NotStarted,
    /// Not asked (no client URL reachable in time).
    NotChecked,
}

impl Condition {
    /// The node status it shows as.
    pub fn node_status(&self) -> NodeStatus {
        match self {
            Condition::Healthy => NodeStatus::Live,
            Condition::NoLeader | Condition::HealthFailed(_) => NodeStatus::Unavailable,
            Condition::NotAnswering(_) => NodeStatus::Dead,
            Condition::NotStarted => NodeStatus::Initializing,
            Condition::NotChecked => NodeStatus::Unknown,
        }
    }
}

/// One member.
#[derive(Debug)]
pub struct MemberView<'g> {
    /// From the member list (or made up from a status answer when the list is missing).
    pub member: Member,
    /// The node id: its name, or its hex id when it has none or shares it.
    pub node_id: String,
    /// The client URL asked, or the first advertised one.
    pub url: Option<String>,
    /// What that URL answered.
    pub probe: Option<&'g Probe>,
    /// How it is doing.
    pub condition: Condition,
}

impl MemberView<'_> {
    /// Its status answer.
    pub fn status(&self) -> Option<&Status> {
        self.probe.and_then(Probe::answered)
    }

    /// `member m1 (http://10.0.0.1:2379)` for reasons.
    pub fn describe(&self) -> String {
        match &self.url {
            Some(url) => format!("member {} ({url})", self.node_id),
            None if self.member.name.is_empty() => format!("member {}", self.node_id),
            None => format!("member {} ({:x})", self.node_id, self.member.id),
        }
    }
}

/// The whole cluster.
#[derive(Debug)]
pub struct View<'g> {
    /// Every member, by node id.
    pub members: Vec<MemberView<'g>>,
    /// Probes that are no member: (probe, why it does not fit).
    pub strays: Vec<(&'g Probe, String)>,
    /// The leader most answering members name.
    pub leader: Option<u64>,
}

impl<'g> View<'g> {
    /// Sorts the answers of `gathered` out.
    pub fn new(gathered: &'g Gathered) -> View<'g> {
        let listed = match &gathered.members {
            Ok(members) => members.clone(),
            // Without the list, each answering endpoint stands for its member.
            Err(_) => gathered
                .probes
                .iter()
                .filter_map(|p| {
                    let s = p.answered()?;
                    Some(Member {
                        id: s.header.member_id,
                        client_urls: vec![p.url.clone()],
                        is_learner: s.is_learner,
                        ..Member::default()
                    })
                })
                .collect(),
        };
        let mut used = vec![false; gathered.probes.len()];
        let mut members: Vec<MemberView> = listed
            .into_iter()
            .map(|member| {
                let at = find_probe(&member, &gathered.probes);
                if let Some(at) = at {
                    used[at] = true;
                }
                let probe = at.map(|at| &gathered.probes[at]);
                let url = probe
                    .map(|p| p.url.clone())
                    .or_else(|| member.client_urls.first().cloned());
                let condition = condition(&member, probe);
                MemberView {
                    node_id: String::new(),
                    member,
                    url,
                    probe,
                    condition,
                }
            })
            .collect();
        name_nodes(&mut members);
        // etcd lists members by id; operators look for them by name.
        members.sort_by(|a, b| a.node_id.cmp(&b.node_id));
        // An endpoint that answers as a member reached elsewhere too (a DNS name and an IP) is
        // no stray.
        let known = |p: &Probe| {
            p.answered()
                .is_some_and(|s| members.iter().any(|m| m.member.id == s.header.member_id))
        };
        let strays = gathered
            .probes
            .iter()
            .zip(used)
            .filter(|(p, used)| !used && !known(p))
            .map(|(p, _)| (p, stray_reason(p)))
            .collect();
        let leader = leader(&members);
        View {
            members,
            strays,
            leader,
        }
    }

    /// The member with this id.
    pub fn member(&self, id: u64) -> Option<&MemberView<'g>> {
        self.members.iter().find(|m| m.member.id == id)
    }
}

/// The probe that answered as this member, else one asked at one of its client URLs.
fn find_probe(member: &Member, probes: &[Probe]) -> Option<usize> {
    probes
        .iter()
        .position(|p| {
            p.answered()
                .is_some_and(|s| s.header.member_id == member.id)
        })
        .or_else(|| {
            probes.iter().position(|p| {
                p.answered().is_none()
                    && member.client_urls.iter().any(|u| same_listener(u, &p.url))
            })
        })
}

fn condition(member: &Member, probe: Option<&Probe>) -> Condition {
    let Some(probe) = probe else {
        return match member.client_urls.is_empty() {
            true => Condition::NotStarted,
            false => Condition::NotChecked,
        };
    };
    match (&probe.status, &probe.health) {
        (Err(e), _) => Condition::NotAnswering(e.clone()),
        (Ok((status, _)), _) if !status.sees_leader() => Condition::NoLeader,
        (Ok(_), Err(e)) => Condition::HealthFailed(e.clone()),
        (Ok(_), Ok(())) => Condition::Healthy,
    }
}

/// Names are the ids operators know; a member without one (not started) or sharing one gets
/// its hex id, as `etcdctl member list` prints it.
fn name_nodes(members: &mut [MemberView]) {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for m in members.iter() {
        *counts.entry(m.member.name.clone()).or_default() += 1;
    }
    for m in members.iter_mut() {
        m.node_id = match m.member.name.as_str() {
            "" => format!("{:x}", m.member.id),
            name if counts[name] > 1 => format!("{name} ({:x})", m.member.id),
            name => name.to_string(),
        };
    }
}

fn stray_reason(probe: &Probe) -> String {
    match &probe.status {
        Err(e) => format!("endpoint {} not answering: {e}", probe.url),
        Ok((s, _)) => format!(
            "endpoint {} answers as member {:x} of cluster {:x}, which is not in the member list",
            probe.url, s.header.member_id, s.header.cluster_id
        ),
    }
}

/// The leader named by most answering members that know one; on a tie, the one that says it
/// leads.
fn leader(members: &[MemberView]) -> Option<u64> {
    let mut votes: HashMap<u64, (usize, bool)> = HashMap::new();
    for s in members.iter().filter_map(MemberView::status) {
        if s.sees_leader() {
            let vote = votes.entry(s.leader).or_default();
            vote.0 += 1;
            vote.1 |= s.leader == s.header.member_id;
        }
    }
    votes
        .into_iter()
        .max_by_key(|(id, vote)| (*vote, *id))
        .map(|(id, _)| id)
}
