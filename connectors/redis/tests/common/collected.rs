//! A finished report flattened the way the host receives it, for assertions.

use dbmon_connector_api::{NodeStatus, Report, Status};

/// One metric.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub unit: String,
    /// The id of its node; `None` for cluster-level metrics.
    pub node: Option<String>,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// One node.
#[derive(Debug, Clone)]
pub struct Node {
    pub id: String,
    pub address: String,
    pub status: NodeStatus,
    pub labels: Vec<(String, String)>,
}

impl Node {
    /// The value of label `key`.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A report, flattened.
#[derive(Debug)]
pub struct Collected {
    pub status: Status,
    pub reasons: Vec<String>,
    pub labels: Vec<(String, String)>,
    pub series: Vec<Series>,
    pub nodes: Vec<Node>,
}

impl From<Report> for Collected {
    fn from(report: Report) -> Self {
        let status = report.status();
        let reasons = report.reasons().map(String::from).collect();
        let ffi = report.into_ffi();
        let text: &str = &ffi.text;
        let pairs = |span: dbmon_connector_api::ffi::Span| -> Vec<(String, String)> {
            ffi.labels[span.range()]
                .iter()
                .map(|l| (text[l.key.range()].into(), text[l.value.range()].into()))
                .collect()
        };
        let nodes: Vec<Node> = ffi
            .nodes
            .iter()
            .map(|n| Node {
                id: text[n.id.range()].to_string(),
                address: text[n.address.range()].to_string(),
                status: NodeStatus::from_code(n.status),
                labels: pairs(n.labels),
            })
            .collect();
        let series = ffi
            .series
            .iter()
            .zip(ffi.values.iter())
            .map(|(s, v)| Series {
                name: text[s.name.range()].to_string(),
                unit: text[s.unit.range()].to_string(),
                node: (s.node > 0).then(|| nodes[s.node as usize - 1].id.clone()),
                labels: pairs(s.labels),
                value: *v,
            })
            .collect();
        Collected {
            status,
            reasons,
            labels: pairs(ffi.report_labels),
            series,
            nodes,
        }
    }
}

impl Collected {
    /// The report label `key`.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of the one cluster-level series `name` with at least `labels`; panics when
    /// there is not exactly one.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<&Series> = self.all(name, labels);
        assert_eq!(found.len(), 1, "{name}{labels:?}: {found:?}\n{self:#?}");
        found[0].value
    }

    /// Every cluster-level series `name` with at least `labels`.
    pub fn all(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Series> {
        self.series
            .iter()
            .filter(|s| s.node.is_none() && s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(a, b)| a == k && b == v))
            })
            .collect()
    }

    /// The value of node `node`'s series `name`, if it has one.
    pub fn node_value(&self, node: &str, name: &str) -> Option<f64> {
        self.series
            .iter()
            .find(|s| s.node.as_deref() == Some(node) && s.name == name)
            .map(|s| s.value)
    }

    /// The node called `id`.
    pub fn node(&self, id: &str) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("no node {id}: {:#?}", self.nodes))
    }

    /// Whether some reason mentions every one of `words`.
    pub fn has_reason(&self, words: &[&str]) -> bool {
        self.reasons
            .iter()
            .any(|r| words.iter().all(|w| r.contains(w)))
    }
}
