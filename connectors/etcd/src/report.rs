//! The report: the verdict with its reasons, cluster metrics, and one node per member.

use crate::api::Alarm;
use crate::options::Settings;
use crate::view::{Condition, MemberView, View};
use dbmon_connector_api::Report;

/// Writes what `view` shows (and the `alarms`) as a report.
pub fn write(view: &View, alarms: &[Alarm], settings: &Settings) -> Report {
    let mut report = Report::new();
    labels(&mut report, view);
    let voting = view.members.iter().filter(|m| !m.member.is_learner).count();
    let healthy = |m: &&MemberView| m.condition == Condition::Healthy;
    let voting_healthy = view
        .members
        .iter()
        .filter(|m| !m.member.is_learner)
        .filter(healthy)
        .count();
    let answering = view.members.iter().filter(|m| m.status().is_some()).count();

    if view.leader.is_none() {
        report.unhealthy(format!(
            "no leader: none of the {answering} answering members knows one"
        ));
    }
    let quorum = voting / 2 + 1;
    if voting_healthy < quorum {
        report.unhealthy(format!(
            "quorum lost: {voting_healthy} of {voting} voting members healthy, etcd needs {quorum}"
        ));
    }
    for m in &view.members {
        member_reasons(&mut report, m);
    }
    for (_, why) in &view.strays {
        report.degraded(why.clone());
    }
    for alarm in alarms {
        report.degraded(alarm_reason(alarm, view));
    }
    let spread = raft_index_spread(&mut report, view, settings.raft_index_spread_degraded);
    let quota_percent = quota(&mut report, view, settings.db_quota_used_degraded_percent);

    let statuses = || view.members.iter().filter_map(MemberView::status);
    let max =
        |f: fn(&MemberView) -> Option<f64>| view.members.iter().filter_map(f).reduce(f64::max);
    report.metric("members", view.members.len() as f64).gauge();
    report
        .metric(
            "members_healthy",
            view.members.iter().filter(healthy).count() as f64,
        )
        .gauge();
    report
        .metric("has_leader", if view.leader.is_some() { 1.0 } else { 0.0 })
        .gauge();
    match view.leader {
        Some(id) => {
            let name = view.member(id).map_or(String::new(), |m| m.node_id.clone());
            report
                .metric("leader_id", id as f64)
                .gauge()
                .label("member_id", &format!("{id:x}"))
                .label("name", &name);
        }
        None => {
            report.metric("leader_id", 0.0).gauge();
        }
    }
    if let Some(changes) = max(|m| m.probe?.metrics.as_ref().ok()?.leader_changes) {
        report.metric("leader_changes", changes).counter();
    }
    if let Some(spread) = spread {
        report.metric("raft_index_spread", spread as f64).gauge();
    }
    if let Some(size) = statuses().map(|s| s.db_size).max() {
        report
            .metric("db_size_bytes", size as f64)
            .gauge()
            .unit("bytes");
    }
    if let Some(size) = statuses().map(|s| s.db_size_in_use).max() {
        report
            .metric("db_size_in_use_bytes", size as f64)
            .gauge()
            .unit("bytes");
    }
    if let Some(percent) = quota_percent {
        report
            .metric("db_quota_used_percent", percent)
            .gauge()
            .unit("percent");
    }
    report.metric("alarms", alarms.len() as f64).gauge();
    if let Some(ms) = max(|m| Some(m.probe?.status.as_ref().ok()?.1.as_secs_f64() * 1e3)) {
        report.metric("round_trip_ms", ms).gauge().unit("ms");
    }
    for m in &view.members {
        node(&mut report, m, view.leader);
    }
    report
}

/// The cluster's id and version (the leader's, else the first answering member's).
fn labels(report: &mut Report, view: &View) {
    let leader = view
        .leader
        .and_then(|id| view.member(id))
        .and_then(MemberView::status);
    let any = view.members.iter().find_map(MemberView::status);
    if let Some(status) = leader.or(any) {
        report.label("cluster_id", &format!("{:x}", status.header.cluster_id));
        report.label("version", &status.version);
    }
}

fn member_reasons(report: &mut Report, m: &MemberView) {
    let who = m.describe();
    match &m.condition {
        Condition::Healthy => {}
        Condition::NoLeader => report.degraded(format!("{who} knows no leader")),
        Condition::HealthFailed(e) => report.degraded(format!("{who} fails its health check: {e}")),
        Condition::NotAnswering(e) => report.degraded(format!("{who} not answering: {e}")),
        Condition::NotStarted => report.degraded(format!(
            "{who} is listed but has never started (peer URLs {})",
            m.member.peer_urls.join(", ")
        )),
        Condition::NotChecked => report.degraded(format!("{who} was not checked in time")),
    }
    if let (Some(_), Some(Err(e))) = (m.status(), m.probe.map(|p| &p.metrics)) {
        report.degraded(format!("{who}: cannot read its metrics: {e}"));
    }
}

