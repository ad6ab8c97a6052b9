//! What the integration tests share: real etcd members, a fake etcd made of loopback HTTP
//! servers, the connector built as the host builds it, and reports read back as the host sees
//! them.
#![allow(dead_code)] // each test file uses its own part of this module

pub mod etcd;
pub mod fake;

use dbmon_connector_api::{
    AuthConfig, ClusterConfig, CollectContext, ConfigError, Connector, NodeStatus, Report, Status,
};
use dbmon_connector_etcd::{Etcd, Options};
use std::time::{Duration, Instant};

/// The time a collection gets (the deadline the host would give with `timeout: 5s`).
pub const TIMEOUT: Duration = Duration::from_secs(4);

/// `Connector::new` as the host calls it.
pub fn build(
    options: Options,
    endpoints: &[String],
    auth: Option<(&str, &str)>,
) -> Result<Etcd, ConfigError> {
    let mut config = ClusterConfig::new("etcd", options).with_endpoints(endpoints.iter().cloned());
    config.auth = auth.map(|(user, password)| AuthConfig {
        username: Some(user.into()),
        password: Some(password.into()),
    });
    <Etcd as Connector>::new(config)
}

/// A connector the test expects to be valid, with default options.
pub fn connector(endpoints: &[String]) -> Etcd {
    build(Options::default(), endpoints, None).unwrap_or_else(|e| panic!("refused: {e}"))
}

/// One collection with [`TIMEOUT`] left.
pub async fn try_collect(connector: &Etcd) -> Result<Collected, String> {
    let ctx = CollectContext {
        sequence: 1,
        deadline: Instant::now() + TIMEOUT,
    };
    connector
        .collect(&ctx)
        .await
        .map(Collected::from)
        .map_err(|e| e.to_string())
}

/// One collection that must succeed.
pub async fn collect(connector: &Etcd) -> Collected {
    try_collect(connector)
        .await
        .unwrap_or_else(|e| panic!("collection failed: {e}"))
}

/// Collects every 300 ms until `done` holds (then returns that report) or `within` passes
/// (then panics with the last report).
pub async fn collect_until(
    connector: &Etcd,
    within: Duration,
    done: impl Fn(&Collected) -> bool,
) -> Collected {
    let give_up = Instant::now() + within;
    loop {
        let report = collect(connector).await;
        if done(&report) {
            return report;
        }
        if Instant::now() > give_up {
            panic!("not reached within {within:?}; last report: {report:#?}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// One metric as the host receives it.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub unit: String,
    /// The id of its node; `None` for cluster metrics.
    pub node: Option<String>,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// One node as the host receives it.
#[derive(Debug, Clone)]
pub struct Node {
    pub id: String,
    pub address: String,
    pub status: NodeStatus,
    pub labels: Vec<(String, String)>,
}

/// A finished report, flattened.
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
        let pairs = |range: std::ops::Range<usize>| -> Vec<(String, String)> {
            ffi.labels[range]
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
                labels: pairs(n.labels.range()),
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
                labels: pairs(s.labels.range()),
                value: *v,
            })
            .collect();
        Collected {
            status,
            reasons,
            labels: pairs(ffi.report_labels.range()),
            series,
            nodes,
        }
    }
}

impl Collected {
    /// The cluster metric `name`; panics when missing.
    pub fn value(&self, name: &str) -> f64 {
        self.series
            .iter()
            .find(|s| s.node.is_none() && s.name == name)
            .unwrap_or_else(|| panic!("no metric {name}: {self:#?}"))
            .value
    }

    /// The cluster series `name`, if there is one.
    pub fn series(&self, name: &str) -> Option<&Series> {
        self.series
            .iter()
            .find(|s| s.node.is_none() && s.name == name)
    }

    /// Node `node`'s metric `name`, if it has one.
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
            .unwrap_or_else(|| panic!("no node {id}: {:?}", self.nodes))
    }

    /// The reasons that contain `text`.
    pub fn reasons_with(&self, text: &str) -> Vec<&String> {
        self.reasons.iter().filter(|r| r.contains(text)).collect()
    }
}

/// The value of label `key` in `labels`.
pub fn label<'a>(labels: &'a [(String, String)], key: &str) -> Option<&'a str> {
    labels
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}
