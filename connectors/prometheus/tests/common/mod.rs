//! What the integration tests share: a connector built as the host builds it, a collection with
//! a deadline, and the report read back the way the host sees it.
#![allow(dead_code)] // each test file uses its own part of this module

use dbmon_connector_api::{
    ClusterConfig, CollectContext, ConfigError, Connector, Error, NodeStatus, Report, Status,
};
use dbmon_connector_prometheus::{Options, Prometheus};
use std::time::{Duration, Instant};

/// The deadline the host would give with `timeout: 2s`.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// Options that scrape `url` and keep everything.
pub fn url(url: &str) -> Options {
    Options {
        url: Some(url.to_string()),
        ..Options::default()
    }
}

/// `Connector::new` as the host calls it, with `endpoints`.
pub fn build(options: Options, endpoints: &[String]) -> Result<Prometheus, ConfigError> {
    let config = ClusterConfig::new("prom", options).with_endpoints(endpoints.iter().cloned());
    <Prometheus as Connector>::new(config)
}

/// A connector the test expects to be valid.
pub fn connector(options: Options, endpoints: &[String]) -> Prometheus {
    match build(options, endpoints) {
        Ok(connector) => connector,
        Err(e) => panic!("config refused: {e}"),
    }
}

/// The error of a config the test expects to be refused.
pub fn refused(options: Options, endpoints: &[String]) -> ConfigError {
    match build(options, endpoints) {
        Ok(_) => panic!("config accepted"),
        Err(e) => e,
    }
}

/// The first collection, with [`TIMEOUT`] left.
pub fn ctx() -> CollectContext {
    CollectContext {
        sequence: 1,
        deadline: Instant::now() + TIMEOUT,
    }
}

/// One collection that must succeed.
pub async fn collect(connector: &Prometheus) -> Collected {
    match connector.collect(&ctx()).await {
        Ok(report) => Collected::from(report),
        Err(e) => panic!("collection failed: {e}"),
    }
}

/// The error text of a collection that must fail.
pub async fn collect_error(connector: &Prometheus) -> String {
    let result: Result<Report, Error> = connector.collect(&ctx()).await;
    match result {
        Ok(report) => panic!("collection succeeded: {:?}", Collected::from(report)),
        Err(e) => e.to_string(),
    }
}

/// One metric as the host receives it.
#[derive(Debug, Clone)]
pub struct Series {
    /// Its name.
    pub name: String,
    /// Its unit, empty when none.
    pub unit: String,
    /// The id of its node; `None` for cluster-level metrics.
    pub node: Option<String>,
    /// Its labels in order.
    pub labels: Vec<(String, String)>,
    /// Its value.
    pub value: f64,
}

impl Series {
    /// The value of label `key`.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// One node as the host receives it.
#[derive(Debug, Clone)]
pub struct Node {
    /// Its id.
    pub id: String,
    /// Its address.
    pub address: String,
    /// Its status.
    pub status: NodeStatus,
}

/// A finished report, flattened.
#[derive(Debug)]
pub struct Collected {
    /// The verdict.
    pub status: Status,
    /// Its reasons.
    pub reasons: Vec<String>,
    /// Every metric, cluster-level and per node.
    pub series: Vec<Series>,
    /// The nodes.
    pub nodes: Vec<Node>,
}

impl From<Report> for Collected {
    fn from(report: Report) -> Self {
        let status = report.status();
        let reasons = report.reasons().map(String::from).collect();
        let ffi = report.into_ffi();
        let text: &str = &ffi.text;
        let nodes: Vec<Node> = ffi
            .nodes
            .iter()
            .map(|n| Node {
                id: text[n.id.range()].to_string(),
                address: text[n.address.range()].to_string(),
                status: NodeStatus::from_code(n.status),
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
                labels: ffi.labels[s.labels.range()]
                    .iter()
                    .map(|l| (text[l.key.range()].into(), text[l.value.range()].into()))
                    .collect(),
                value: *v,
            })
            .collect();
        Collected {
            status,
            reasons,
            series,
            nodes,
        }
    }
}

impl Collected {
    /// Cluster-level series called `name`.
    pub fn cluster(&self, name: &str) -> Vec<&Series> {
        self.series
            .iter()
            .filter(|s| s.node.is_none() && s.name == name)
            .collect()
    }

    /// The value of the one cluster-level series called `name` with at least `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<&Series> = self
            .cluster(name)
            .into_iter()
            .filter(|s| labels.iter().all(|(k, v)| s.label(k) == Some(*v)))
            .collect();
        assert_eq!(found.len(), 1, "{name}{labels:?}: {found:?}");
        found[0].value
    }

    /// The value of node `node`'s series called `name`, if it has one.
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

    /// Cluster-level series the connector scraped (everything but its own summary metrics).
    pub fn scraped(&self) -> Vec<&Series> {
        self.series
            .iter()
            .filter(|s| s.node.is_none() && !SUMMARY.contains(&s.name.as_str()))
            .collect()
    }
}

/// The cluster-level metrics the connector adds to every report.
pub const SUMMARY: [&str; 6] = [
    "up",
    "targets",
    "targets_up",
    "samples",
    "samples_dropped",
    "scrape_duration_ms",
];

/// A port nothing listens on: bound, then released.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local addr").port()
}
