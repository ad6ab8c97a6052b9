//! Collections from fake multi-node clusters of both `/_status/vars` generations: every figure,
//! summed over stores and nodes; rates across two collections.

mod common;

use common::*;
use dbmon_connector_api::{NodeStatus, Report, Status};
use dbmon_test_support::{HttpServer, Reply, ReportExt};
use std::time::{Duration, Instant};

/// The sums the report must show for `nodes`, computed from what the fake nodes serve.
fn check_sums(report: &Report, nodes: &[Node]) {
    let stores = || nodes.iter().flat_map(|n| n.stores.iter());
    let sum = |f: fn(&Store) -> f64| stores().map(f).sum::<f64>();
    assert_eq!(report.expect_value("ranges"), sum(|s| s.ranges));
    assert_eq!(report.expect_value("replicas"), sum(|s| s.replicas));
    assert_eq!(
        report.expect_value("ranges_unavailable"),
        sum(|s| s.unavailable)
    );
    assert_eq!(
        report.expect_value("ranges_underreplicated"),
        sum(|s| s.underreplicated)
    );
    assert_eq!(
        report.expect_value("ranges_overreplicated"),
        sum(|s| s.overreplicated)
    );
    assert_eq!(report.expect_value("capacity_bytes"), sum(|s| s.capacity));
    assert_eq!(
        report.expect_value("capacity_available_bytes"),
        sum(|s| s.available)
    );
    assert_eq!(report.expect_value("capacity_used_bytes"), sum(|s| s.used));
    let used = sum(|s| s.used);
    let expected = used / (used + sum(|s| s.available)) * 100.0;
    assert!(close(
        report.expect_value("capacity_used_percent"),
        expected
    ));
    let rss: f64 = nodes.iter().map(|n| n.rss).sum();
    assert_eq!(report.expect_value("memory_rss_bytes"), rss);
    let queries: f64 = nodes.iter().flat_map(|n| n.queries).sum();
    assert_eq!(report.expect_value("sql_queries_total"), queries);
    let pending: f64 = nodes.iter().flat_map(|n| n.queue_pending.iter()).sum();
    assert_eq!(report.expect_value("queue_pending_total"), pending);
}

