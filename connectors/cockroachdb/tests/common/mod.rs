//! What the integration tests share: the fake cluster, a connector built as the host builds it,
//! collections with a deadline, and the report read back the way the host sees it.
#![allow(dead_code)] // each test file uses its own part of this module

pub mod fake;
pub mod vars;

use dbmon_connector_api::{
    AuthConfig, ClusterConfig, CollectContext, ConfigError, Connector, NodeStatus, Report, Status,
    TlsConfig,
};
use dbmon_connector_cockroachdb::{CockroachDb, Options};
use std::time::{Duration, Instant};

#[allow(unused_imports)]
pub use fake::{FakeCluster, GIB, Generation, Node, Store};

/// The time a collection gets in these tests.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// A cluster config for `endpoints` with these options.
pub fn config(endpoints: &[String], options: Options) -> ClusterConfig<Options> {
    ClusterConfig::new("crdb", options).with_endpoints(endpoints.iter().cloned())
}

/// `Connector::new` as the host calls it.
pub fn build(config: ClusterConfig<Options>) -> Result<CockroachDb, ConfigError> {
    <CockroachDb as Connector>::new(config)
}

/// A connector the test expects to be valid.
pub fn connector(config: ClusterConfig<Options>) -> CockroachDb {
    build(config).unwrap_or_else(|e| panic!("config refused: {e}"))
}

/// A connector for `endpoints` with default options and no credentials.
pub fn plain(endpoints: &[String]) -> CockroachDb {
    connector(config(endpoints, Options::default()))
}

/// The same config with a login for the nodes API.
pub fn with_auth(
    mut config: ClusterConfig<Options>,
    user: &str,
    password: &str,
) -> ClusterConfig<Options> {
    config.auth = Some(AuthConfig {
        username: Some(user.into()),
        password: Some(password.into()),
    });
    config
}

/// The same config with TLS settings.
pub fn with_tls(mut config: ClusterConfig<Options>, tls: TlsConfig) -> ClusterConfig<Options> {
    config.tls = Some(tls);
    config
}

/// A context with [`TIMEOUT`] left.
pub fn ctx() -> CollectContext {
    ctx_for(TIMEOUT)
}

/// A context with `left` left.
pub fn ctx_for(left: Duration) -> CollectContext {
    CollectContext {
        sequence: 1,
        deadline: Instant::now() + left,
    }
}

/// One collection that must succeed.
pub async fn collect(connector: &CockroachDb) -> Collected {
    match connector.collect(&ctx()).await {
        Ok(report) => Collected::from(report),
        Err(e) => panic!("collection failed: {e}"),
    }
}

/// The error of a collection that must fail.
pub async fn collect_error(connector: &CockroachDb) -> String {
    match connector.collect(&ctx()).await {
        Ok(report) => panic!("collection succeeded: {:?}", Collected::from(report)),
        Err(e) => e.to_string(),
    }
}

/// A command's output, which must succeed.
pub async fn run(connector: &CockroachDb, command: &str) -> String {
    match connector.run_command(command, &[], &ctx()).await {
        Ok(output) => output,
        Err(e) => panic!("{command} failed: {e}"),
    }
}

/// One node of a finished report.
#[derive(Debug, Clone)]
pub struct NodeOut {
    pub id: String,
    pub address: String,
    pub status: NodeStatus,
    pub labels: Vec<(String, String)>,
    pub metrics: Vec<(String, String, f64)>,
}

impl NodeOut {
    /// Its metric `name`.
    pub fn value(&self, name: &str) -> Option<f64> {
        self.metrics.iter().find(|m| m.0 == name).map(|m| m.2)
    }
}

/// A finished report, flattened: (name, unit, value) per cluster metric.
#[derive(Debug)]
pub struct Collected {
    pub status: Status,
    pub reasons: Vec<String>,
    pub metrics: Vec<(String, String, f64)>,
    pub labels: Vec<(String, String)>,
    pub nodes: Vec<NodeOut>,
}

impl From<Report> for Collected {
    fn from(report: Report) -> Self {
        let status = report.status();
        let reasons = report.reasons().map(String::from).collect();
        let ffi = report.into_ffi();
        let text: &str = &ffi.text;
        let labels_of = |range: std::ops::Range<usize>| -> Vec<(String, String)> {
            ffi.labels[range]
                .iter()
                .map(|l| (text[l.key.range()].into(), text[l.value.range()].into()))
                .collect()
        };
        let mut nodes: Vec<NodeOut> = ffi
            .nodes
            .iter()
            .map(|n| NodeOut {
                id: text[n.id.range()].into(),
                address: text[n.address.range()].into(),
                status: NodeStatus::from_code(n.status),
                labels: labels_of(n.labels.range()),
                metrics: vec![],
            })
            .collect();
        let mut metrics = Vec::new();
        for (s, v) in ffi.series.iter().zip(ffi.values.iter()) {
            let entry = (
                text[s.name.range()].to_string(),
                text[s.unit.range()].to_string(),
                *v,
            );
            match s.node {
                0 => metrics.push(entry),
                n => nodes[n as usize - 1].metrics.push(entry),
            }
        }
        Collected {
            status,
            reasons,
            metrics,
            labels: labels_of(ffi.report_labels.range()),
            nodes,
        }
    }
}

impl Collected {
    /// Cluster metric `name`, if reported.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.metrics.iter().find(|m| m.0 == name).map(|m| m.2)
    }

    /// Cluster metric `name`, which must be reported.
    pub fn value(&self, name: &str) -> f64 {
        self.get(name)
            .unwrap_or_else(|| panic!("no metric {name}: {:?}", self.metrics))
    }

    /// The node with this id.
    pub fn node(&self, id: &str) -> &NodeOut {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("no node {id}: {:?}", self.nodes))
    }

    /// The report label `key`.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|l| l.0 == key)
            .map(|l| l.1.as_str())
    }

    /// The reasons that contain `text`.
    pub fn reasons_with(&self, text: &str) -> Vec<&String> {
        self.reasons.iter().filter(|r| r.contains(text)).collect()
    }
}

/// A loopback port nothing listens on: bound, then released.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local addr").port()
}

/// Three healthy nodes of one generation.
pub fn three(generation: Generation) -> Vec<Node> {
    (1..=3).map(|id| Node::new(id, generation)).collect()
}

/// Whether `a` and `b` agree to 1e-9 (relative).
pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}
