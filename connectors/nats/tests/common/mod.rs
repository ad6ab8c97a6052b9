//! What the integration tests share: real nats-server processes, the connector built as the
//! host builds it, and collections with a deadline.
#![allow(dead_code)] // each test file uses its own part of this module

pub mod nats;

use dbmon_connector_api::{ClusterConfig, ConfigError, Connector, Report};
use dbmon_connector_nats::{Nats, Options};
use dbmon_test_support::collect;
use std::time::Duration;

/// The time a collection gets (the deadline the host would give with `timeout: 5s`).
pub const TIMEOUT: Duration = Duration::from_secs(4);

/// `Connector::new` as the host calls it.
pub fn build(options: Options, endpoints: &[String]) -> Result<Nats, ConfigError> {
    let config = ClusterConfig::new("nats", options).with_endpoints(endpoints.iter().cloned());
    <Nats as Connector>::new(config)
}

/// A connector the test expects to be valid.
pub fn connector_with(options: Options, endpoints: &[String]) -> Nats {
    build(options, endpoints).unwrap_or_else(|e| panic!("refused: {e}"))
}

/// A connector the test expects to be valid, with default options.
pub fn connector(endpoints: &[String]) -> Nats {
    connector_with(Options::default(), endpoints)
}

/// One collection with [`TIMEOUT`] left.
pub async fn try_collect(connector: &Nats) -> Result<Report, String> {
    collect::try_collect(connector, TIMEOUT).await
}

/// One collection that must succeed.
pub async fn collect(connector: &Nats) -> Report {
    collect::collect(connector, TIMEOUT).await
}

/// Collects every 300 ms until `done` holds (then returns that report) or `within` passes
/// (then panics with the last report).
pub async fn collect_until(
    connector: &Nats,
    within: Duration,
    done: impl Fn(&Report) -> bool,
) -> Report {
    collect::collect_until(connector, TIMEOUT, Duration::from_millis(300), within, done).await
}
