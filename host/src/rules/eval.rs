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
    collections::{HashMap, HashSet},
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
    /// Which rules fired, each with its reason (to add after the connector's).
    pub fired: Vec<Fired>,
}

/// Places a rule's reason is given for, each on its own; past them one entry counts the rest
/// (a rule over 5,000 queues must not add 5,000 reasons to every report).
pub const REASONS_PER_RULE: usize = 10;

/// The fanned metric and the series of it a place takes, when a rule is evaluated per
/// series.
type Fan<'a> = Option<(&'a str, usize)>;

/// One place a rule is evaluated at.
struct Place<'a> {
    node: Option<usize>,
    fan: Fan<'a>,
    labels: &'a [LabelDef],
}

impl Rules {
    /// The verdict of `report` after the rules, updating `held`; `None` without rules.
    pub fn judge(&self, report: &Collected, held: &mut Held) -> Option<Verdict> {
        if self.rules.is_empty() {
            return None;
        }
        let schema = report.schema();
        // Only the names the rules use: a report of thousands of series costs a length
        // compare for most of them.
        let lengths: HashSet<usize> = self.metrics.iter().map(String::len).collect();
        let mut cluster: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, s) in schema.series().iter().enumerate() {
            if s.node != 0 || !lengths.contains(&(s.name.len as usize)) {
                continue;
            }
            let name = schema.str(s.name);
            if self.metrics.contains(name) {
                cluster.entry(name).or_default().push(i);
            }
        }
        let nodes = match self.per_node {
            true => NodeMaps::new(
                schema,
                report.values(),
                report.node_status(),
                &self.node_metrics,
            ),
            false => NodeMaps::default(),
        };
        let mut root = Context::default();
        root.add_variable_from_value("status", report.status().as_str());
        let seen = Seen {
            report,
            cluster: &cluster,
            nodes: &nodes,
            root: &root,
        };
        let mut before = std::mem::take(&mut held.0);
        let mut fired: Vec<(&Rule, Fired)> = Vec::new();
        for (index, rule) in self.rules.iter().enumerate() {
            let Some(places) = places(rule, &seen) else {
                continue;
            };
            let mut keys = HashSet::new();
            let mut reasons = 0;
            for place in places {
                let key = (index, place_key(schema, &place));
                // A second place with the same node and labels is the same place.
                if !keys.insert(key.1.clone()) || !rule.holds_at(&place, &seen) {
                    continue;
                }
                let count = before.remove(&key).unwrap_or(0).saturating_add(1);
                held.0.insert(key, count);
                if count < rule.holds_for {
                    continue;
                }
                reasons += 1;
                if reasons <= REASONS_PER_RULE {
                    let reason = rule.fill(&place, &seen);
                    fired.push((rule, rule.fired(reason, 1)));
                } else if reasons == REASONS_PER_RULE + 1 {
                    fired.push((rule, rule.fired(String::new(), 1)));
                } else if let Some((_, more)) = fired.last_mut() {
                    more.places += 1;
                }
            }
            if reasons > REASONS_PER_RULE
                && let Some((_, more)) = fired.last_mut()
            {
                more.reason = format!("{}: and {} more places", rule.name, more.places);
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
        Some(Verdict {
            status,
            fired: fired.into_iter().map(|(_, f)| f).collect(),
        })
    }
}

/// What one report gives its rules to read, made once per report.
struct Seen<'a> {
    report: &'a Collected,
    /// The cluster-level series of each name.
    cluster: &'a HashMap<&'a str, Vec<usize>>,
    nodes: &'a NodeMaps,
    /// What every evaluation sees (`status`); each place adds its own in a scope of it.
    root: &'a Context<'a>,
}

