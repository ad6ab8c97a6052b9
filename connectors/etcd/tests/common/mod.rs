//! What the integration tests share: real etcd members, a fake etcd made of loopback HTTP
//! servers, the connector built as the host builds it, and collections with a deadline.
#![allow(dead_code)] // each test file uses its own part of this module

#[allow(unused_imports)] // the tests that start no etcd
pub use dbmon_test_support::etcd;
pub mod fake;

use dbmon_connector_api::{AuthConfig, ClusterConfig, ConfigError, Connector, Report};
use dbmon_connector_etcd::{Etcd, Options};
use dbmon_test_support::collect;
use std::time::Duration;

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
pub async fn try_collect(connector: &Etcd) -> Result<Report, String> {
    collect::try_collect(connector, TIMEOUT).await
}

/// One collection that must succeed.
pub async fn collect(connector: &Etcd) -> Report {
    collect::collect(connector, TIMEOUT).await
}

/// Collects every 300 ms until `done` holds (then returns that report) or `within` passes
/// (then panics with the last report).
pub async fn collect_until(
    connector: &Etcd,
    within: Duration,
    done: impl Fn(&Report) -> bool,
) -> Report {
    collect::collect_until(connector, TIMEOUT, Duration::from_millis(300), within, done).await
}
