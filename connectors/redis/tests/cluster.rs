//! A six-node Redis Cluster the test makes: discovered from two listed nodes, then a master is
//! killed and the cluster fails over.

mod common;

use common::{Cluster, NODE_TIMEOUT_MS, bad, collect, collect_until, config, connector};
use dbmon_connector_api::{Connector, NodeStatus, Report, Status};
use dbmon_test_support::{
    ReportExt,
    docs::{ConnectorDir, listed_metrics},
    readme_kinds::ReadmeKinds,
};
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
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
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
        bad(r.status()) && r.has_reason(&[&victim_address])
    })
    .await;
    assert!(
        bad(report.status()) && report.has_reason(&[&victim_address]),
        "after {took:?}: {report:#?}"
    );
    assert_eq!(report.one_value(None, "up", &[]), 0.0);
    assert_eq!(report.one_value(None, "nodes_up", &[]), 5.0);

    // The cluster marks it failed and promotes its replica: the state is ok again, the dead
    // master is named, and the promoted replica is a master without a replica.
    let (report, took) = collect_until(&redis, INTERVAL, Duration::from_secs(30), |r| {
        r.status_of(r.node_by_id(&victim_address)) == NodeStatus::Dead
            && r.one_value(None, "cluster_state_ok", &[]) == 1.0
    })
    .await;
    assert_eq!(
        report.status_of(report.node_by_id(&victim_address)),
        NodeStatus::Dead,
        "after {took:?}: {report:#?}"
    );
    assert_eq!(report.status(), Status::Degraded, "{report:#?}");
    assert!(
        report.has_reason(&[
            &victim_address,
            "marked failed by the cluster",
            "does not answer"
        ]),
        "{report:?}"
    );
    assert!(
        report.has_reason(&["has no healthy replica", "min_replicas_per_master"]),
        "{report:?}"
    );
    assert_eq!(report.one_value(None, "masters", &[]), 3.0);
    assert_eq!(report.one_value(None, "replicas", &[]), 2.0);
    assert_eq!(report.one_value(None, "cluster_slots_fail", &[]), 0.0);
    let flags = report
        .node_labels(report.node_by_id(&victim_address))
        .get("flags")
        .unwrap()
        .to_string();
    assert!(flags.split(',').any(|f| f == "fail"), "{flags}");
}

/// What a healthy six-node cluster reports, checked against what its nodes say.
fn healthy_cluster_figures(report: &Report, cluster: &Cluster) {
    assert_eq!(report.labels().get("mode"), Some("cluster"));
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
        assert_eq!(report.one_value(None, name, &[]), value, "{name}");
    }
    assert_eq!(report.nodes().count(), 6);
    let text = cluster.nodes[0].run(None, &["CLUSTER", "NODES"]);
    for node in &cluster.nodes {
        let seen = report.node_by_id(&node.address());
        assert_eq!(report.status_of(seen), NodeStatus::Live);
        let labels = report.node_labels(seen);
        let line = text
            .lines()
            .find(|l| l.contains(&format!(":{}@", node.port)))
            .unwrap();
        assert_eq!(labels.get("node_id"), line.split(' ').next());
        let role = if line.contains("slave") {
            "replica"
        } else {
            "master"
        };
        assert_eq!(labels.get("role"), Some(role));
        assert_eq!(report.node_value_of(report.node_id(seen), "up"), Some(1.0));
    }
    let slots: f64 = cluster
        .masters()
        .iter()
        .map(|&m| {
            report
                .node_value_of(&cluster.nodes[m].address(), "slots")
                .unwrap()
        })
        .sum();
    assert_eq!(slots, 16384.0);
    // One lag series per replica, labelled with it and its master.
    let lags = report.series_of(None, "replication_offset_lag_bytes", &[]);
    assert_eq!(lags.len(), 3, "{lags:?}");
    for &r in &cluster.replicas() {
        let address = cluster.nodes[r].address();
        assert!(
            lags.iter()
                .any(|s| { s.labels().any(|(k, v)| k == "replica" && v == address) })
        );
    }
}

/// A healthy cluster's report has every metric the connector writes; the README lists exactly
/// those, each under its level and with the kind it has.
fn readme_lists_exactly_the_metrics_reported(report: &Report) {
    let dir = ConnectorDir::new(env!("CARGO_MANIFEST_DIR"));
    ReadmeKinds::read(&dir).check(report);
    let metrics = dir.readme_metrics();
    let (cluster, node) = (
        listed_metrics(&metrics.cluster),
        listed_metrics(&metrics.node),
    );
    assert_eq!(
        cluster,
        report.metric_names(false),
        "README ### Cluster vs reported"
    );
    assert_eq!(
        node,
        report.metric_names(true),
        "README ### Node vs reported"
    );
}
