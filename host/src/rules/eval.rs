//! Applying the rules to one report.
//!
//! A condition sees:
//! - every cluster-level metric it names, by name (`nodes_live`); for the first named metric
//!   whose series carry labels (several series of one name differ by them), the rule is
//!   evaluated once per series, with that series' value and `labels`;
//! - `labels`: the series' labels in that case, the report's labels otherwise
//!   (`labels.version`);
//! - `status`: the connector's verdict (`"healthy"`, `"degraded"`, ...);
//! - `node`, when it names it: the rule is evaluated once per node, and `node.NAME` is that
//!   node's metric (the first series of the name), `node.id`, `node.address`, `node.status`
//!   (`"live"`, `"dead"`, ...) and `node.labels` its own.
//!
//! A rule whose metric is not in the report, or whose node lacks the metric, does not hold
//! there. Any other evaluation error (a type mismatch) is logged once per rule.

use super::{Fired, Rule, Rules};
use crate::store::{Collected, LabelDef, Schema};
use cel::{Context, Value};
use dbmon_connector_api::{NodeStatus, Status};
use std::{
    collections::HashMap,
    sync::{Arc, atomic::Ordering},
};

/// The node's own fields in a condition; any other `node.NAME` is a metric.
pub const NODE_FIELDS: [&str; 4] = ["id", "address", "status", "labels"];

/// For each rule and place it held in (node, series), the reports in a row it held in: what
/// `for:` counts. One per agent.
#[derive(Debug, Default)]
pub struct Held(HashMap<(usize, String), u32>);

impl Held {
    /// A report without metrics (a failed collection) breaks every run.
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// The verdict after the rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The status.
    pub status: Status,
    /// The fired rules' reasons, to add to the connector's.
    pub reasons: Vec<String>,
    /// Which rules fired.
    pub fired: Vec<Fired>,
}

/// One place a rule is evaluated at.
struct Place<'a> {
    node: Option<usize>,
    /// The series of the fanned metric, when the rule is evaluated per series.
    series: Option<usize>,
    labels: &'a [LabelDef],
}

impl Rules {
    /// The verdict of `report` after the rules, updating `held`; `None` without rules.
    pub fn judge(&self, report: &Collected, held: &mut Held) -> Option<Verdict> {
        if self.rules.is_empty() {
            return None;
        }
        let schema = report.schema();
        let values = report.values();
        let mut cluster: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, s) in schema.series().iter().enumerate() {
            if s.node == 0 {
                cluster.entry(schema.str(s.name)).or_default().push(i);
            }
        }
        let nodes = NodeMaps::new(schema, values, report.node_status());
        let mut before = std::mem::take(&mut held.0);
        let mut fired: Vec<(&Rule, Fired)> = Vec::new();
        for (index, rule) in self.rules.iter().enumerate() {
            let Some(places) = places(rule, schema, &cluster, nodes.len()) else {
                continue;
            };
            for place in places {
                let holds = rule.holds_at(&place, report, &cluster, &nodes);
                if !holds {
                    continue;
                }
                let key = (index, place_key(schema, &place));
                let count = before.remove(&key).unwrap_or(0) + 1;
                held.0.insert(key, count);
                if count >= rule.holds_for {
                    let reason = rule.fill(&place, report, &cluster, &nodes);
                    let entry = Fired {
                        rule: Arc::clone(&rule.name),
                        status: rule.status,
                        reason,
                    };
                    fired.push((rule, entry));
                }
            }
        }
        let mut status = report.status();
        if let Some(max) = fired
            .iter()
            .filter(|(r, _)| r.overrides)
            .map(|(r, _)| r.status)
            .max()
        {
            status = max;
        }
        for (rule, _) in fired.iter().filter(|(r, _)| !r.overrides) {
            status = status.max(rule.status);
        }
        before.clear();
        let fired: Vec<Fired> = fired.into_iter().map(|(_, f)| f).collect();
        Some(Verdict {
            status,
            reasons: fired.iter().map(|f| f.reason.clone()).collect(),
            fired,
        })
    }
}

