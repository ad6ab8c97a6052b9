//! End to end: the real `dbmon serve` loads the built connector library and collects from a
//! real redis-server; the real CLI reads the reports and runs `slowlog`. Needs
//! `cargo build -p dbmon -p dbmon-connector-redis` (or `cargo build --workspace`) first.

mod common;

use common::{Server, closed_port};
use dbmon_test_support::{Host, built_library, docs::ConnectorDir};
use std::time::Duration;

fn config(up: &str, down: &str) -> String {
    format!(
        "
clusters:
  - id: cache
    connector: redis
    interval: 500ms
    timeout: 400ms
    endpoints: ['redis://{up}']
  - id: gone
    connector: redis
    interval: 500ms
    timeout: 400ms
    endpoints: ['{down}']
    options: {{memory_used_degraded_percent: 90}}
"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_reports_redis_metrics_and_runs_slowlog() {
    let server = Server::start(&[]);
    server.run(None, &["SET", "e2e-a", "1"]);
    server.run(None, &["SET", "e2e-b", "2"]);
    let down = format!("127.0.0.1:{}", closed_port());
    let host = Host::start(
        &config(&server.address(), &down),
        &[built_library("dbmon_connector_redis")],
    );

    let listed = host.cli(&["connectors"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("redis") && listed.contains("slowlog"),
        "{listed}"
    );

    let report = host.report_when("cache", Duration::from_secs(20), |_| true);
    assert_eq!(report["connector"], "redis");
    assert_eq!(report["status"], "healthy", "{report}");
    let m = &report["metrics"];
    assert_eq!(m["up"], 1.0, "{report}");
    assert_eq!(m["keyspace_keys"], 2.0, "{report}");
    assert_eq!(m["masters"], 1.0);
    assert!(m["memory_used_bytes"].as_f64().unwrap() > 0.0);
    assert_eq!(report["units"]["memory_used_bytes"], "bytes");
    assert_eq!(report["labels"]["mode"], "standalone");
    let node = &report["nodes"][0];
    assert_eq!(node["id"], server.address().as_str());
    assert_eq!(node["status"], "live");
    assert_eq!(node["labels"]["role"], "master");
    assert_eq!(node["metrics"]["keyspace_keys"], 2.0);

    let gone = host.report_when("gone", Duration::from_secs(20), |_| true);
    assert_eq!(gone["status"], "unreachable", "{gone}");
    let error = gone["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(&down) && error.contains("cannot connect"),
        "{gone}"
    );

    let output = host.cli(&["run", "cache", "slowlog", "3"]);
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(table.starts_with("node "), "{table}");
    assert!(table.contains("from 1 node"), "{table}");
    let output = host.cli(&["run", "cache", "slowlog", "many"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("number of entries per node"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_yaml_runs_in_the_real_host_against_the_machines_redis() {
    let example = ConnectorDir::new(env!("CARGO_MANIFEST_DIR")).read("example.yaml");
    let host = Host::start(&example, &[built_library("dbmon_connector_redis")]);
    let report = host.report_when("local-redis", Duration::from_secs(20), |_| true);
    assert_eq!(report["status"], "healthy", "{report}");
    assert_eq!(report["nodes"][0]["id"], "127.0.0.1:6379");
    assert_eq!(report["metrics"]["up"], 1.0);
}
