//! End to end: the real `dbmon serve` loads the connector library and collects a fake
//! three-node secure cluster (HTTPS with a CA made here, a login whose password comes from a
//! file); `dbmon --json reports` shows every metric of the README's table, and
//! `dbmon run CLUSTER nodes` prints the node table.

mod common;

use common::*;
use dbmon_test_support::{Host, TestCa, built_library};
use std::time::Duration;

/// Every cluster metric the connector promises (the table).
const METRICS: [&str; 27] = [
    "nodes_total",
    "nodes_live",
    "nodes_dead",
    "nodes_unavailable",
    "nodes_draining",
    "nodes_decommissioning",
    "nodes_decommissioned",
    "nodes_not_ready",
    "ranges",
    "ranges_unavailable",
    "ranges_underreplicated",
    "ranges_overreplicated",
    "replicas",
    "capacity_bytes",
    "capacity_available_bytes",
    "capacity_used_bytes",
    "capacity_used_percent",
    "memory_rss_bytes",
    "memory_total_bytes",
    "memory_used_percent",
    "sql_qps",
    "sql_queries_total",
    "heartbeat_latency_p99_ms",
    "clock_offset_mean_ns",
    "clock_offset_stddev_ns",
    "round_trip_ms",
    "queue_pending_total",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_reaches_the_cli_from_a_secure_multi_node_cluster() {
    let ca = TestCa::new("Cockroach CA");
    let cert = ca.server_cert(&["127.0.0.1"]);
    let cluster = FakeCluster::start_tls(three(Generation::V22), &cert, None).await;
    cluster.with(|s| s.login = Some(("monitor".into(), "s3cret".into())));
    let dir = tempfile::tempdir().unwrap();
    let ca_path = ca.write(dir.path());
    let password_file = dir.path().join("crdb-password");
    std::fs::write(&password_file, "s3cret\n").unwrap();
    // The cluster keeps working: statements and heartbeats between collections.
    let state = std::sync::Arc::clone(&cluster.state);
    let traffic = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            for node in &mut state.lock().unwrap().nodes {
                node.queries[0] += 40.0;
                let last = node.heartbeat.len() - 1;
                node.heartbeat[last].1 += 1.0;
            }
        }
    });
    let endpoints: Vec<String> = cluster
        .endpoints()
        .iter()
        .map(|e| format!("'{e}'"))
        .collect();
    let config = format!(
        "clusters:
  - id: crdb
    connector: cockroachdb
    endpoints: [{}]
    interval: 1s
    timeout: 1s
    tls: {{ca: '{}'}}
    auth: {{username: monitor, password_file: '{}'}}
    options: {{max_offset: 500ms}}
",
        endpoints.join(", "),
        ca_path.display(),
        password_file.display()
    );
    let host = Host::start(&config, &[built_library("dbmon_connector_cockroachdb")]);

    let report = host
        .report_when_async("crdb", Duration::from_secs(30), |r| {
            r["sequence"].as_u64() >= Some(2)
        })
        .await;
    assert_eq!(report["status"], "healthy", "{report}");
    let metrics = report["metrics"].as_object().expect("metrics");
    for name in METRICS {
        assert!(metrics[name].is_number(), "{name} missing from {report}");
    }
    assert_eq!(metrics["nodes_total"], 3.0);
    assert_eq!(metrics["nodes_live"], 3.0);
    assert_eq!(metrics["ranges"], 3.0 * 2.0 * 20.0);
    assert!(metrics["sql_qps"].as_f64().unwrap() > 0.0, "{report}");
    let units = &report["units"];
    assert_eq!(units["capacity_used_percent"], "percent");
    assert_eq!(units["heartbeat_latency_p99_ms"], "ms");
    assert_eq!(units["capacity_bytes"], "bytes");
    assert_eq!(report["labels"]["version"], "v23.1.11");
    let nodes = report["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 3);
    for (i, node) in nodes.iter().enumerate() {
        assert_eq!(node["id"], (i + 1).to_string());
        assert_eq!(node["address"], format!("roach{}:26257", i + 1));
        assert_eq!(node["status"], "live");
        assert_eq!(node["labels"]["version"], "v23.1.11");
        assert_eq!(node["metrics"]["ranges"], 40.0);
    }
    // The password never reaches the log.
    assert!(!host.log().contains("s3cret"));

    let out = host.cli_async(&["run", "crdb", "nodes"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "ADDRESS", "LIVENESS", "VERSION", "RANGES", "CAPACITY"]
    );
    for (i, line) in lines[1..].iter().enumerate() {
        let cells: Vec<&str> = line.split_whitespace().collect();
        let id = (i + 1).to_string();
        let address = format!("roach{}:26257", i + 1);
        assert_eq!(
            cells[..5],
            [id.as_str(), address.as_str(), "live", "v23.1.11", "40"],
            "{table}"
        );
    }
    for command in ["health", "info"] {
        let out = host.cli_async(&["run", "crdb", command]).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text.lines().count(),
            4 + usize::from(command == "info") * 2,
            "{text}"
        );
    }
    traffic.abort();
}
