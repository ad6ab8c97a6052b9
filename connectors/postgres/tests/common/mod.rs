//! What the integration tests share: the connector built as the host builds it, collections
//! with a deadline, reports read back the way the host sees them, and PostgreSQL servers.
#![allow(dead_code)] // each test file uses its own part of this module

mod programs;
pub mod server;

use dbmon_connector_api::{
    AuthConfig, ClusterConfig, CollectContext, ConfigError, Connector, NodeStatus, Report, Status,
    TlsConfig,
};
use dbmon_connector_postgres::{Options, Postgres};
use std::time::{Duration, Instant};

/// The machine's own PostgreSQL (trust authentication on loopback).
pub const MACHINE: &str = "127.0.0.1:5432";

/// The deadline the host would give with `timeout: 5s`.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// A cluster entry as the host would pass it.
pub fn config<S: AsRef<str>>(endpoints: &[S], options: Options) -> ClusterConfig<Options> {
    ClusterConfig::new("pg", options)
        .with_endpoints(endpoints.iter().map(|e| e.as_ref().to_string()))
}

/// The same entry with `auth:`.
pub fn with_auth(
    mut c: ClusterConfig<Options>,
    user: &str,
    password: &str,
) -> ClusterConfig<Options> {
    c.auth = Some(AuthConfig {
        username: Some(user.into()),
        password: Some(password.into()),
    });
    c
}

/// The same entry with `tls:`.
pub fn with_tls(mut c: ClusterConfig<Options>, tls: TlsConfig) -> ClusterConfig<Options> {
    c.tls = Some(tls);
    c
}

/// `Connector::new` for a config the test expects to be valid.
pub fn connector(config: ClusterConfig<Options>) -> Postgres {
    match <Postgres as Connector>::new(config) {
        Ok(connector) => connector,
        Err(e) => panic!("config refused: {e}"),
    }
}

/// `Connector::new` for a config the test expects to be refused.
pub fn refused(config: ClusterConfig<Options>) -> ConfigError {
    match <Postgres as Connector>::new(config) {
        Ok(_) => panic!("config accepted"),
        Err(e) => e,
    }
}

/// A collection context with `timeout` left.
pub fn ctx_with(timeout: Duration) -> CollectContext {
    CollectContext {
        sequence: 1,
        deadline: Instant::now() + timeout,
    }
}

/// One collection that must succeed.
pub async fn collect(connector: &Postgres) -> Collected {
    match connector.collect(&ctx_with(TIMEOUT)).await {
        Ok(report) => Collected::from(report),
        Err(e) => panic!("collection failed: {e}"),
    }
}

/// The error of a collection that must fail, and how long it took.
pub async fn collect_error(connector: &Postgres, timeout: Duration) -> (String, Duration) {
    let started = Instant::now();
    match connector.collect(&ctx_with(timeout)).await {
        Ok(report) => panic!("collection succeeded: {:?}", Collected::from(report)),
        Err(e) => (e.to_string(), started.elapsed()),
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
    /// Its labels.
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
    /// The report's labels.
    pub labels: Vec<(String, String)>,
}

impl From<Report> for Collected {
    fn from(report: Report) -> Self {
        let status = report.status();
        let reasons = report.reasons().map(String::from).collect();
        let ffi = report.into_ffi();
        let text: &str = &ffi.text;
        let labels = |range: std::ops::Range<usize>| -> Vec<(String, String)> {
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
                labels: labels(n.labels.range()),
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
                labels: labels(s.labels.range()),
                value: *v,
            })
            .collect();
        Collected {
            status,
            reasons,
            series,
            nodes,
            labels: labels(ffi.report_labels.range()),
        }
    }
}

impl Collected {
    /// Series of `node` (`None`: the cluster) called `name` with at least `labels`.
    pub fn find(&self, node: Option<&str>, name: &str, labels: &[(&str, &str)]) -> Vec<&Series> {
        self.series
            .iter()
            .filter(|s| s.node.as_deref() == node && s.name == name)
            .filter(|s| labels.iter().all(|(k, v)| s.label(k) == Some(*v)))
            .collect()
    }

    /// The value of the cluster series `name` without labels.
    pub fn value(&self, name: &str) -> f64 {
        self.only(None, name, &[])
    }

    /// The value of node `node`'s series `name` without labels.
    pub fn node_value(&self, node: &str, name: &str) -> f64 {
        self.only(Some(node), name, &[])
    }

    /// The value of the one series matching exactly: no labels means none at all.
    pub fn only(&self, node: Option<&str>, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<&Series> = self
            .find(node, name, labels)
            .into_iter()
            .filter(|s| !labels.is_empty() || s.labels.is_empty())
            .collect();
        assert_eq!(
            found.len(),
            1,
            "{node:?} {name}{labels:?}: {found:?}\n{self:#?}"
        );
        found[0].value
    }

    /// The node called `id`.
    pub fn node(&self, id: &str) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("no node {id}: {:?}", self.nodes))
    }

    /// Whether some reason contains every one of `words`.
    pub fn has_reason(&self, words: &[&str]) -> bool {
        self.reasons
            .iter()
            .any(|r| words.iter().all(|w| r.contains(w)))
    }
}

/// A port nothing listens on: bound, then released.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local addr").port()
}
