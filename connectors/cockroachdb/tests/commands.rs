//! The `health`, `nodes` and `info` commands: readable tables from the same answers the
//! collections read, and clear refusals of what they do not take.

mod common;

use common::*;
use dbmon_connector_api::Connector;
use dbmon_connector_cockroachdb::CockroachDb;

/// The cells of a table's lines (split on runs of two spaces or more).
fn rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .map(|line| {
            line.split("  ")
                .map(str::trim)
                .filter(|cell| !cell.is_empty())
                .map(String::from)
                .collect()
        })
        .collect()
}

/// A cluster of three whose second node is not ready, plus an endpoint that refuses.
async fn troubled() -> (FakeCluster, Vec<String>, u16) {
    let mut nodes = three(Generation::V22);
    nodes[1].ready = false;
    let cluster = FakeCluster::start(nodes).await;
    let port = closed_port();
    let mut endpoints = cluster.endpoints();
    endpoints.push(format!("http://127.0.0.1:{port}"));
    (cluster, endpoints, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_shows_each_endpoint_live_and_ready_state() {
    let (_cluster, endpoints, port) = troubled().await;
    let output = run(&plain(&endpoints), "health").await;
    let table = rows(&output);
    assert_eq!(
        table[0],
        ["ENDPOINT", "LIVE", "READY", "ROUND_TRIP_MS", "DETAIL"]
    );
    assert_eq!(table.len(), 5, "{output}");
    assert_eq!(table[1][..3], [endpoints[0].as_str(), "yes", "yes"]);
    assert!(table[1][3].parse::<f64>().is_ok(), "{output}");
    assert_eq!(table[2][..3], [endpoints[1].as_str(), "yes", "no"]);
    assert_eq!(table[2][4], "HTTP 503: node is not healthy");
    assert_eq!(
        table[4],
        [
            format!("http://127.0.0.1:{port}").as_str(),
            "-",
            "-",
            "-",
            "not answering: connection refused"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_lists_every_node_with_liveness_version_ranges_and_capacity() {
    let (cluster, endpoints, port) = troubled().await;
    cluster.with(|s| {
        s.login = Some(("root".into(), "pw".into()));
        s.api_only = vec![(4, 1)];
    });
    let connector = connector(with_auth(
        config(&endpoints, Default::default()),
        "root",
        "pw",
    ));
    let output = run(&connector, "nodes").await;
    let table = rows(&output);
    assert_eq!(
        table[0],
        ["ID", "ADDRESS", "LIVENESS", "VERSION", "RANGES", "CAPACITY"]
    );
    assert_eq!(
        table[1],
        [
            "1",
            "roach1:26257",
            "live",
            "v23.1.11",
            "40",
            "200.0 GiB (10.0 % used)"
        ]
    );
    assert_eq!(table[2][..3], ["2", "roach2:26257", "live"]);
    assert_eq!(
        table[4],
        ["4", "roach4:26257", "dead", "v23.1.11", "-", "-"]
    );
    let refused = format!("http://127.0.0.1:{port}");
    assert_eq!(
        table[5][..3],
        [
            refused.as_str(),
            format!("127.0.0.1:{port}").as_str(),
            "unknown (not answering: connection refused)"
        ]
    );
    assert_eq!(table.len(), 6, "{output}");
    // A command does not move the rates' baseline: the first collection still has no QPS.
    assert_eq!(collect(&connector).await.value("sql_qps"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_gives_version_node_count_and_endpoints() {
    let (_cluster, endpoints, port) = troubled().await;
    let output = run(&plain(&endpoints), "info").await;
    let table = rows(&output);
    assert_eq!(table[0], ["version:", "v23.1.11"]);
    assert_eq!(table[1], ["nodes:", "4 (2 live)"]);
    assert_eq!(
        table[2],
        [
            "liveness:",
            "from /_status/vars and /health (no auth: configured)"
        ]
    );
    assert_eq!(
        table[3],
        [
            "endpoints:",
            &format!("{} -> node 1 (roach1:26257)", endpoints[0])
        ]
    );
    assert_eq!(
        table[6],
        [format!(
            "http://127.0.0.1:{port} -> not answering: connection refused"
        )]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_commands_and_arguments_are_refused() {
    let cluster = FakeCluster::start(three(Generation::V19)).await;
    let connector: CockroachDb = plain(&cluster.endpoints());
    let names: Vec<&str> = <CockroachDb as Connector>::info()
        .commands
        .iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["health", "nodes", "info"]);
    let error = connector
        .run_command("drain", &[], &ctx())
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown command 'drain'; commands: health, nodes, info"
    );
    let error = connector
        .run_command("nodes", &["--all".into()], &ctx())
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "nodes takes no arguments; got --all");
}
