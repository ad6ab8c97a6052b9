//! The nodes API: login, the session kept across collections, a new login when the session is
//! refused, liveness of every node, and the failures an operator must be able to act on —
//! without the password or the session in any message.

mod common;

use common::*;
use dbmon_connector_api::{NodeStatus, Status};
use dbmon_connector_cockroachdb::Options;
use dbmon_test_support::ReportExt;

const USER: &str = "monitor";
const PASSWORD: &str = "correct-horse-battery";

async fn secured(nodes: Vec<Node>) -> FakeCluster {
    let cluster = FakeCluster::start(nodes).await;
    cluster.with(|s| s.login = Some((USER.into(), PASSWORD.into())));
    cluster
}

fn logged_in(cluster: &FakeCluster, password: &str) -> dbmon_connector_cockroachdb::CockroachDb {
    connector(with_auth(
        config(&cluster.endpoints(), Options::default()),
        USER,
        password,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveness_and_memory_come_from_the_nodes_api() {
    let mut nodes = three(Generation::V22);
    nodes[1].liveness = 6; // DRAINING
    let cluster = secured(nodes.clone()).await;
    cluster.with(|s| s.api_only = vec![(4, 1), (5, 5), (6, 4)]); // DEAD, DECOMMISSIONED, DECOMMISSIONING
    let report = collect(&logged_in(&cluster, PASSWORD)).await;
    assert_eq!(report.expect_value("nodes_total"), 6.0);
    assert_eq!(report.expect_value("nodes_live"), 2.0);
    assert_eq!(report.expect_value("nodes_dead"), 1.0);
    assert_eq!(report.expect_value("nodes_draining"), 1.0);
    assert_eq!(report.expect_value("nodes_decommissioning"), 1.0);
    assert_eq!(report.expect_value("nodes_decommissioned"), 1.0);
    assert_eq!(report.expect_value("nodes_unavailable"), 0.0);
    assert_eq!(report.status(), Status::Unhealthy);
    assert_eq!(
        report.reasons().collect::<Vec<_>>(),
        [
            "node 4 (roach4:26257) is dead (node liveness)",
            // Decommissioned nodes are not counted among the nodes that need a majority.
            "only 2 of 5 nodes live (nodes_live): a majority is needed",
            "node 2 (roach2:26257) is draining (node liveness)",
            "node 6 (roach6:26257) is decommissioning (node liveness)",
        ]
    );
    let dead = report.node_by_id("4");
    assert_eq!(
        (report.status_of(dead), report.address_of(dead)),
        (NodeStatus::Dead, Some("roach4:26257"))
    );
    assert_eq!(
        report.status_of(report.node_by_id("5")),
        NodeStatus::Decommissioned
    );
    assert_eq!(
        report.status_of(report.node_by_id("2")),
        NodeStatus::Draining
    );
    // The machines' memory from the API, over the nodes whose RSS is known.
    let total = 3.0 * 8.0 * GIB;
    assert_eq!(report.expect_value("memory_total_bytes"), total);
    let rss: f64 = nodes.iter().map(|n| n.rss).sum();
    assert!(close(
        report.expect_value("memory_used_percent"),
        rss / total * 100.0
    ));
    assert_eq!(
        report.node_value_of("1", "memory_total_bytes"),
        Some(8.0 * GIB)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_login_serves_many_collections_and_a_refused_session_logs_in_again() {
    let cluster = secured(three(Generation::V22)).await;
    let connector = logged_in(&cluster, PASSWORD);
    for _ in 0..2 {
        let report = collect(&connector).await;
        assert_eq!(report.status(), Status::Healthy, "{report:?}");
    }
    assert_eq!(cluster.with(|s| s.logins), 1);
    // The server forgets its sessions (a restart, an expiry): 401, then one new login.
    cluster.with(|s| s.sessions.clear());
    let report = collect(&connector).await;
    assert_eq!(report.status(), Status::Healthy, "{report:?}");
    assert_eq!(report.expect_value("nodes_live"), 3.0);
    assert_eq!(cluster.with(|s| s.logins), 2);
    // The password travels only in login bodies; the session only in its header.
    let requests: Vec<_> = cluster.servers.iter().flat_map(|s| s.requests()).collect();
    for request in &requests {
        let body = String::from_utf8_lossy(&request.body);
        let is_login = request.path == "/api/v2/login/";
        assert_eq!(body.contains(PASSWORD), is_login, "{request:?}");
        assert!(!request.path.contains("c2Vzc2lvbi"), "{request:?}");
        assert!(
            request.headers.values().all(|v| !v.contains(PASSWORD)),
            "{request:?}"
        );
    }
    let listed = requests.iter().filter(|r| r.path == "/api/v2/nodes/");
    assert!(listed.clone().count() >= 3);
    assert!(
        listed
            .clone()
            .all(|r| r.headers.contains_key("x-cockroach-api-session"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_a_clear_reason_without_the_secret() {
    let cluster = secured(three(Generation::V22)).await;
    let wrong = "Tr0ub4dor&3-wrong";
    let connector = logged_in(&cluster, wrong);
    let report = collect(&connector).await;
    assert_eq!(report.status(), Status::Degraded);
    assert_eq!(
        report.reasons().collect::<Vec<_>>(),
        [
            "node liveness unknown: the nodes API did not answer: login as 'monitor' refused \
          (HTTP 401): the provided credentials did not match any account on the system; check \
          auth.username and the password"
        ]
    );
    // Asking the other nodes would not help: one attempt per collection.
    assert_eq!(cluster.with(|s| s.logins), 1);
    // The count falls back to what the nodes see.
    assert_eq!(report.expect_value("nodes_live"), 3.0);
    let nodes = run(&connector, "nodes").await;
    for text in report.reasons().chain([nodes.as_str()]) {
        assert!(!text.contains(wrong) && !text.contains(PASSWORD), "{text}");
    }
    assert!(
        nodes.contains("the nodes API did not answer: login as 'monitor' refused"),
        "{nodes}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_the_admin_role_is_told_so() {
    let cluster = secured(three(Generation::V22)).await;
    cluster.with(|s| s.forbid_nodes = true);
    let report = collect(&logged_in(&cluster, PASSWORD)).await;
    assert_eq!(
        report.reasons().collect::<Vec<_>>(),
        [
            "node liveness unknown: the nodes API did not answer: user 'monitor' may not list \
          nodes (HTTP 403): the nodes API needs the admin role"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_without_the_api_still_reports() {
    let cluster = secured(three(Generation::V19)).await;
    cluster.with(|s| s.no_api = true);
    let report = collect(&logged_in(&cluster, PASSWORD)).await;
    assert_eq!(report.status(), Status::Degraded);
    assert_eq!(
        report.reasons().collect::<Vec<_>>(),
        [
            "node liveness unknown: the nodes API did not answer: POST /api/v2/login/: HTTP 404: \
          this node serves no nodes API (CockroachDB before v21.1 has none)"
        ]
    );
    assert_eq!(report.expect_value("ranges"), 3.0 * 2.0 * 20.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_never_answered_is_not_counted_twice() {
    let cluster = secured(three(Generation::V22)).await;
    let port = closed_port();
    let mut endpoints = cluster.endpoints();
    endpoints.push(format!("http://127.0.0.1:{port}"));
    let connector = connector(with_auth(
        config(&endpoints, Options::default()),
        USER,
        PASSWORD,
    ));
    let report = collect(&connector).await;
    // It is one of the three nodes the API lists, not a fourth.
    assert_eq!(report.expect_value("nodes_total"), 3.0);
    assert_eq!(report.expect_value("nodes_live"), 3.0);
    assert_eq!(report.expect_value("nodes_not_ready"), 1.0);
    assert_eq!(
        report.reasons().collect::<Vec<_>>(),
        [format!(
            "node at http://127.0.0.1:{port} (127.0.0.1:{port}) not answering: connection refused"
        )]
    );
}
