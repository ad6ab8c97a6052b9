//! One collection's questions to the cluster, each bounded by the deadline:
//! 1. every configured endpoint at once: status, `/health`, `/metrics`, member list;
//! 2. members the endpoints did not reach, at their advertised client URL;
//! 3. the alarm list, from the leader, only when a quorum of members is healthy: the call goes
//!    through raft and would otherwise hang until the deadline. Without it, the alarms every
//!    member lists in its status answer stand in.

use crate::api::{self, Alarm, AlarmList, Health, Member, MemberList, Scraped, Status};
use crate::client::Session;
use dbmon_scrape::same_listener;
use futures::future::join_all;
use std::time::Duration;

/// Excluding the alarms keeps `/health` about leader and raft: the alarms are reported apart.
const HEALTH_PATH: &str = "/health?exclude=NOSPACE&exclude=CORRUPT";

/// What one client URL answered.
#[derive(Debug)]
pub struct Probe {
    /// The client URL asked.
    pub url: String,
    /// `/v3/maintenance/status` and how long it took.
    pub status: Result<(Status, Duration), String>,
    /// `/health`: Ok when the member says it is healthy.
    pub health: Result<(), String>,
    /// The figures of `/metrics`.
    pub metrics: Result<Scraped, String>,
    /// `/v3/cluster/member/list` (asked of configured endpoints only).
    pub members: Option<Result<MemberList, String>>,
}

impl Probe {
    /// The status answer, if any.
    pub fn answered(&self) -> Option<&Status> {
        self.status.as_ref().ok().map(|(s, _)| s)
    }
}

/// Everything one collection learned.
#[derive(Debug)]
pub struct Gathered {
    /// The configured endpoints' probes, then the discovered members'.
    pub probes: Vec<Probe>,
    /// The member list (from the leader when it answered).
    pub members: Result<Vec<Member>, String>,
    /// Active alarms: from the alarm API, else from the status answers.
    pub alarms: Vec<Alarm>,
}

/// Asks the cluster.
pub async fn gather(session: &Session<'_>, endpoints: &[String]) -> Gathered {
    let mut probes = join_all(endpoints.iter().map(|url| probe(session, url, true))).await;
    let members = member_list(&probes);
    let missing: Vec<String> = match &members {
        Ok(members) => members
            .iter()
            .filter(|m| !reached(m, &probes) && !configured(m, endpoints))
            .filter_map(|m| m.client_urls.first().cloned())
            .collect(),
        Err(_) => Vec::new(),
    };
    probes.extend(join_all(missing.iter().map(|url| probe(session, url, false))).await);
    let alarms = alarm_list(session, &probes, &members).await;
    let alarms = alarms.unwrap_or_else(|why| {
        tracing::debug!(%why, "alarms taken from the status answers");
        let mut alarms: Vec<Alarm> = Vec::new();
        for status in probes.iter().filter_map(Probe::answered) {
            for alarm in api::alarms_in_errors(&status.errors) {
                if !alarms.contains(&alarm) {
                    alarms.push(alarm);
                }
            }
        }
        alarms
    });
    Gathered {
        probes,
        members,
        alarms,
    }
}

/// Asks one client URL everything at once.
async fn probe(session: &Session<'_>, url: &str, with_members: bool) -> Probe {
    let status = async {
        let (status, took) = session
            .post::<Status>(url, "/v3/maintenance/status", "{}")
            .await?;
        if status.header.member_id == 0 {
            return Err(format!(
                "POST {url}/v3/maintenance/status: not an etcd status (no header.member_id)"
            ));
        }
        Ok((status, took))
    };
    let health = async {
        // etcd answers 503 with its verdict when unhealthy: the body counts, not the status.
        let (code, body) = session.fetch(url, HEALTH_PATH).await?;
        let health: Health =
            api::parse(&body).map_err(|e| format!("GET {url}/health: HTTP {code}: {e}"))?;
        match (health.health.as_str(), health.reason.as_str()) {
            ("true", _) => Ok(()),
            (said, "") => Err(format!("/health says {said}")),
            (said, reason) => Err(format!("/health says {said}: {reason}")),
        }
    };
    let metrics = async {
        let body = session.get(url, "/metrics").await?;
        api::scraped(&body).map_err(|e| format!("GET {url}/metrics: {e}"))
    };
    let members = async {
        if !with_members {
            return None;
        }
        let list = session
            .post::<MemberList>(url, "/v3/cluster/member/list", "{}")
            .await;
        Some(list.and_then(|(list, _)| match list.members.is_empty() {
            true => Err(format!(
                "POST {url}/v3/cluster/member/list: no members listed"
            )),
            false => Ok(list),
        }))
    };
    let (status, health, metrics, members) = tokio::join!(status, health, metrics, members);
    Probe {
        url: url.to_string(),
        status,
        health,
        metrics,
        members,
    }
}

/// The leader's member list when it answered, else the first one.
fn member_list(probes: &[Probe]) -> Result<Vec<Member>, String> {
    let lists = probes.iter().filter_map(|p| {
        let list = p.members.as_ref()?.as_ref().ok()?;
        let is_leader = p.answered().is_some_and(|s| s.leader == s.header.member_id);
        Some((is_leader, list))
    });
    let best = lists.fold(
        None,
        |best: Option<(bool, &MemberList)>, (leader, list)| match best {
            Some((true, _)) => best,
            Some(_) if !leader => best,
            _ => Some((leader, list)),
        },
    );
    match best {
        Some((_, list)) => Ok(list.members.clone()),
        None => Err(probes
            .iter()
            .filter_map(|p| p.members.as_ref()?.as_ref().err().cloned())
            .collect::<Vec<_>>()
            .join("; ")),
    }
}

/// Whether an answering probe is this member.
fn reached(member: &Member, probes: &[Probe]) -> bool {
    probes
        .iter()
        .filter_map(Probe::answered)
        .any(|s| s.header.member_id == member.id)
}

/// Whether a configured endpoint is one of the member's client URLs (it was asked already).
fn configured(member: &Member, endpoints: &[String]) -> bool {
    member
        .client_urls
        .iter()
        .any(|u| endpoints.iter().any(|e| same_listener(u, e)))
}

/// The alarm list, asked of the leader (or a healthy member) when a quorum is healthy.
async fn alarm_list(
    session: &Session<'_>,
    probes: &[Probe],
    members: &Result<Vec<Member>, String>,
) -> Result<Vec<Alarm>, String> {
    let members = members.as_ref().map_err(|_| "no member list")?;
    let healthy = |p: &&Probe| p.health.is_ok() && p.answered().is_some_and(Status::sees_leader);
    let voting: Vec<u64> = members
        .iter()
        .filter(|m| !m.is_learner)
        .map(|m| m.id)
        .collect();
    let mut healthy_voting: Vec<u64> = probes
        .iter()
        .filter(healthy)
        .filter_map(|p| p.answered().map(|s| s.header.member_id))
        .filter(|id| voting.contains(id))
        .collect();
    healthy_voting.sort_unstable();
    healthy_voting.dedup();
    if healthy_voting.len() <= voting.len() / 2 {
        return Err("no healthy quorum".into());
    }
    let is_leader = |p: &&Probe| p.answered().is_some_and(|s| s.leader == s.header.member_id);
    let ask = probes
        .iter()
        .filter(healthy)
        .find(is_leader)
        .or_else(|| probes.iter().find(healthy))
        .ok_or("no healthy member")?;
    let (list, _) = session
        .post::<AlarmList>(&ask.url, "/v3/maintenance/alarm", r#"{"action":"GET"}"#)
        .await?;
    Ok(list.alarms)
}
