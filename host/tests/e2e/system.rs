use crate::{cli, json_lines, lib, reports_when};
use dbmon_test_support::Host;
use std::time::Duration;

const CONFIG: &str = "
plugins_dir: plugins.d
clusters:
  - id: local
    connector: system
    interval: 500ms
    timeout: 400ms
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_reports_reach_the_cli_as_json_and_tables() {
    let host = Host::start(CONFIG, &[lib("system")]);
    reports_when(&host, "local", 2, Duration::from_secs(15)).await;

    let reports = json_lines(&cli(&host, &["--json", "reports", "local", "--limit", "2"]).await);
    assert_eq!(reports.len(), 2);
    let newest = &reports[0];
    assert_eq!(newest["cluster"], "local");
    assert_eq!(newest["connector"], "system");
    assert!(newest["sequence"].as_u64().unwrap() > reports[1]["sequence"].as_u64().unwrap());
    let at = newest["collected_at"].as_str().unwrap();
    assert!(
        at.len() >= 20 && at.contains('T') && at.ends_with('Z'),
        "{at}"
    );
    assert!(newest["duration_ms"].as_f64().unwrap() >= 0.0);
    let status = newest["status"].as_str().unwrap();
    assert!(
        ["healthy", "degraded", "unhealthy"].contains(&status),
        "{status}"
    );
    assert!(newest["reasons"].is_array());
    assert!(newest["error"].is_null());
    let metrics = &newest["metrics"];
    assert!(metrics["memory_total_bytes"].as_f64().unwrap() > 0.0);
    assert!(metrics["cpu_count"].as_f64().unwrap() >= 1.0);
    assert!(metrics["uptime_seconds"].as_f64().unwrap() > 0.0);
    assert!(metrics["load1"].as_f64().is_some());
    let nodes = newest["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0]["status"], "live");
    assert!(nodes[0]["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(nodes[0]["metrics"]["load1"].as_f64().is_some());

    let clusters = json_lines(&cli(&host, &["--json", "clusters"]).await);
    assert_eq!(clusters.len(), 1);
    assert_eq!(clusters[0]["id"], "local");
    assert_eq!(clusters[0]["connector"], "system");
    assert_eq!(clusters[0]["status"], newest["status"]);
    assert!(clusters[0]["last_report_at"].as_str().is_some());

    let connectors = json_lines(&cli(&host, &["--json", "connectors"]).await);
    assert_eq!(connectors.len(), 1);
    assert_eq!(connectors[0]["name"], "system");
    assert_eq!(
        connectors[0]["api_version"],
        dbmon_connector_api::SDK_VERSION
    );
    assert_eq!(
        connectors[0]["abi_version"],
        dbmon_connector_api::ffi::ABI_VERSION
    );
    assert!(connectors[0]["version"].as_str().is_some());
    assert!(
        connectors[0]["path"]
            .as_str()
            .unwrap()
            .ends_with("libdbmon_connector_system.so")
    );

    let table = cli(&host, &["clusters"]).await;
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.starts_with("ID "), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("local ") && l.contains("system")),
        "{text}"
    );
    let verbose = cli(&host, &["reports", "local", "--limit", "1", "-v"]).await;
    let text = String::from_utf8_lossy(&verbose.stdout);
    assert!(text.contains("memory_used_percent"), "{text}");
}
