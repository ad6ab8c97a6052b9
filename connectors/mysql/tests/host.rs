//! End to end: the real `dbmon serve` loads the built connector library: example.yaml against
//! the machine's MariaDB, and a source with its replica whose stopped SQL thread the host
//! reports; the real CLI reads the reports and runs `processlist`. Needs
//! `cargo build -p dbmon -p dbmon-connector-mysql` (or `cargo xtask test`) first.

mod common;

use common::{direct, number, server::MariaDb, show};
use dbmon_test_support::{Host, built_library, docs::ConnectorDir};
use serde_json::Value;
use std::time::Duration;

fn start(config: &str) -> Host {
    Host::start(config, &[built_library("dbmon_connector_mysql")])
}

fn reasons(report: &Value) -> Vec<&str> {
    report["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_yaml_monitors_the_machines_server() {
    let example = ConnectorDir::new(env!("CARGO_MANIFEST_DIR")).read("example.yaml");
    let host = start(&example);
    let report = host
        .report_when_async("mariadb", Duration::from_secs(30), |_| true)
        .await;
    let mut conn = direct(3306).await;
    let variables = show(&mut conn, "VARIABLES").await;
    assert_eq!(report["connector"], "mysql");
    assert_eq!(report["status"], "healthy", "{report}");
    assert_eq!(report["labels"]["version"], variables["version"].as_str());
    let node = &report["nodes"][0];
    assert_eq!(node["id"], "127.0.0.1:3306");
    assert_eq!(node["status"], "live");
    assert_eq!(node["labels"]["flavor"], "mariadb");
    let m = &node["metrics"];
    assert_eq!(m["up"], 1.0, "{report}");
    assert_eq!(
        m["connections_max"].as_f64(),
        Some(number(&variables, "max_connections"))
    );
    assert!(m["uptime_seconds"].as_f64().unwrap() > 0.0, "{report}");
    assert_eq!(report["metrics"]["nodes_up"], 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_reports_a_pair_and_its_stopped_sql_thread() {
    let (source, replica) = tokio::join!(MariaDb::start(1, &[]), MariaDb::start(2, &[]));
    replica.replicate_from(&source, "").await;
    source.exec("CREATE DATABASE app").await;
    replica.wait_caught_up(&source).await;
    let (s, r) = (source.endpoint(), replica.endpoint());
    let config = format!(
        "clusters:
  - id: pair
    connector: mysql
    endpoints: ['mysql://{s}', '{r}']
    interval: 1s
    timeout: 900ms
    auth: {{ username: root }}
"
    );
    let host = start(&config);
    let listed = host.cli(&["connectors"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("mysql") && listed.contains("processlist"),
        "{listed}"
    );

    // A second report carries the rates.
    let report = host
        .report_when_async("pair", Duration::from_secs(30), |r| {
            r["status"] == "healthy" && r["metrics"]["queries_per_second"].is_number()
        })
        .await;
    assert_eq!(report["units"]["queries_per_second"], "queries/s");
    assert_eq!(report["metrics"]["replicas"], 1.0);
    let roles: Vec<(&str, &str)> = report["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["id"].as_str().unwrap(),
                n["labels"]["role"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(roles, [(s.as_str(), "source"), (r.as_str(), "replica")]);
    let replica_metrics = &report["nodes"][1]["metrics"];
    let sql = format!(r#"replication_sql_running{{source="{s}"}}"#);
    assert_eq!(replica_metrics[&sql], 1.0, "{report}");
    let behind = format!(r#"replication_seconds_behind{{source="{s}"}}"#);
    assert_eq!(replica_metrics[&behind], 0.0, "{report}");

    let output = host.cli(&["run", "pair", "processlist", "5"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains(&format!("node {s}: ")) && text.contains(&format!("node {r}: ")),
        "{text}"
    );
    // The replica's connection to its source is one of the source's threads.
    assert!(text.contains("Binlog Dump"), "{text}");
    let output = host.cli(&["run", "pair", "processlist", "lots"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("processlist takes"), "{stderr}");

    replica.exec("STOP SLAVE SQL_THREAD").await;
    let report = host
        .report_when_async("pair", Duration::from_secs(30), |r| {
            r["status"] == "unhealthy"
        })
        .await;
    let why = reasons(&report);
    assert!(
        why.iter()
            .any(|w| w.contains(&format!("replica {r}")) && w.contains("SQL thread not running")),
        "{why:?}"
    );
    assert_eq!(report["nodes"][1]["metrics"][&sql], 0.0, "{report}");
}
