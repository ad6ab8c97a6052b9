//! What the integration tests share: redis-server processes on free ports in temp dirs (killed
//! and waited for when dropped, even when the test fails), the connector built as the host
//! builds it, and collections with a deadline.
#![allow(dead_code)] // each test file uses its own part of this module

pub use dbmon_test_support::redis as servers;

#[allow(unused_imports)] // not every test file starts a cluster
pub use servers::{Cluster, NODE_TIMEOUT_MS, Server};

use dbmon_connector_api::{
    AuthConfig, ClusterConfig, ConfigError, Connector, Report, Status, TlsConfig,
};
use dbmon_connector_redis::{Options, Redis};
use dbmon_test_support::collect;
use std::time::Duration;

/// The deadline the tests give a collection.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// A cluster entry with these endpoints and default options.
pub fn config<S: AsRef<str>>(endpoints: &[S]) -> ClusterConfig<Options> {
    let endpoints = endpoints.iter().map(|e| e.as_ref().to_string());
    ClusterConfig::new("redis-test", Options::default()).with_endpoints(endpoints)
}

/// The same entry with credentials.
pub fn with_auth(
    mut config: ClusterConfig<Options>,
    username: Option<&str>,
    password: &str,
) -> ClusterConfig<Options> {
    config.auth = Some(AuthConfig {
        username: username.map(String::from),
        password: Some(password.to_string()),
    });
    config
}

/// The same entry with a `tls:` block.
pub fn with_tls(mut config: ClusterConfig<Options>, tls: TlsConfig) -> ClusterConfig<Options> {
    config.tls = Some(tls);
    config
}

/// `Connector::new` as the host calls it.
pub fn build(config: ClusterConfig<Options>) -> Result<Redis, ConfigError> {
    <Redis as Connector>::new(config)
}

/// A connector the test expects to be valid.
pub fn connector(config: ClusterConfig<Options>) -> Redis {
    build(config).unwrap_or_else(|e| panic!("config refused: {e}"))
}

/// A collection context with `timeout` left.
#[allow(unused_imports)] // the tests that only collect
pub use dbmon_test_support::collect::context as ctx_with;

/// One collection that must succeed.
pub async fn collect(connector: &Redis) -> Report {
    collect::collect(connector, TIMEOUT).await
}

/// The error of a collection that must fail, and how long it took.
pub async fn collect_error(connector: &Redis, timeout: Duration) -> (String, Duration) {
    collect::collect_error(connector, timeout).await
}

/// Collects every `interval` until `done` holds or `within` has passed; the last report and
/// when it was taken.
pub async fn collect_until(
    connector: &Redis,
    interval: Duration,
    within: Duration,
    done: impl Fn(&Report) -> bool,
) -> (Report, Duration) {
    collect::collect_while(connector, TIMEOUT, interval, within, done).await
}

/// Whether the status is DEGRADED or UNHEALTHY.
pub fn bad(status: Status) -> bool {
    matches!(status, Status::Degraded | Status::Unhealthy)
}

/// A port nothing listens on: bound, then released.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local addr").port()
}
