//! Verdict rules written in the configuration (`rules:` on a cluster, `connectors.NAME.rules`
//! as defaults for every cluster of a connector), applied by the agent to each report a
//! connector returns, before it is stored: a rule whose condition holds (for `for:` reports
//! in a row) raises the verdict to its status and adds its reason, naming the rule.
//!
//! Conditions are CEL (the Common Expression Language, which Kubernetes uses for admission and
//! validation rules), through the `cel` crate; `and`, `or` and `not` are accepted as words for
//! `&&`, `||` and `!`. What a condition sees is in [`eval`]. Errors in an expression are
//! configuration errors at the `when:` field with the position inside the expression.

mod eval;
#[cfg(test)]
mod tests;

pub use eval::{Held, Verdict};

use dbmon_connector_api::Status;
use serde::Deserialize;
use std::{
    collections::HashSet,
    sync::{Arc, atomic::AtomicBool},
};

/// One entry of `rules:` as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping (when:, status:, reason:, for:, override:, name:)"
)]
pub struct RuleEntry {
    /// The condition, over the report's metrics (`replication_lag_seconds > 30`).
    pub when: String,
    /// The verdict when it holds.
    pub status: RuleStatus,
    /// Why, with `{metric}`, `{value}`, `{node}`, `{labels.KEY}` filled in. By default, the
    /// condition's text.
    #[serde(default)]
    pub reason: Option<String>,
    /// Reports in a row the condition must hold in before the rule counts. By default 1.
    #[serde(default, rename = "for")]
    pub holds_for: Option<u32>,
    /// The rule's status replaces the connector's verdict even when it is lower.
    #[serde(default, rename = "override")]
    pub overrides: bool,
    /// Its name in reports; a cluster's rule replaces a connector default of the same name.
    /// By default, the condition's text.
    #[serde(default)]
    pub name: Option<String>,
}

/// What a rule may make the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase", expecting = "healthy, degraded or unhealthy")]
pub enum RuleStatus {
    /// Only with `override: true`: a verdict the operator knows to be fine.
    Healthy,
    /// Working, but something needs attention.
    Degraded,
    /// Not working as it should.
    Unhealthy,
}

impl RuleStatus {
    fn status(self) -> Status {
        match self {
            RuleStatus::Healthy => Status::Healthy,
            RuleStatus::Degraded => Status::Degraded,
            RuleStatus::Unhealthy => Status::Unhealthy,
        }
    }
}

/// A rule that fired in a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    /// The rule's name.
    pub rule: Arc<str>,
    /// The status it gave.
    pub status: Status,
    /// Its reason, filled in.
    pub reason: String,
    /// Places (nodes, series) it stands for: 1, or more for the entry that counts the places
    /// past [`eval::REASONS_PER_RULE`].
    pub places: u32,
}

/// What is wrong with one entry: the field (relative to the entry) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// `when`, `for`, `status`, `name`.
    pub field: &'static str,
    /// The message.
    pub message: String,
}

/// Which list of rules an entry is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    /// `connectors.NAME.rules`.
    Defaults,
    /// The cluster's `rules:`.
    Own,
}

/// The rules of one cluster, compiled.
#[derive(Debug, Default)]
pub struct Rules {
    rules: Vec<Rule>,
    /// What they were made from, to tell whether a reload changed them.
    entries: Vec<RuleEntry>,
    /// Every cluster-level metric name the rules use: only those are looked up in a report.
    metrics: HashSet<String>,
    /// Every node metric name they use; empty with no per-node rule.
    node_metrics: HashSet<String>,
    /// Whether some rule is evaluated per node.
    per_node: bool,
}

impl PartialEq for Rules {
    fn eq(&self, other: &Rules) -> bool {
        self.entries == other.entries
    }
}

#[derive(Debug)]
struct Rule {
    name: Arc<str>,
    program: cel::Program,
    /// The condition as written.
    when: String,
    status: Status,
    overrides: bool,
    reason: String,
    holds_for: u32,
    /// Evaluated once per node (it names `node`).
    per_node: bool,
    /// The cluster-level metric names it refers to, in the order they appear.
    metrics: Vec<String>,
    /// The node metric names it refers to (`node.NAME`), in order, its reason's included.
    node_metrics: Vec<String>,
    /// The cluster-level metrics only its reason names (`{NAME}`).
    reason_metrics: Vec<String>,
    /// Whether an evaluation error was logged already (once per rule).
    warned: AtomicBool,
    /// Whether a missing metric was noted already (once per rule).
    missing_noted: AtomicBool,
}

