//! The health rules, one at a time, with their thresholds; each reason names the figure and the
//! node.

mod common;

use common::*;
use dbmon_connector_api::{NodeStatus, Report, Status};
use dbmon_connector_cockroachdb::Options;
use dbmon_test_support::ReportExt;

async fn report_of(nodes: Vec<Node>, options: Options) -> Report {
    let cluster = FakeCluster::start(nodes).await;
    collect(&connector(config(&cluster.endpoints(), options))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_ranges_make_the_cluster_unhealthy() {
    let mut nodes = three(Generation::V22);
    nodes[1].stores[1].unavailable = 2.0;
    let report = report_of(nodes, Options::default()).await;
    assert_eq!(report.status(), Status::Unhealthy);
    assert_eq!(report.expect_value("ranges_unavailable"), 2.0);
    assert_eq!(
        report.reasons().collect::<Vec<_>>(),
        [
            "2 ranges unavailable (ranges_unavailable; they lost a quorum of replicas), \
          on node 2 (roach2:26257): 2"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_replicated_ranges_degrade_it() {
    let mut nodes = three(Generation::V19);
    nodes[0].stores[0].underreplicated = 3.0;
    nodes[2].stores[1].underreplicated = 1.0;
    let report = report_of(nodes, Options::default()).await;
    assert_eq!(report.status(), Status::Degraded);
    assert_eq!(
        report.reasons().collect::<Vec<_>>(),
        [
            "4 ranges under-replicated (ranges_underreplicated), on node 1 (roach1:26257): 3, \
          node 3 (roach3:26257): 1"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_refusing_connections_is_named() {
    let cluster = FakeCluster::start(three(Generation::V22)).await;
    let mut endpoints = cluster.endpoints();
    let port = closed_port();
    endpoints.push(format!("http://127.0.0.1:{port}"));
    let report = collect(&plain(&endpoints)).await;
    assert_eq!(report.status(), Status::Degraded);
    assert_eq!(
        report.reasons().collect::<Vec<_>>(),
        [format!(
            "node at http://127.0.0.1:{port} (127.0.0.1:{port}) not answering: connection refused"
        )]
    );
    assert_eq!(report.expect_value("nodes_not_ready"), 1.0);
    let node = report.node_by_id(&format!("http://127.0.0.1:{port}"));
    assert_eq!(report.status_of(node), NodeStatus::Unknown);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_stops_answering_keeps_its_name() {
    let mut cluster = FakeCluster::start(three(Generation::V19)).await;
    let connector = plain(&cluster.endpoints());
    assert_eq!(collect(&connector).await.status(), Status::Healthy);
    drop(cluster.servers.remove(1));
    let report = collect(&connector).await;
    assert_eq!(report.status(), Status::Degraded);
    // The name is the point; the reason is the OS's, and under load the stopped server's
    // socket may still take the connection and close it (its task is dropped a moment after
    // the server), so either wording is right.
    let reasons: Vec<_> = report.reasons().collect();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].starts_with("node 2 (roach2:26257) not answering: ")
            && (reasons[0].ends_with("connection refused")
                || reasons[0].contains("closed a new connection without a response")),
        "{reasons:?}"
    );
    assert_eq!(
        report.address_of(report.node_by_id("2")),
        Some("roach2:26257")
    );
    // Its figures are gone from the sums; the others still count.
    assert_eq!(report.expect_value("ranges"), 2.0 * 2.0 * 20.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_not_ready_degrades_the_cluster() {
    let mut nodes = three(Generation::V22);
    nodes[1].ready = false;
    let report = report_of(nodes, Options::default()).await;
    assert_eq!(report.status(), Status::Degraded);
    assert_eq!(
        report.reasons().collect::<Vec<_>>(),
        ["node 2 (roach2:26257) not ready: node is not healthy (GET /health?ready=1: HTTP 503)"]
    );
    assert_eq!(report.expect_value("nodes_not_ready"), 1.0);
    // Without the nodes API, a node that answers but is not ready reads as unavailable.
    assert_eq!(
        report.status_of(report.node_by_id("2")),
        NodeStatus::Unavailable
    );
    assert_eq!(report.expect_value("nodes_unavailable"), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_nodes_at_half_or_less_make_it_unhealthy() {
    // Without the nodes API, liveness_livenodes tells how many nodes are live.
    let mut nodes: Vec<Node> = (1..=4).map(|id| Node::new(id, Generation::V22)).collect();
    for node in &mut nodes {
        node.live_nodes = 2.0;
    }
    let report = report_of(nodes, Options::default()).await;
    assert_eq!(report.expect_value("nodes_live"), 2.0);
    assert_eq!(report.status(), Status::Unhealthy);
    assert_eq!(
        report.reasons().collect::<Vec<_>>(),
        ["only 2 of 4 nodes live (nodes_live): a majority is needed"]
    );
    // Three of four is a majority.
    let mut nodes: Vec<Node> = (1..=4).map(|id| Node::new(id, Generation::V22)).collect();
    nodes.iter_mut().for_each(|n| n.live_nodes = 3.0);
    assert_eq!(
        report_of(nodes, Options::default()).await.status(),
        Status::Healthy
    );
}

fn with_capacity_used(percent: f64) -> Vec<Node> {
    let mut nodes = three(Generation::V22);
    for store in nodes.iter_mut().flat_map(|n| n.stores.iter_mut()) {
        store.used = percent * GIB;
        store.available = (100.0 - percent) * GIB;
    }
    nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_thresholds_and_their_options() {
    let report = report_of(with_capacity_used(79.0), Options::default()).await;
    assert_eq!(report.status(), Status::Healthy, "{report:?}");
    let report = report_of(with_capacity_used(80.0), Options::default()).await;
    assert_eq!(report.status(), Status::Degraded);
    assert_eq!(
        report.reasons().collect::<Vec<_>>(),
        [
            "capacity_used_percent is 80.0 %, at or above 80 % (fullest: node 1 (roach1:26257) at 80.0 %)"
        ]
    );
    let mut nodes = with_capacity_used(95.0);
    nodes[2].stores[0].used = 99.0 * GIB;
    nodes[2].stores[0].available = 1.0 * GIB;
    let report = report_of(nodes, Options::default()).await;
    assert_eq!(report.status(), Status::Unhealthy);
    assert_eq!(
        report.reasons().collect::<Vec<_>>(),
        [
            "capacity_used_percent is 95.7 %, at or above 95 % (fullest: node 3 (roach3:26257) at 97.0 %)"
        ]
    );
    let options = Options {
        capacity_degraded_percent: Some(50.0),
        capacity_unhealthy_percent: Some(60.0),
        ..Options::default()
    };
    let report = report_of(with_capacity_used(55.0), options).await;
    assert_eq!(report.status(), Status::Degraded, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_offset_against_max_offset() {
    // 40 % of the default 500ms is 200 ms; the worst node is the one with the largest |mean|.
    let mut nodes = three(Generation::V22);
    nodes[0].clock_mean_ns = 150e6;
    nodes[2].clock_mean_ns = -210e6;
    nodes[2].clock_stddev_ns = 3e6;
    let report = report_of(nodes.clone(), Options::default()).await;
    assert_eq!(report.expect_value("clock_offset_mean_ns"), -210e6);
    assert_eq!(report.expect_value("clock_offset_stddev_ns"), 3e6);
    assert_eq!(report.status(), Status::Degraded);
    assert_eq!(
        report.reasons().collect::<Vec<_>>(),
        [
            "clock_offset_mean_ns of node 3 (roach3:26257) is -210.0 ms, at or above 40 % of max_offset 500ms"
        ]
    );
    nodes[2].clock_mean_ns = -190e6;
    let report = report_of(nodes.clone(), Options::default()).await;
    assert_eq!(report.status(), Status::Healthy, "{report:?}");
    let options = Options {
        max_offset: Some("250ms".into()),
        ..Options::default()
    };
    let report = report_of(nodes, options).await;
    assert_eq!(report.status(), Status::Degraded);
    assert_eq!(
        report.reasons().collect::<Vec<_>>(),
        [
            "clock_offset_mean_ns of node 3 (roach3:26257) is -190.0 ms, at or above 40 % of max_offset 250ms"
        ]
    );
}