async fn healthy_cluster(generation: Generation) {
    let nodes = three(generation);
    let cluster = FakeCluster::start(nodes.clone()).await;
    let report = collect(&plain(&cluster.endpoints())).await;
    assert_eq!(report.status(), Status::Healthy, "{report:?}");
    assert!(report.reasons().next().is_none(), "{report:?}");
    check_sums(&report, &nodes);
    assert_eq!(report.expect_value("nodes_total"), 3.0);
    assert_eq!(report.expect_value("nodes_live"), 3.0);
    for name in [
        "nodes_dead",
        "nodes_unavailable",
        "nodes_draining",
        "nodes_not_ready",
    ] {
        assert_eq!(report.expect_value(name), 0.0, "{name}");
    }
    assert_eq!(report.expect_value("clock_offset_mean_ns"), 15_000.0);
    assert_eq!(report.expect_value("clock_offset_stddev_ns"), 200_000.0);
    // All heartbeats since start on the first collection: rank 99 of 100 falls in (4, 8] ms,
    // 9 of its 10 observations in: 4 + 4 × 9/10.
    assert!(close(report.expect_value("heartbeat_latency_p99_ms"), 7.6));
    // No rate on the first collection, and no memory total without the API or sys_totalmem.
    assert_eq!(report.value("sql_qps"), None);
    assert_eq!(report.value("memory_total_bytes"), None);
    let rtt = report.expect_value("round_trip_ms");
    assert!(rtt > 0.0 && rtt < TIMEOUT.as_millis() as f64, "{rtt}");
    let version = nodes[0].version.as_str();
    assert_eq!(report.labels().get("version"), Some(version));
    for node in &nodes {
        let id = node.id.to_string();
        let out = report.node_by_id(&id);
        assert_eq!(report.address_of(out), Some(node.address().as_str()));
        assert_eq!(report.status_of(out), NodeStatus::Live);
        let labels: Vec<(&str, &str)> = report.node_labels(out).collect();
        assert_eq!(labels, [("version", version)]);
        let ranges: f64 = node.stores.iter().map(|s| s.ranges).sum();
        assert_eq!(report.node_value_of(&id, "ranges"), Some(ranges));
        assert_eq!(
            report.node_value_of(&id, "memory_rss_bytes"),
            Some(node.rss)
        );
        assert!(report.node_value_of(&id, "round_trip_ms").is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v19_cluster_reports_every_figure() {
    healthy_cluster(Generation::V19).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v22_cluster_reports_every_figure() {
    healthy_cluster(Generation::V22).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_versions_during_an_upgrade_are_all_labelled() {
    let mut nodes = three(Generation::V22);
    nodes[2] = Node::new(3, Generation::V19);
    nodes[1].sys_totalmem = Some(4.0 * GIB);
    let cluster = FakeCluster::start(nodes.clone()).await;
    let report = collect(&plain(&cluster.endpoints())).await;
    assert_eq!(report.labels().get("version"), Some("v19.2.2, v23.1.11"));
    let labels = report.node_labels(report.node_by_id("3"));
    assert_eq!(
        labels.clone().next().map(|(_, v)| v),
        Some("v19.2.2"),
        "{labels:?}"
    );
    check_sums(&report, &nodes);
    // Memory is compared only where both RSS and the machine's memory are known.
    assert_eq!(report.expect_value("memory_total_bytes"), 4.0 * GIB);
    let expected = nodes[1].rss / (4.0 * GIB) * 100.0;
    assert!(close(report.expect_value("memory_used_percent"), expected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qps_and_heartbeat_p99_come_from_two_collections() {
    let nodes = three(Generation::V22);
    let cluster = FakeCluster::start(nodes).await;
    let connector = plain(&cluster.endpoints());
    let first_start = Instant::now();
    let first = collect(&connector).await;
    let first_end = Instant::now();
    assert_eq!(first.value("sql_qps"), None);
    tokio::time::sleep(Duration::from_millis(400)).await;
    // 600 statements on each node; 50 heartbeats up to 2 ms and 50 in (8, 16] ms on node 2.
    for index in 0..3 {
        cluster.node(index, |n| n.queries = n.queries.map(|q| q + 150.0));
    }
    cluster.node(1, |n| {
        n.heartbeat = vec![
            (1e6, 0.0),
            (2e6, 90.0),
            (4e6, 140.0),
            (8e6, 150.0),
            (16e6, 200.0),
        ];
    });
    let second_start = Instant::now();
    let second = collect(&connector).await;
    let second_end = Instant::now();
    let qps = second.expect_value("sql_qps");
    let statements = 3.0 * 600.0;
    let slowest = statements / (second_end - first_start).as_secs_f64();
    let fastest = statements / (second_start - first_end).as_secs_f64();
    assert!(
        slowest <= qps && qps <= fastest,
        "{slowest} <= {qps} <= {fastest}"
    );
    let per_node: f64 = ["1", "2", "3"]
        .iter()
        .map(|id| second.node_value_of(id, "sql_qps").unwrap())
        .sum();
    assert!(close(qps, per_node), "{qps} vs {per_node}");
    // Only node 2's window has heartbeats: 0, 50, 50, 50, 100 → rank 99 of 100 lies in
    // (8, 16] ms, 49 of its 50: 8 + 8 × 49/50 = 15.84. The cumulative count would give 15.68.
    assert!(
        close(second.expect_value("heartbeat_latency_p99_ms"), 15.84),
        "{second:?}"
    );
    assert!(close(
        second
            .node_value_of("2", "heartbeat_latency_p99_ms")
            .unwrap(),
        15.84
    ));
    assert_eq!(second.node_value_of("1", "heartbeat_latency_p99_ms"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_counts_from_zero() {
    let cluster = FakeCluster::start(vec![Node::new(1, Generation::V19)]).await;
    let connector = plain(&cluster.endpoints());
    let first_start = Instant::now();
    collect(&connector).await;
    let first_end = Instant::now();
    cluster.node(0, |n| {
        n.queries = [30.0, 0.0, 0.0, 0.0];
        n.heartbeat = vec![
            (1e6, 10.0),
            (2e6, 10.0),
            (4e6, 10.0),
            (8e6, 10.0),
            (16e6, 10.0),
        ];
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second_start = Instant::now();
    let report = collect(&connector).await;
    let second_end = Instant::now();
    // Counters went down (1260 → 30): the 30 since the restart, never a negative rate.
    let qps = report.expect_value("sql_qps");
    let slowest = 30.0 / (second_end - first_start).as_secs_f64();
    let fastest = 30.0 / (second_start - first_end).as_secs_f64();
    assert!(
        slowest <= qps && qps <= fastest,
        "{slowest} <= {qps} <= {fastest}"
    );
    // Buckets went down: the ones since the restart, all ≤ 1 ms: 0 + 1 × 9.9/10.
    assert!(close(report.expect_value("heartbeat_latency_p99_ms"), 0.99));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_realistic_body_is_summed_over_its_eleven_stores() {
    let body = dbmon_promtext::synthetic::cockroach_like_vars(4);
    let server = HttpServer::start().await;
    server.set("/_status/vars", Reply::text(body.clone()));
    server.set("/health", Reply::json("{}"));
    let report = collect(&plain(&[server.url("")])).await;
    // The same sums, taken independently with the parser.
    let mut ranges = 0.0;
    let mut used = 0.0;
    for entry in dbmon_promtext::Parser::new(&body) {
        if let Ok(dbmon_promtext::Entry::Sample(s)) = entry {
            match s.name {
                "ranges" => ranges += s.value,
                "capacity_used" => used += s.value,
                _ => {}
            }
        }
    }
    assert_eq!(report.expect_value("ranges"), ranges);
    assert_eq!(report.expect_value("capacity_used_bytes"), used);
    assert_eq!(report.nodes().next().map(|(_, id, _)| id), Some("4"));
    assert_eq!(report.labels().get("version"), Some("v23.1.11"));
}
