//! The report from every request's outcome on every node: series, node statuses, verdict.

use crate::extract::{Extract, Found, Sample};
use crate::fetch::{Answer, Failure};
use crate::options::Scope;
use crate::plan::{Plan, Request};
use dbmon_connector_api::{Error, NodeRef, NodeStatus, Report};
use std::collections::HashSet;

/// One request's outcome on one node.
pub struct Outcome<'a> {
    /// Which request (index in the plan) and the request.
    pub request: (usize, &'a Request),
    /// Which node (index in the plan).
    pub node: usize,
    /// The answer, or why there is none.
    pub result: Result<Answer, Failure>,
}

/// What the answers said of one node.
#[derive(Default)]
struct NodeFindings {
    /// Why its requests failed.
    failures: Vec<String>,
    /// The first status other than live that a node_status rule gave, and why.
    status: Option<(NodeStatus, String)>,
}

/// Builds the report; `Err` when no request got a good answer anywhere.
pub fn write(plan: &Plan, outcomes: &[Outcome<'_>]) -> Result<Report, Error> {
    let failure = |o: &Outcome<'_>, why: &str| {
        let (_, request) = o.request;
        format!(
            "node {}: {} {}: {why}",
            plan.nodes[o.node].id, request.method, request.label
        )
    };
    if outcomes.iter().all(|o| o.result.is_err()) {
        let failures: Vec<String> = outcomes
            .iter()
            .filter_map(|o| o.result.as_ref().err().map(|f| failure(o, &f.why)))
            .collect();
        return Err(failures.join("; ").into());
    }
    let mut report = Report::new();
    let refs: Vec<NodeRef> = plan
        .nodes
        .iter()
        .map(|n| {
            let node = report.node(&n.id, NodeStatus::Live);
            report.node_address(node, &n.address);
            node
        })
        .collect();
    let mut findings: Vec<NodeFindings> =
        plan.nodes.iter().map(|_| NodeFindings::default()).collect();
    // Cluster-scope requests whose figures are in: the first node that answered gives them.
    let mut taken: HashSet<usize> = HashSet::new();
    let mut required_missing = Vec::new();
    for outcome in outcomes {
        let (index, request) = outcome.request;
        let node = refs[outcome.node];
        let (status, elapsed) = match &outcome.result {
            Ok(answer) => (Some(answer.status), Some(answer.elapsed)),
            Err(f) => (f.status, f.elapsed),
        };
        if let Some(elapsed) = elapsed {
            report
                .node_metric(node, "request_ms", elapsed.as_secs_f64() * 1000.0)
                .gauge()
                .unit("ms")
                .label("request", &request.label);
        }
        if let Some(status) = status {
            report
                .node_metric(node, "status_code", f64::from(status))
                .gauge()
                .label("request", &request.label);
        }
        let answer = match &outcome.result {
            Ok(answer) => answer,
            Err(f) => {
                findings[outcome.node]
                    .failures
                    .push(failure(outcome, &f.why));
                continue;
            }
        };
        let target = match request.scope {
            Scope::Node => Some(node),
            Scope::Cluster if taken.insert(index) => None,
            // Another node's answer already gave the cluster's figures.
            Scope::Cluster => {
                judge_status(request, answer, &mut findings[outcome.node]);
                continue;
            }
        };
        for (extract, found) in request.extracts.iter().zip(&answer.reading.found) {
            add_series(&mut report, target, extract, &found.samples);
            note_missing(outcome, plan, extract, found, &mut required_missing);
        }
        judge_status(request, answer, &mut findings[outcome.node]);
    }
    verdict(&mut report, plan, &refs, findings);
    for reason in required_missing {
        report.degraded(reason);
    }
    Ok(report)
}

fn add_series(report: &mut Report, node: Option<NodeRef>, extract: &Extract, samples: &[Sample]) {
    for sample in samples {
        let mut metric = match node {
            Some(node) => report.node_metric(node, &extract.name, sample.value),
            None => report.metric(&extract.name, sample.value),
        };
        metric = metric.kind(extract.kind);
        if let Some(unit) = &extract.unit {
            metric = metric.unit(unit);
        }
        if let Some(help) = &extract.help {
            metric = metric.help(help);
        }
        for (key, value) in &sample.labels {
            metric = metric.label(key, value);
        }
    }
}

/// A missing value: a reason when the rule is `required`, else a debug line.
fn note_missing(
    outcome: &Outcome<'_>,
    plan: &Plan,
    extract: &Extract,
    found: &Found,
    required: &mut Vec<String>,
) {
    let Some(first) = found.missing.first() else {
        return;
    };
    let (_, request) = outcome.request;
    let node = &plan.nodes[outcome.node].id;
    let more = match found.missing.len() {
        1 => String::new(),
        n => format!(" (and {} more elements)", n - 1),
    };
    if extract.required {
        required.push(format!(
            "node {node}: {} {}: required metric {} is missing: {first}{more}",
            request.method, request.label, extract.name
        ));
    } else {
        tracing::debug!(
            node = %node,
            request = %request.label,
            metric = %extract.name,
            rule = %extract.field,
            "series left out: {first}{more}"
        );
    }
}

fn judge_status(request: &Request, answer: &Answer, findings: &mut NodeFindings) {
    let (Some(rule), Some((status, shown))) = (&request.node_status, &answer.reading.status) else {
        return;
    };
    if findings.status.is_some() {
        return;
    }
    match status {
        Ok(NodeStatus::Live) => {}
        Ok(status) => {
            let why = format!("node_status: {} is '{shown}'", rule.selector);
            findings.status = Some((*status, why));
        }
        Err(why) => findings.status = Some((NodeStatus::Unknown, why.clone())),
    }
}

/// Node statuses and the reasons: a failed request makes its node dead; every node dead is
/// UNREACHABLE, some DEGRADED; a node_status other than live or decommissioned is DEGRADED.
fn verdict(report: &mut Report, plan: &Plan, refs: &[NodeRef], findings: Vec<NodeFindings>) {
    let dead = findings
        .iter()
        .filter(|f| !f.failures.is_empty() || matches!(f.status, Some((NodeStatus::Dead, _))))
        .count();
    let all_dead = dead == findings.len();
    let raise = |report: &mut Report, reason: String| match all_dead {
        true => report.unreachable(reason),
        false => report.degraded(reason),
    };
    for (i, found) in findings.into_iter().enumerate() {
        let node = refs[i];
        let id = &plan.nodes[i].id;
        if !found.failures.is_empty() {
            report.node_status(node, NodeStatus::Dead);
            for reason in found.failures {
                raise(report, reason);
            }
            continue;
        }
        let Some((status, why)) = found.status else {
            continue;
        };
        report.node_status(node, status);
        match status {
            NodeStatus::Dead => raise(report, format!("node {id} is dead ({why})")),
            NodeStatus::Decommissioned => {}
            NodeStatus::Unknown => report.degraded(format!("node {id}: status unknown: {why}")),
            other => report.degraded(format!("node {id} is {} ({why})", other.as_str())),
        }
    }
}
