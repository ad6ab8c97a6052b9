//! The real `dbmon serve` with this connector's library: example.yaml against the machine's
//! server, and a primary with its replica whose stop the host reports within two intervals.

mod common;

use common::server::PgServer;
use dbmon_test_support::{Host, built_library, json_lines};
use serde_json::Value;
use std::time::Duration;

fn start(config: &str) -> Host {
    Host::start(config, &[built_library("dbmon_connector_postgres")])
}

/// `dbmon --json reports CLUSTER --limit N`, newest first.
fn reports(host: &Host, cluster: &str, limit: usize) -> Vec<Value> {
    json_lines(&host.cli(&["--json", "reports", cluster, "--limit", &limit.to_string()]))
}

fn reasons(report: &Value) -> Vec<&str> {
    report["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

#[test]
fn example_yaml_monitors_the_machines_server() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/example.yaml")).unwrap();
    let host = start(&text);
    let report = host.report_when("pg", Duration::from_secs(30), |_| true);
    assert_eq!(report["connector"], "postgres");
    assert!(
        report["status"] == "healthy" || report["status"] == "degraded",
        "{report}"
    );
    let m = &report["metrics"];
    assert_eq!(m["up"], 1.0, "{report}");
    assert_eq!(m["primaries"], 1.0, "{report}");
    assert!(m["connections"].as_f64().unwrap() >= 1.0, "{report}");
    assert!(
        m[r#"database_size_bytes{database="postgres"}"#]
            .as_f64()
            .unwrap()
            > 0.0,
        "{report}"
    );
    assert_eq!(report["units"]["xid_wraparound_percent"], "percent");
    let node = &report["nodes"][0];
    assert_eq!(node["id"], "127.0.0.1:5432");
    assert_eq!(node["status"], "live");
    assert_eq!(node["labels"]["role"], "primary");
}

#[test]
fn a_stopped_replica_is_reported_within_two_intervals() {
    let primary = PgServer::primary("hostmain");
    let mut replica = PgServer::replica_of(&primary, "hostreplica");
    primary.wait_streaming("hostreplica");
    let (p, r) = (primary.endpoint(), replica.endpoint());
    let config = format!(
        "clusters:
  - id: pair
    connector: postgres
    endpoints: ['{p}', 'postgres://{r}/postgres']
    interval: 1s
    timeout: 900ms
    options: {{expected_replicas: [hostreplica]}}
"
    );
    let host = start(&config);
    let report = host.report_when("pair", Duration::from_secs(30), |r| {
        r["status"] == "healthy"
    });
    let lag = format!(
        r#"replication_lag_bytes{{replica="hostreplica",client_addr="127.0.0.1",state="streaming",upstream="{p}"}}"#
    );
    assert!(
        report["metrics"][&lag].as_f64().is_some(),
        "{lag} in {report}"
    );
    assert_eq!(report["metrics"]["replicas_connected"], 1.0);
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
    assert_eq!(roles, [(p.as_str(), "primary"), (r.as_str(), "standby")]);

    let activity = host.cli(&["run", "pair", "activity", "5"]);
    let text = String::from_utf8_lossy(&activity.stdout);
    assert!(
        activity.status.success(),
        "{}",
        String::from_utf8_lossy(&activity.stderr)
    );
    assert!(
        text.contains(&format!("node {p}")) && text.contains(&format!("node {r}")),
        "{text}"
    );

    // The collection running when the replica stops may still find it; the next one may not.
    let before = report["sequence"].as_u64().unwrap();
    replica.stop();
    let after = host.report_when("pair", Duration::from_secs(30), |r| {
        r["sequence"].as_u64().unwrap() >= before + 3
    });
    let sequence = after["sequence"].as_u64().unwrap();
    let recent = reports(&host, "pair", (sequence - before) as usize);
    let second = recent
        .iter()
        .find(|r| r["sequence"].as_u64() == Some(before + 2))
        .expect("the second report after the stop");
    assert_eq!(second["status"], "degraded", "{second}");
    let why = reasons(second);
    assert!(
        why.iter()
            .any(|w| w.contains(&format!("node {r} not answering"))),
        "{why:?}"
    );
    assert!(
        why.iter()
            .any(|w| w.contains("expected replica 'hostreplica'")),
        "{why:?}"
    );
    assert_eq!(second["nodes"][1]["status"], "unavailable", "{second}");
}