/// Where `rule` is evaluated in this report; `None` when a metric it names is missing.
fn places<'a>(
    rule: &Rule,
    schema: &'a Schema,
    cluster: &HashMap<&str, Vec<usize>>,
    nodes: usize,
) -> Option<Vec<Place<'a>>> {
    let mut fan = None;
    for metric in &rule.metrics {
        let series = cluster.get(metric.as_str())?;
        let labelled = series.len() > 1 || schema.series()[series[0]].labels.len > 0;
        if labelled && fan.is_none() {
            fan = Some(series);
        }
    }
    let by_series: Vec<(Option<usize>, &[LabelDef])> = match fan {
        Some(series) => series
            .iter()
            .map(|&i| (Some(i), schema.labels(schema.series()[i].labels)))
            .collect(),
        None => vec![(None, schema.report_labels())],
    };
    let by_node: Vec<Option<usize>> = if rule.per_node {
        (0..nodes).map(Some).collect()
    } else {
        vec![None]
    };
    let mut all = Vec::with_capacity(by_series.len() * by_node.len());
    for &node in &by_node {
        for &(series, labels) in &by_series {
            all.push(Place {
                node,
                series,
                labels,
            });
        }
    }
    Some(all)
}

/// What tells one place from another across reports: the node's id and the series' labels.
fn place_key(schema: &Schema, place: &Place<'_>) -> String {
    let mut key = String::new();
    if let Some(n) = place.node {
        key.push_str(schema.str(schema.node_defs()[n].id));
    }
    if place.series.is_some() {
        for l in place.labels {
            key.push('\u{1f}');
            key.push_str(schema.str(l.key));
            key.push('=');
            key.push_str(schema.str(l.value));
        }
    }
    key
}

impl Rule {
    fn holds_at(
        &self,
        place: &Place<'_>,
        report: &Collected,
        cluster: &HashMap<&str, Vec<usize>>,
        nodes: &NodeMaps,
    ) -> bool {
        let schema = report.schema();
        let mut context = Context::default();
        for metric in &self.metrics {
            let value = self.metric_value(metric, place, report, cluster);
            context.add_variable_from_value(metric.as_str(), value.unwrap_or(f64::NAN));
        }
        context.add_variable_from_value("labels", label_map(schema, place.labels));
        context.add_variable_from_value("status", report.status().as_str());
        if let Some(n) = place.node {
            context.add_variable_from_value("node", nodes.map(n));
        }
        match self.program.execute(&context) {
            Ok(Value::Bool(holds)) => holds,
            Ok(other) => {
                self.warn_once(format!("it gives {other:?}, not true or false"));
                false
            }
            // A node without the metric: the rule does not hold there.
            Err(cel::ExecutionError::NoSuchKey(_)) if place.node.is_some() => false,
            Err(e) => {
                self.warn_once(e.to_string());
                false
            }
        }
    }

    fn metric_value(
        &self,
        metric: &str,
        place: &Place<'_>,
        report: &Collected,
        cluster: &HashMap<&str, Vec<usize>>,
    ) -> Option<f64> {
        let series = cluster.get(metric)?;
        // The fanned metric takes the place's series; others their first.
        let i = match place.series {
            Some(s) if series.contains(&s) => s,
            _ => series[0],
        };
        report.values().get(i).copied()
    }

