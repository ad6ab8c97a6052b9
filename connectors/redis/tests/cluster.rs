//! A six-node Redis Cluster the test makes: discovered from two listed nodes, then a master is
//! killed and the cluster fails over.

mod common;

use common::{Cluster, Collected, NODE_TIMEOUT_MS, bad, collect, collect_until, config, connector};
use dbmon_connector_api::{Connector, NodeStatus, Status};
use std::time::Duration;

/// How often the test collects, standing in for the host's interval.
const INTERVAL: Duration = Duration::from_millis(500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_is_discovered_then_loses_a_master_and_fails_over() {
    let mut cluster = Cluster::start();
    let masters = cluster.masters();
    let replicas = cluster.replicas();
    assert_eq!((masters.len(), replicas.len()), (3, 3));
    let victim = masters[0];
    let victim_address = cluster.nodes[victim].address();
    // Two listed nodes; the other four are found through CLUSTER NODES.
    let listed = [victim_address.clone(), cluster.nodes[replicas[0]].address()];
    let redis = connector(config(&listed));

    let report = collect(&redis).await;
    assert_eq!(report.status, Status::Healthy, "{report:#?}");
    healthy_cluster_figures(&report, &cluster);
    readme_lists_exactly_the_metrics_reported(&report);

    // The slowlog command asks every node: on one, every command counts as slow.
    let noisy = &cluster.nodes[masters[1]];
    noisy.run(None, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    noisy.run(None, &["ECHO", "marker-for-slowlog"]);
    let ctx = common::ctx_with(common::TIMEOUT);
    let table = redis
        .run_command("slowlog", &["5".into()], &ctx)
        .await
        .unwrap();
    let slow_node = cluster.nodes[masters[1]].address();
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&slow_node) && l.contains("ECHO marker-for-slowlog")),
        "{table}"
    );
    assert!(table.contains("from 6 nodes"), "{table}");

    // Kill a listed master: the report names it within the failure detection time plus two
    // intervals.
    cluster.nodes[victim].kill();
    let within = Duration::from_millis(NODE_TIMEOUT_MS) + 2 * INTERVAL;
    let (report, took) = collect_until(&redis, INTERVAL, within, |r| {
        bad(r.status) && r.has_reason(&[&victim_address])
    })
    .await;
    assert!(
        bad(report.status) && report.has_reason(&[&victim_address]),
        "after {took:?}: {report:#?}"
    );
    assert_eq!(report.value("up", &[]), 0.0);
    assert_eq!(report.value("nodes_up", &[]), 5.0);

    // The cluster marks it failed and promotes its replica: the state is ok again, the dead
    // master is named, and the promoted replica is a master without a replica.
    let (report, took) = collect_until(&redis, INTERVAL, Duration::from_secs(30), |r| {
        r.node(&victim_address).status == NodeStatus::Dead
            && r.value("cluster_state_ok", &[]) == 1.0
    })
    .await;
    assert_eq!(
        report.node(&victim_address).status,
        NodeStatus::Dead,
        "after {took:?}: {report:#?}"
    );
    assert_eq!(report.status, Status::Degraded, "{report:#?}");
    assert!(
        report.has_reason(&[
            &victim_address,
            "marked failed by the cluster",
            "does not answer"
        ]),
        "{:?}",
        report.reasons
    );
    assert!(
        report.has_reason(&["has no healthy replica", "min_replicas_per_master"]),
        "{:?}",
        report.reasons
    );
    assert_eq!(report.value("masters", &[]), 3.0);
    assert_eq!(report.value("replicas", &[]), 2.0);
    assert_eq!(report.value("cluster_slots_fail", &[]), 0.0);
    let flags = report
        .node(&victim_address)
        .label("flags")
        .unwrap()
        .to_string();
    assert!(flags.split(',').any(|f| f == "fail"), "{flags}");
}

/// What a healthy six-node cluster reports, checked against what its nodes say.
fn healthy_cluster_figures(report: &Collected, cluster: &Cluster) {
    assert_eq!(report.label("mode"), Some("cluster"));
    for (name, value) in [
        ("up", 1.0),
        ("nodes", 6.0),
        ("nodes_up", 6.0),
        ("cluster_state_ok", 1.0),
        ("cluster_slots_assigned", 16384.0),
        ("cluster_slots_ok", 16384.0),
        ("cluster_slots_pfail", 0.0),
        ("cluster_slots_fail", 0.0),
        ("cluster_known_nodes", 6.0),
        ("masters", 3.0),
        ("replicas", 3.0),
    ] {
        assert_eq!(report.value(name, &[]), value, "{name}");
    }
    assert_eq!(report.nodes.len(), 6);
    let text = cluster.nodes[0].run(None, &["CLUSTER", "NODES"]);
    for node in &cluster.nodes {
        let seen = report.node(&node.address());
        assert_eq!(seen.status, NodeStatus::Live);
        let line = text
            .lines()
            .find(|l| l.contains(&format!(":{}@", node.port)))
            .unwrap();
        assert_eq!(seen.label("node_id"), line.split(' ').next());
        let role = if line.contains("slave") {
            "replica"
        } else {
            "master"
        };
        assert_eq!(seen.label("role"), Some(role));
        assert_eq!(report.node_value(&seen.id, "up"), Some(1.0));
    }
    let slots: f64 = cluster
        .masters()
        .iter()
        .map(|&m| {
            report
                .node_value(&cluster.nodes[m].address(), "slots")
                .unwrap()
        })
        .sum();
    assert_eq!(slots, 16384.0);
    // One lag series per replica, labelled with it and its master.
    let lags = report.all("replication_offset_lag_bytes", &[]);
    assert_eq!(lags.len(), 3, "{lags:?}");
    for &r in &cluster.replicas() {
        let address = cluster.nodes[r].address();
        assert!(lags.iter().any(|s| {
            s.labels
                .iter()
                .any(|(k, v)| k == "replica" && *v == address)
        }));
    }
}

/// A healthy cluster's report has every metric the connector writes; the README lists exactly
/// those, each under its level.
fn readme_lists_exactly_the_metrics_reported(report: &Collected) {
    let names = |node: bool| {
        let mut names: Vec<String> = report
            .series
            .iter()
            .filter(|s| s.node.is_some() == node)
            .map(|s| s.name.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    };
    let (cluster, node) = common::readme_metrics();
    assert_eq!(cluster, names(false), "README ### Cluster vs reported");
    assert_eq!(node, names(true), "README ### Node vs reported");
}
