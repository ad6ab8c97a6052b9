//! What the integration tests share: the README's example clusters pointed at loopback
//! servers, the connector built as the host builds it, and collections with a deadline.
#![allow(dead_code)] // each test file uses its own part of this module

pub mod apis;

use dbmon_connector_api::{ClusterConfig, ConfigError, Connector, Report};
use dbmon_connector_http::{Http, Options};
use dbmon_test_support::{
    collect,
    docs::{ConnectorDir, entry_config},
};
use std::time::Duration;

/// The time a collection gets (the deadline the host would give with `timeout: 5s`).
pub const TIMEOUT: Duration = Duration::from_millis(4500);

/// This connector's folder.
pub fn dir() -> ConnectorDir {
    ConnectorDir::new(env!("CARGO_MANIFEST_DIR"))
}

/// The environment the README's examples read (tokens in headers). Set once, before any test
/// of the binary builds a connector.
pub fn example_env() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for (name, value) in [
            ("MY_API_TOKEN", "api-token-1"),
            ("CONSUL_TOKEN", "consul-token-2"),
            ("KUBE_TOKEN", "kube-token-3"),
        ] {
            // SAFETY: set once per test binary, behind the Once, before connectors read it.
            unsafe { std::env::set_var(name, value) };
        }
    });
}

/// The first cluster of the README's YAML block after `heading`, with these endpoints.
pub fn readme_config(heading: &str, endpoints: &[String]) -> ClusterConfig<Options> {
    example_env();
    let cluster = dir().readme_cluster(heading, "http");
    let mut config = entry_config::<Http>(&cluster).unwrap_or_else(|e| panic!("{heading}: {e}"));
    config.endpoints = endpoints.to_vec();
    config
}

/// Options from YAML, with these endpoints and the default 5 s timeout.
pub fn config(endpoints: &[String], options_yaml: &str) -> ClusterConfig<Options> {
    let options: Options = serde_yaml_ng::from_str(options_yaml)
        .unwrap_or_else(|e| panic!("options do not parse: {e}\n{options_yaml}"));
    ClusterConfig::new("http", options).with_endpoints(endpoints.iter().cloned())
}

/// `Connector::new` as the host calls it.
pub fn build(config: ClusterConfig<Options>) -> Result<Http, ConfigError> {
    <Http as Connector>::new(config)
}

/// A connector the test expects to be valid.
pub fn connector(config: ClusterConfig<Options>) -> Http {
    build(config).unwrap_or_else(|e| panic!("refused: {e}"))
}

/// One collection with [`TIMEOUT`] left.
pub async fn try_collect(connector: &Http) -> Result<Report, String> {
    collect::try_collect(connector, TIMEOUT).await
}

/// One collection that must succeed.
pub async fn collect(connector: &Http) -> Report {
    collect::collect(connector, TIMEOUT).await
}

/// A loopback URL where nothing listens (a port just released).
pub fn closed_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}