fn alarm_reason(alarm: &Alarm, view: &View) -> String {
    let on = match view.member(alarm.member_id) {
        Some(m) => format!("member {} ({:x})", m.node_id, alarm.member_id),
        None => format!("member {:x}", alarm.member_id),
    };
    let meaning = match alarm.alarm.as_str() {
        "NOSPACE" => {
            ": its database reached the space quota; etcd refuses writes until it is compacted, defragmented and the alarm disarmed"
        }
        "CORRUPT" => {
            ": its data differs from the other members'; etcd refuses requests until it is repaired and the alarm disarmed"
        }
        _ => "",
    };
    format!("alarm {} on {on}{meaning}", alarm.alarm)
}

/// Max − min applied index of the answering members, with a reason when over `threshold`.
fn raft_index_spread(report: &mut Report, view: &View, threshold: u64) -> Option<u64> {
    let applied = |m: &&MemberView| m.status().map_or(0, |s| s.raft_applied_index);
    let answering = || view.members.iter().filter(|m| m.status().is_some());
    let behind = answering().min_by_key(applied)?;
    let ahead = answering().max_by_key(applied)?;
    let spread = applied(&ahead) - applied(&behind);
    if spread > threshold {
        report.degraded(format!(
            "raft applied index spread {spread} is over {threshold}: {} (applied {}) is behind {} (applied {})",
            behind.describe(),
            applied(&behind),
            ahead.node_id,
            applied(&ahead)
        ));
    }
    Some(spread)
}

/// Each member's database size as a percentage of its quota, with reasons over `threshold`;
/// the highest percentage.
fn quota(report: &mut Report, view: &View, threshold: f64) -> Option<f64> {
    let mut highest: Option<f64> = None;
    for m in &view.members {
        let Some(percent) = quota_percent(m) else {
            continue;
        };
        highest = Some(highest.map_or(percent, |h| h.max(percent)));
        if percent > threshold {
            let size = m.status().map_or(0, |s| s.db_size) as f64;
            report.degraded(format!(
                "{}: database {} is {:.1} % of its space quota {} (over {threshold} %); at 100 % etcd raises NOSPACE and refuses writes",
                m.describe(),
                human(size),
                percent,
                human(size * 100.0 / percent)
            ));
        }
    }
    highest
}

/// `20.0 KiB`, `1.7 GiB`.
fn human(bytes: f64) -> String {
    let mut value = bytes;
    for unit in ["bytes", "KiB", "MiB", "GiB"] {
        if value < 1024.0 {
            return format!("{value:.1} {unit}");
        }
        value /= 1024.0;
    }
    format!("{value:.1} TiB")
}

fn quota_percent(m: &MemberView) -> Option<f64> {
    let quota = m
        .probe?
        .metrics
        .as_ref()
        .ok()?
        .quota_bytes
        .filter(|q| *q > 0.0)?;
    Some(m.status()?.db_size as f64 * 100.0 / quota)
}

fn node(report: &mut Report, m: &MemberView, leader: Option<u64>) {
    let node = report.node(&m.node_id, m.condition.node_status());
    if let Some(url) = &m.url {
        report.node_address(node, url);
    }
    report.node_label(node, "member_id", &format!("{:x}", m.member.id));
    let role = match (m.member.is_learner, leader == Some(m.member.id)) {
        (true, _) => "learner",
        (false, true) => "leader",
        (false, false) => "follower",
    };
    report.node_label(node, "role", role);
    if let Some(status) = m.status() {
        report.node_label(node, "version", &status.version);
    }
    let healthy = if m.condition == Condition::Healthy {
        1.0
    } else {
        0.0
    };
    report.node_metric(node, "healthy", healthy).gauge();
    let (Some(status), Some(probe)) = (m.status(), m.probe) else {
        return;
    };
    let is_leader = status.leader != 0 && status.leader == status.header.member_id;
    report
        .node_metric(node, "is_leader", if is_leader { 1.0 } else { 0.0 })
        .gauge();
    if let Ok((_, took)) = &probe.status {
        let ms = took.as_secs_f64() * 1e3;
        report
            .node_metric(node, "round_trip_ms", ms)
            .gauge()
            .unit("ms");
    }
    report
        .node_metric(node, "db_size_bytes", status.db_size as f64)
        .gauge()
        .unit("bytes");
    report
        .node_metric(node, "db_size_in_use_bytes", status.db_size_in_use as f64)
        .gauge()
        .unit("bytes");
    report
        .node_metric(node, "raft_index", status.raft_index as f64)
        .counter();
    report
        .node_metric(node, "raft_applied_index", status.raft_applied_index as f64)
        .counter();
    report
        .node_metric(node, "raft_term", status.raft_term as f64)
        .counter();
    if let Ok(scraped) = &probe.metrics {
        if let Some(changes) = scraped.leader_changes {
            report
                .node_metric(node, "leader_changes", changes)
                .counter();
        }
        if let Some(quota) = scraped.quota_bytes {
            report
                .node_metric(node, "db_quota_bytes", quota)
                .gauge()
                .unit("bytes");
        }
    }
    if let Some(percent) = quota_percent(m) {
        report
            .node_metric(node, "db_quota_used_percent", percent)
            .gauge()
            .unit("percent");
    }
}