    fn warn_once(&self, why: String) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "rule '{}' ({}) cannot be evaluated: {why}; it does not fire",
                self.name,
                self.when
            );
        }
    }

    /// The reason with its placeholders filled in: `{value}` (the first metric the
    /// condition names: a node metric in a per-node rule), `{node}`, `{status}`,
    /// `{labels.KEY}`, `{node.NAME}` and `{NAME}` for any metric of the report. An unknown
    /// placeholder stays as written.
    fn fill(
        &self,
        place: &Place<'_>,
        report: &Collected,
        cluster: &HashMap<&str, Vec<usize>>,
        nodes: &NodeMaps,
    ) -> String {
        let schema = report.schema();
        let lookup = |name: &str| -> Option<String> {
            match name {
                "value" => {
                    let node_first = place.node.zip(self.node_metrics.first());
                    let value = match node_first {
                        Some((n, metric)) => nodes.metric(n, metric),
                        None => self
                            .metrics
                            .first()
                            .and_then(|m| self.metric_value(m, place, report, cluster)),
                    };
                    value.map(number)
                }
                "node" => place
                    .node
                    .map(|n| schema.str(schema.node_defs()[n].id).to_string()),
                "status" => Some(report.status().as_str().to_string()),
                _ => {
                    if let Some(key) = name.strip_prefix("labels.") {
                        return place
                            .labels
                            .iter()
                            .find(|l| schema.str(l.key) == key)
                            .map(|l| schema.str(l.value).to_string());
                    }
                    if let Some(metric) = name.strip_prefix("node.") {
                        return place.node.and_then(|n| nodes.metric(n, metric)).map(number);
                    }
                    self.metric_value(name, place, report, cluster).map(number)
                }
            }
        };
        fill_template(&self.reason, lookup)
    }
}

/// `{name}` in `template` replaced by what `lookup` says; unknown ones stay.
fn fill_template(template: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = after[..close].trim();
                match lookup(name) {
                    Some(value) => out.push_str(&value),
                    None => out.push_str(&rest[open..open + close + 2]),
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// A value as an operator reads it: whole numbers without decimals, others with up to two.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let text = format!("{v:.2}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn label_map(schema: &Schema, labels: &[LabelDef]) -> HashMap<String, Value> {
    labels
        .iter()
        .map(|l| {
            let value = Value::String(Arc::new(schema.str(l.value).to_string()));
            (schema.str(l.key).to_string(), value)
        })
        .collect()
}

/// Each node as a condition sees it, made once per report.
struct NodeMaps {
    maps: Vec<HashMap<String, Value>>,
}

impl NodeMaps {
    fn new(schema: &Schema, values: &[f64], statuses: &[NodeStatus]) -> NodeMaps {
        let mut maps: Vec<HashMap<String, Value>> = schema
            .nodes()
            .zip(statuses)
            .map(|(node, status)| {
                let mut map = HashMap::new();
                map.insert("id".into(), Value::String(Arc::new(node.id.to_string())));
                map.insert(
                    "address".into(),
                    Value::String(Arc::new(node.address.to_string())),
                );
                map.insert(
                    "status".into(),
                    Value::String(Arc::new(status.as_str().to_string())),
                );
                map.insert("labels".into(), Value::from(label_map(schema, node.labels)));
                map
            })
            .collect();
        for (s, value) in schema.series().iter().zip(values) {
            if s.node == 0 {
                continue;
            }
            let Some(map) = maps.get_mut(s.node as usize - 1) else {
                continue;
            };
            let name = schema.str(s.name);
            if !NODE_FIELDS.contains(&name) && !map.contains_key(name) {
                map.insert(name.to_string(), Value::Float(*value));
            }
        }
        NodeMaps { maps }
    }

    fn len(&self) -> usize {
        self.maps.len()
    }

    fn map(&self, n: usize) -> HashMap<String, Value> {
        self.maps[n].clone()
    }

    fn metric(&self, n: usize, name: &str) -> Option<f64> {
        match self.maps.get(n)?.get(name)? {
            Value::Float(v) => Some(*v),
            _ => None,
        }
    }
}

#[cfg(test)]
pub(super) fn fill_for_test(template: &str, values: &[(&str, &str)]) -> String {
    fill_template(template, |name| {
        values
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
}
