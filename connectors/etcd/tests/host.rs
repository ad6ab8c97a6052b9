//! End to end: the real `dbmon serve` loads the connector library and collects from a real
//! three-member etcd; `dbmon --json reports` shows the metrics and nodes, and a stopped member.

mod common;

use common::etcd::Cluster;
use dbmon_test_support::{Host, built_library};
use serde_json::Value;
use std::time::Duration;

fn config(cluster: &Cluster) -> String {
    let endpoints: Vec<String> = cluster
        .endpoints()
        .iter()
        .map(|e| format!("'{e}'"))
        .collect();
    format!(
        "
clusters:
  - id: etcd-e2e
    connector: etcd
    interval: 1s
    timeout: 1s
    endpoints: [{}]
    options: {{raft_index_spread_degraded: 1000}}
",
        endpoints.join(", ")
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_host_reports_the_cluster() {
    let mut cluster = Cluster::start("h", 3, &[]).await;
    let host = Host::start(&config(&cluster), &[built_library("dbmon_connector_etcd")]);

    let report = host.report_when("etcd-e2e", Duration::from_secs(20), |r| {
        r["status"] == "healthy"
    });
    assert_eq!(report["connector"], "etcd");
    let m = &report["metrics"];
    assert_eq!(m["members"], 3.0);
    assert_eq!(m["members_healthy"], 3.0);
    assert_eq!(m["has_leader"], 1.0);
    assert_eq!(m["alarms"], 0.0);
    for name in [
        "raft_index_spread",
        "leader_changes",
        "db_size_bytes",
        "db_size_in_use_bytes",
        "round_trip_ms",
    ] {
        assert!(m[name].is_number(), "{name}: {report:#}");
    }
    assert_eq!(report["units"]["db_size_bytes"], "bytes");
    let leader = m
        .as_object()
        .unwrap()
        .keys()
        .find(|k| k.starts_with("leader_id{"))
        .unwrap_or_else(|| panic!("no labelled leader_id: {report:#}"));
    assert!(leader.contains("name=\"h"), "{leader}");
    let nodes = report["nodes"].as_array().unwrap();
    let mut ids: Vec<&str> = nodes.iter().map(|n| n["id"].as_str().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, ["h1", "h2", "h3"]);
    for node in nodes {
        assert_eq!(node["status"], "live", "{node}");
        assert!(
            node["address"]
                .as_str()
                .unwrap()
                .starts_with("http://127.0.0.1:")
        );
        assert!(node["metrics"]["raft_applied_index"].as_f64().unwrap() > 0.0);
    }

    cluster.member("h3").stop();
    let report = host.report_when("etcd-e2e", Duration::from_secs(20), |r| {
        r["status"] == "degraded"
    });
    let reasons = report["reasons"].as_array().unwrap();
    assert!(
        reasons
            .iter()
            .any(|r| r.as_str().unwrap().starts_with("member h3 (")),
        "{reasons:?}"
    );
    let h3 = nodes_by_id(&report, "h3");
    assert_eq!(h3["status"], "dead");
}

fn nodes_by_id<'r>(report: &'r Value, id: &str) -> &'r Value {
    report["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == id)
        .unwrap_or_else(|| panic!("no node {id}"))
}
