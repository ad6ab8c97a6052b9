//! The health rules: each finding becomes a reason that names the figure and the node, and
//! raises the report's status.

use crate::cluster::Cluster;
use crate::fetch::{Health, VarsFailure};
use crate::figures::Figures;
use crate::options::Settings;
use dbmon_connector_api::{NodeStatus, Report};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// DEGRADED.
    Degraded,
    /// UNHEALTHY.
    Unhealthy,
}

/// The findings of one collection, worst first.
pub fn findings(
    settings: &Settings,
    cluster: &Cluster,
    figures: &Figures,
) -> Vec<(Severity, String)> {
    use Severity::{Degraded, Unhealthy};
    let mut out = Vec::new();
    let name = |i: usize| cluster.nodes[i].name(settings);
    let by_node = |f: fn(&crate::vars::NodeVars) -> f64| -> String {
        let parts: Vec<String> = cluster
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| Some((i, f(n.vars.as_ref()?))))
            .filter(|(_, v)| *v > 0.0)
            .map(|(i, v)| format!("{}: {v}", name(i)))
            .collect();
        parts.join(", ")
    };
    if figures.ranges_unavailable > 0.0 {
        out.push((
            Unhealthy,
            format!(
                "{} ranges unavailable (ranges_unavailable; they lost a quorum of replicas), on {}",
                figures.ranges_unavailable,
                by_node(|v| v.ranges_unavailable)
            ),
        ));
    }
    for (i, node) in cluster.nodes.iter().enumerate() {
        if node.status == NodeStatus::Dead {
            out.push((Unhealthy, format!("{} is dead (node liveness)", name(i))));
        }
    }
    let known = figures.nodes_total - figures.nodes_decommissioned;
    if known > 0.0 && figures.nodes_live * 2.0 <= known {
        out.push((
            Unhealthy,
            format!(
                "only {} of {known} nodes live (nodes_live): a majority is needed",
                figures.nodes_live
            ),
        ));
    }
    if let Some(used) = figures.capacity_used_percent() {
        let fullest = cluster
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let v = n.vars.as_ref()?;
                Some((
                    i,
                    crate::figures::used_percent(v.capacity_used, v.capacity_available)?,
                ))
            })
            .reduce(|a, b| if b.1 > a.1 { b } else { a });
        let fullest = fullest
            .map(|(i, p)| format!(" (fullest: {} at {p:.1} %)", name(i)))
            .unwrap_or_default();
        let (limit, severity) = if used >= settings.capacity_unhealthy_percent {
            (settings.capacity_unhealthy_percent, Some(Unhealthy))
        } else if used >= settings.capacity_degraded_percent {
            (settings.capacity_degraded_percent, Some(Degraded))
        } else {
            (0.0, None)
        };
        if let Some(severity) = severity {
            out.push((
                severity,
                format!("capacity_used_percent is {used:.1} %, at or above {limit} %{fullest}"),
            ));
        }
    }
    if figures.ranges_underreplicated > 0.0 {
        out.push((
            Degraded,
            format!(
                "{} ranges under-replicated (ranges_underreplicated), on {}",
                figures.ranges_underreplicated,
                by_node(|v| v.ranges_underreplicated)
            ),
        ));
    }
    for (i, node) in cluster.nodes.iter().enumerate() {
        let gone = matches!(node.status, NodeStatus::Dead | NodeStatus::Decommissioned);
        let state = match node.status {
            NodeStatus::Draining => Some("draining"),
            NodeStatus::Decommissioning => Some("decommissioning"),
            NodeStatus::Unavailable if node.liveness.is_some() => Some("unavailable"),
            _ => None,
        };
        if let Some(state) = state {
            out.push((Degraded, format!("{} is {state} (node liveness)", name(i))));
        }
        if let Some(failure) = node.failure.as_ref().filter(|_| !gone) {
            let reason = match failure {
                VarsFailure::NotAnswering(cause) => format!("{} not answering: {cause}", name(i)),
                VarsFailure::Refused(what) => format!("{}: {what}", name(i)),
            };
            out.push((Degraded, reason));
        } else if let Some(health) = node.health.as_ref().filter(|h| !h.ok() && !gone) {
            let detail = match health {
                Health::NotOk {
                    status, message, ..
                } => format!("{message} (GET /health?ready=1: HTTP {status})"),
                Health::Failed(cause) => format!("GET /health?ready=1: {cause}"),
                Health::Ok { .. } => String::new(),
            };
            out.push((Degraded, format!("{} not ready: {detail}", name(i))));
        }
        if let Some(v) = node.vars.as_ref().filter(|v| v.bad_lines > 0) {
            out.push((
                Degraded,
                format!(
                    "{}: {} lines of /_status/vars could not be parsed ({})",
                    name(i),
                    v.bad_lines,
                    v.first_error.as_deref().unwrap_or_default()
                ),
            ));
        }
    }
    if let Some((i, mean, _)) = figures.clock_offset {
        let max_ns = settings.max_offset.as_nanos() as f64;
        let limit_ns = max_ns * settings.clock_offset_degraded_percent / 100.0;
        if mean.abs() >= limit_ns {
            out.push((
                Degraded,
                format!(
                    "clock_offset_mean_ns of {} is {:.1} ms, at or above {} % of max_offset {}",
                    name(i),
                    mean / 1e6,
                    settings.clock_offset_degraded_percent,
                    humantime::format_duration(settings.max_offset)
                ),
            ));
        }
    }
    if let Some(Err(why)) = &cluster.api {
        out.push((
            Degraded,
            format!("node liveness unknown: the nodes API did not answer: {why}"),
        ));
    }
    out
}

/// Adds the findings to `report`.
pub fn judge(report: &mut Report, findings: Vec<(Severity, String)>) {
    for (severity, reason) in findings {
        match severity {
            Severity::Degraded => report.degraded(reason),
            Severity::Unhealthy => report.unhealthy(reason),
        }
    }
}
