//! End-to-end tests: the real `dbmon` binary with real connector libraries, driven through the
//! real CLI and a tonic client. `cargo xtask test` builds the libraries first.

mod abi_compat;
mod api;
mod author;
mod bad_config;
mod bad_plugins;
mod cli;
mod examples;
mod grpc;
mod isolation;
mod misbehave;
mod prometheus;
mod startup;
mod stop;
mod system;
mod trust;
mod watch;

use dbmon_proto as proto;
pub use dbmon_test_support::json_lines;
use dbmon_test_support::{Host, built_library};
use proto::monitor_client::MonitorClient;
use std::{
    path::PathBuf,
    process::Output,
    time::{Duration, Instant},
};
use tonic::transport::Channel;

/// A bundled or test connector library, by crate name without the `dbmon_connector_` prefix.
pub fn lib(name: &str) -> PathBuf {
    built_library(&format!("dbmon_connector_{name}"))
}

/// A gRPC client of `host`.
pub async fn client(host: &Host) -> MonitorClient<Channel> {
    MonitorClient::connect(host.url.clone())
        .await
        .expect("connect to dbmon")
}

/// Runs the CLI off the async runtime (the test's loopback servers keep running meanwhile).
pub async fn cli(host: &Host, args: &[&str]) -> Output {
    host.cli_async(args).await
}

/// Stored reports of `cluster`, newest first, once at least `count` exist (or panics after
/// `within`).
pub async fn reports_when(
    host: &Host,
    cluster: &str,
    count: usize,
    within: Duration,
) -> Vec<proto::Report> {
    let mut client = client(host).await;
    let deadline = Instant::now() + within;
    loop {
        let request = proto::GetReportsRequest {
            cluster_id: cluster.into(),
            limit: 0,
            since: None,
        };
        let reports = client
            .get_reports(request)
            .await
            .expect("GetReports")
            .into_inner()
            .reports;
        if reports.len() >= count {
            return reports;
        }
        assert!(
            Instant::now() < deadline,
            "{cluster}: {} reports after {within:?}, wanted {count}; log:\n{}",
            reports.len(),
            host.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A cluster-level metric of a wire report.
pub fn metric(report: &proto::Report, name: &str) -> Option<f64> {
    report
        .metrics
        .iter()
        .find(|m| m.name == name)
        .map(|m| m.value)
}
