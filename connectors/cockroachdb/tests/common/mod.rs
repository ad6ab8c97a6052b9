//! What the integration tests share: the fake cluster, a connector built as the host builds it,
//! and collections with a deadline.
#![allow(dead_code)] // each test file uses its own part of this module

pub use dbmon_test_support::cockroach as fake;

use dbmon_connector_api::{
    AuthConfig, ClusterConfig, CollectContext, ConfigError, Connector, Report, TlsConfig,
};
use dbmon_connector_cockroachdb::{CockroachDb, Options};
use dbmon_test_support::collect;
use std::time::Duration;

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
#[allow(unused_imports)] // the tests that only collect
pub use dbmon_test_support::collect::context as ctx_for;

/// One collection that must succeed.
pub async fn collect(connector: &CockroachDb) -> Report {
    collect::collect(connector, TIMEOUT).await
}

/// The error of a collection that must fail.
pub async fn collect_error(connector: &CockroachDb) -> String {
    collect::collect_error(connector, TIMEOUT).await.0
}

/// A command's output, which must succeed.
pub async fn run(connector: &CockroachDb, command: &str) -> String {
    match connector.run_command(command, &[], &ctx()).await {
        Ok(output) => output,
        Err(e) => panic!("{command} failed: {e}"),
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
