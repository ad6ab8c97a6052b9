//! What the integration tests share: a connector built as the host builds it, a collection with
//! a deadline, and the scraped part of its report.
#![allow(dead_code)] // each test file uses its own part of this module

use dbmon_connector_api::{
    ClusterConfig, CollectContext, ConfigError, Connector, Error, Report, SeriesView,
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
pub async fn collect(connector: &Prometheus) -> Report {
    match connector.collect(&ctx()).await {
        Ok(report) => report,
        Err(e) => panic!("collection failed: {e}"),
    }
}

/// The error text of a collection that must fail.
pub async fn collect_error(connector: &Prometheus) -> String {
    let result: Result<Report, Error> = connector.collect(&ctx()).await;
    match result {
        Ok(report) => panic!("collection succeeded: {report:?}"),
        Err(e) => e.to_string(),
    }
}

/// Cluster-level series the connector scraped (everything but its own summary metrics).
pub fn scraped(report: &Report) -> Vec<SeriesView<'_>> {
    report
        .series()
        .filter(|s| s.node().is_none() && !SUMMARY.contains(&s.name()))
        .collect()
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
