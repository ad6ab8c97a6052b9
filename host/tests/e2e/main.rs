//! End-to-end tests: the real `dbmon` binary with real connector libraries, driven through the
//! real CLI and a tonic client. `cargo xtask test` builds the libraries first.

mod abi_compat;
mod alerts;
mod api;
mod author;
mod bad_config;
mod bad_plugins;
mod cli;
mod contract1;
mod examples;
mod grpc;
mod isolation;
mod metrics;
mod misbehave;
mod prometheus;
mod reload;
mod rules;
mod security;
mod sharding;
mod shared_store;
mod split;
mod startup;
mod stop;
mod store;
mod system;
mod top;
mod trust;
mod watch;
mod web;

use dbmon_proto as proto;
pub use dbmon_test_support::json_lines;
use dbmon_test_support::{Host, built_library};
use proto::monitor_client::MonitorClient;
use std::{
    path::{Path, PathBuf},
    process::Output,
    time::{Duration, Instant},
};
use tonic::transport::Channel;

/// A bundled or test connector library, by crate name without the `dbmon_connector_` prefix.
pub fn lib(name: &str) -> PathBuf {
    built_library(&format!("dbmon_connector_{name}"))
}

/// A temp host folder whose `plugins.d/` holds these libraries under these file names.
pub fn folder_with_plugins(libraries: &[(&Path, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins.d");
    std::fs::create_dir(&plugins).unwrap();
    for (library, name) in libraries {
        std::fs::copy(library, plugins.join(name)).unwrap();
    }
    dir
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

/// Runs the CLI against the server at `url` (no token from the environment) off the async
/// runtime.
pub async fn cli_to<S: AsRef<str>>(url: &str, args: &[S]) -> Output {
    let url = url.to_string();
    let args: Vec<String> = args.iter().map(|a| a.as_ref().to_string()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(dbmon_test_support::built_binary("dbmon"))
            .arg("--server")
            .arg(url)
            .args(args)
            .env_remove("DBMON_TOKEN")
            .env_remove("DBMON_TOKEN_FILE")
            .output()
            .expect("run the dbmon client")
    })
    .await
    .expect("cli task")
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

/// Runs `dbmon serve ARGS --config DIR/NAME` with `config` written there, expecting it to exit
/// by itself within 20 s; returns its output and its stderr with `DIR/` taken out of paths.
pub fn serve_until_exit(
    dir: &std::path::Path,
    name: &str,
    config: &str,
    args: &[&str],
) -> (Output, String) {
    use std::process::{Command, Stdio};
    let file = dir.join(name);
    std::fs::write(&file, config).unwrap();
    let mut child = Command::new(dbmon_test_support::built_binary("dbmon"))
        .arg("serve")
        .args(args)
        .arg("--config")
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("dbmon serve {args:?} kept running on:\n{config}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let stderr =
        String::from_utf8_lossy(&output.stderr).replace(&format!("{}/", dir.display()), "");
    (output, stderr)
}

/// A client of `url` on a connection of its own whose windows hold little unread data
/// (64 KiB), so that a stream it does not read stalls the server's side soon.
pub async fn small_window_client(url: &str) -> MonitorClient<Channel> {
    let channel = tonic::transport::Endpoint::from_shared(url.to_string())
        .unwrap()
        .initial_stream_window_size(65_535)
        .initial_connection_window_size(65_535)
        .connect()
        .await
        .expect("connect");
    MonitorClient::new(channel)
}