/// Where `rule` is evaluated in this report; `None` when a metric it names is missing.
fn places<'a>(rule: &'a Rule, seen: &Seen<'a>) -> Option<Vec<Place<'a>>> {
    let schema = seen.report.schema();
    let mut fan = None;
    for metric in &rule.metrics {
        let Some(series) = seen.cluster.get(metric.as_str()) else {
            rule.note_missing(metric);
            return None;
        };
        let labelled = series.len() > 1 || schema.series()[series[0]].labels.len > 0;
        if labelled && fan.is_none() {
            fan = Some((metric.as_str(), series));
        }
    }
    let by_series: Vec<(Fan<'_>, &[LabelDef])> = match fan {
        Some((metric, series)) => series
            .iter()
            .map(|&i| (Some((metric, i)), schema.labels(schema.series()[i].labels)))
            .collect(),
        None => vec![(None, schema.report_labels())],
    };
    let by_node: Vec<Option<usize>> = if rule.per_node {
        (0..seen.nodes.len()).map(Some).collect()
    } else {
        vec![None]
    };
    let mut all = Vec::with_capacity(by_series.len() * by_node.len());
    for &node in &by_node {
        for &(fan, labels) in &by_series {
            all.push(Place { node, fan, labels });
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
    if place.fan.is_some() {
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
    fn fired(&self, reason: String, places: u32) -> Fired {
        Fired {
            rule: Arc::clone(&self.name),
            status: self.status,
            reason,
            places,
        }
    }

    fn holds_at(&self, place: &Place<'_>, seen: &Seen<'_>) -> bool {
        let schema = seen.report.schema();
        let mut context = seen.root.new_inner_scope();
        for metric in &self.metrics {
            let value = metric_value(metric, place, seen);
            context.add_variable_from_value(metric.as_str(), value.unwrap_or(f64::NAN));
        }
        context.add_variable_from_value("labels", label_map(schema, place.labels));
        if let Some(n) = place.node {
            context.add_variable_from_value("node", seen.nodes.map(n));
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

    fn warn_once(&self, why: String) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "rule '{}' ({}) cannot be evaluated: {why}; it does not fire",
                self.name,
                self.when
            );
        }
    }

    /// Says once (at debug: a metric may come and go) that a report lacks a metric the rule
    /// names, which is also how a misspelt name shows.
    fn note_missing(&self, metric: &str) {
        if !self.missing_noted.swap(true, Ordering::Relaxed) {
            tracing::debug!(
                "rule '{}' names the metric '{metric}', which a report did not have; it does \
                 not hold there",
                self.name
            );
        }
    }

    /// The reason with its placeholders filled in: `{value}` (the first metric the
    /// condition names: a node metric in a per-node rule), `{node}`, `{status}`,
    /// `{labels.KEY}`, `{node.NAME}` and `{NAME}` for any metric of the report. An unknown
    /// placeholder stays as written.
    fn fill(&self, place: &Place<'_>, seen: &Seen<'_>) -> String {
        let (report, nodes) = (seen.report, seen.nodes);
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
                            .and_then(|m| metric_value(m, place, seen)),
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
                    metric_value(name, place, seen).map(number)
                }
            }
        };
        fill_template(&self.reason, lookup)
    }
}

/// The value of the cluster-level `metric` at `place`: the place's series for the fanned
/// metric, the first series of the name for the others.
fn metric_value(metric: &str, place: &Place<'_>, seen: &Seen<'_>) -> Option<f64> {
    let i = match place.fan {
        Some((fanned, series)) if fanned == metric => series,
        _ => *seen.cluster.get(metric)?.first()?,
    };
    seen.report.values().get(i).copied()
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

/// Each node as a condition sees it, made once per report (a CEL map, shared by every
/// evaluation at that node).
#[derive(Default)]
struct NodeMaps {
    maps: Vec<Value>,
}

impl NodeMaps {
    /// The nodes with their own fields and the `used` metrics.
    fn new(
        schema: &Schema,
        values: &[f64],
        statuses: &[NodeStatus],
        used: &HashSet<String>,
    ) -> NodeMaps {
        let mut maps: Vec<HashMap<String, Value>> = schema
            .nodes()
            .zip(statuses)
            .map(|(node, status)| {
                let text = |s: &str| Value::String(Arc::new(s.to_string()));
                HashMap::from([
                    ("id".to_string(), text(node.id)),
                    ("address".to_string(), text(node.address)),
                    ("status".to_string(), text(status.as_str())),
                    (
                        "labels".to_string(),
                        Value::from(label_map(schema, node.labels)),
                    ),
                ])
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
            if used.contains(name) && !NODE_FIELDS.contains(&name) && !map.contains_key(name) {
                map.insert(name.to_string(), Value::Float(*value));
            }
        }
        NodeMaps {
            maps: maps.into_iter().map(Value::from).collect(),
        }
    }

    fn len(&self) -> usize {
        self.maps.len()
    }

    fn map(&self, n: usize) -> Value {
        self.maps[n].clone()
    }

    fn metric(&self, n: usize, name: &str) -> Option<f64> {
        let Value::Map(map) = self.maps.get(n)? else {
            return None;
        };
        match map.map.get(&cel::objects::Key::from(name))? {
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