/// Names a condition can use that are not metrics.
const RESERVED: [&str; 3] = ["node", "labels", "status"];

impl Rules {
    /// Compiles a cluster's rules: the connector's defaults, then the cluster's own (which
    /// replace a default of the same name). Errors come with the entry's list and index.
    pub fn compile(
        defaults: &[RuleEntry],
        own: &[RuleEntry],
    ) -> Result<Rules, Vec<(List, usize, RuleError)>> {
        let mut errors = Vec::new();
        let mut rules: Vec<Rule> = Vec::new();
        let mut entries = Vec::new();
        for (which, list) in [(List::Defaults, defaults), (List::Own, own)] {
            let mut names = std::collections::HashSet::new();
            for (index, entry) in list.iter().enumerate() {
                match compile_one(entry) {
                    Ok(rule) => {
                        if !names.insert(Arc::clone(&rule.name)) {
                            let message = format!("a second rule named '{}'", rule.name);
                            errors.push((which, index, field_error("name", message)));
                            continue;
                        }
                        if which == List::Own {
                            rules.retain(|r| r.name != rule.name);
                            entries.retain(|e| entry_name(e) != &*rule.name);
                        }
                        rules.push(rule);
                        entries.push(entry.clone());
                    }
                    Err(e) => errors.push((which, index, e)),
                }
            }
        }
        if errors.is_empty() {
            let (metrics, node_metrics) = rules
                .iter()
                .map(|r| (r.metrics.iter().chain(&r.reason_metrics), &r.node_metrics))
                .fold(
                    Default::default(),
                    |(mut m, mut n): (HashSet<_>, HashSet<_>), r| {
                        m.extend(r.0.cloned());
                        n.extend(r.1.iter().cloned());
                        (m, n)
                    },
                );
            let per_node = rules.iter().any(|r| r.per_node);
            Ok(Rules {
                rules,
                entries,
                metrics,
                node_metrics,
                per_node,
            })
        } else {
            Err(errors)
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

fn entry_name(entry: &RuleEntry) -> &str {
    entry.name.as_deref().unwrap_or(&entry.when)
}

fn field_error(field: &'static str, message: String) -> RuleError {
    RuleError { field, message }
}

fn compile_one(entry: &RuleEntry) -> Result<Rule, RuleError> {
    if entry.status == RuleStatus::Healthy && !entry.overrides {
        return Err(field_error(
            "status",
            "healthy never raises a verdict: with override: true it replaces the connector's"
                .into(),
        ));
    }
    let holds_for = entry.holds_for.unwrap_or(1);
    if holds_for == 0 {
        return Err(field_error(
            "for",
            "for: counts reports in a row, from 1".into(),
        ));
    }
    if let Some(name) = &entry.name
        && name.trim().is_empty()
    {
        return Err(field_error("name", "a rule's name cannot be empty".into()));
    }
    let source = words_to_operators(&entry.when);
    let program = cel::Program::compile(&source).map_err(|e| {
        let detail = e
            .errors
            .first()
            .map(|p| {
                let (line, column) = p.pos;
                let at = if entry.when.contains('\n') {
                    format!("line {line}, column {column}")
                } else {
                    format!("column {column}")
                };
                format!(
                    "{at} of the expression: {}",
                    as_written(&entry.when, p.pos, &p.msg)
                )
            })
            .unwrap_or_else(|| e.to_string());
        field_error("when", format!("'{}' does not parse: {detail}", entry.when))
    })?;
    let referenced: Vec<String> = program
        .references()
        .variables()
        .into_iter()
        .map(str::to_string)
        .collect();
    let mut metrics: Vec<String> = referenced
        .iter()
        .filter(|v| !RESERVED.contains(&v.as_str()))
        .cloned()
        .collect();
    metrics.sort_by_key(|m| first_use(&entry.when, m, false));
    let per_node = referenced.iter().any(|v| v == "node");
    let mut node_metrics = node_metric_names(&entry.when);
    let reason = entry.reason.clone().unwrap_or_else(|| entry.when.clone());
    let mut reason_metrics = Vec::new();
    for name in placeholders(&reason) {
        match name.strip_prefix("node.") {
            Some(metric) if !eval::NODE_FIELDS.contains(&metric) => {
                node_metrics.push(metric.to_string())
            }
            Some(_) => {}
            None if !["value", "node", "status"].contains(&name)
                && !name.starts_with("labels.")
                && !metrics.iter().any(|m| m == name) =>
            {
                reason_metrics.push(name.to_string())
            }
            None => {}
        }
    }
    let when = entry.when.clone();
    Ok(Rule {
        name: entry_name(entry).into(),
        program,
        reason,
        when,
        status: entry.status.status(),
        overrides: entry.overrides,
        holds_for,
        per_node,
        metrics,
        node_metrics,
        reason_metrics,
        warned: AtomicBool::new(false),
        missing_noted: AtomicBool::new(false),
    })
}

/// `and`, `or` and `not` outside string literals as CEL's `&&`, `||` and `!`, each replaced
/// by as many bytes, so that error columns stay those of the text as written.
fn words_to_operators(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if let Some(q) = quote {
            if b == b'\\' && i + 1 < bytes.len() {
                // The backslash and the whole character it escapes.
                let len = 1 + text[i + 1..].chars().next().map_or(0, char::len_utf8);
                out.push_str(&text[i..i + len]);
                i += len;
                continue;
            }
            if b == q {
                quote = None;
            }
            out.push(b as char);
            i += 1;
            continue;
        }
        if b == b'"' || b == b'\'' {
            quote = Some(b);
            out.push(b as char);
            i += 1;
            continue;
        }
        if b.is_ascii_alphabetic() || b == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let word = &text[start..i];
            let after_dot = start > 0 && bytes[start - 1] == b'.';
            out.push_str(match word {
                "and" if !after_dot => "&& ",
                "or" if !after_dot => "||",
                "not" if !after_dot => "!  ",
                _ => word,
            });
            continue;
        }
        // Multi-byte characters are copied whole.
        let len = text[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&text[i..i + len]);
        i += len;
    }
    out
}

/// A parser message about the token at `(line, column)` of the CEL text, with the word the
/// text was written with where [`words_to_operators`] replaced it.
fn as_written(text: &str, (line, column): (isize, isize), message: &str) -> String {
    let Some(line_text) = text.lines().nth((line.max(1) - 1) as usize) else {
        return message.to_string();
    };
    let written = line_text.get((column.max(1) - 1) as usize..).unwrap_or("");
    for (word, operator) in [("and", "'&&'"), ("or", "'||'"), ("not", "'!'")] {
        if written.starts_with(word) && message.contains(operator) {
            return message.replacen(operator, &format!("'{word}'"), 1);
        }
    }
    message.to_string()
}

/// The names inside `{}` in a reason.
fn placeholders(reason: &str) -> impl Iterator<Item = &str> {
    reason
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.trim()))
}

/// Where `name` is first used as a whole word (after `node.` when `after_node`).
fn first_use(text: &str, name: &str, after_node: bool) -> usize {
    let bytes = text.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut from = 0;
    while let Some(found) = text[from..].find(name) {
        let at = from + found;
        let end = at + name.len();
        let before_ok = if after_node {
            text[..at].ends_with("node.")
        } else {
            at == 0 || (!word(bytes[at - 1]) && bytes[at - 1] != b'.')
        };
        if before_ok && (end == bytes.len() || !word(bytes[end])) {
            return at;
        }
        from = end;
    }
    usize::MAX
}

/// The names after `node.` in a condition, in order, once each (`id`, `status`, `labels`,
/// `address` are the node's own fields, not metrics).
fn node_metric_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find("node.") {
        let at = from + found;
        let start = at + "node.".len();
        let before_ok = at == 0 || {
            let b = text.as_bytes()[at - 1];
            !(b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        };
        let end = text[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(text.len(), |e| start + e);
        let name = &text[start..end];
        if before_ok
            && !name.is_empty()
            && !eval::NODE_FIELDS.contains(&name)
            && !names.iter().any(|n| n == name)
        {
            names.push(name.to_string());
        }
        from = end.max(start);
    }
    names
}
