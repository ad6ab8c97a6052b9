//! The machine's own PostgreSQL on 127.0.0.1:5432, and endpoints that are not PostgreSQL at
//! all: a closed port, a server speaking another protocol, one that never answers.

mod common;

use common::{MACHINE, closed_port, collect, collect_error, config, connector, ctx_with};
use dbmon_connector_api::{Connector, NodeStatus, Status};
use dbmon_connector_postgres::{Options, XID_WRAPAROUND_LIMIT};
use dbmon_test_support::{ReportExt, docs::ConnectorDir, readme_kinds::ReadmeKinds};
use std::{process::Command, time::Duration};
use tokio::{io::AsyncWriteExt, net::TcpListener};

/// Runs SQL on the machine's server with psql.
fn psql(sql: &str) -> String {
    let out = Command::new("psql")
        .args([
            "-X",
            "-A",
            "-t",
            "-h",
            "127.0.0.1",
            "-p",
            "5432",
            "-U",
            "postgres",
        ])
        .args(["-d", "postgres", "-c", sql])
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_has_the_kind_the_readme_gives_it() {
    let report = collect(&connector(config(&[MACHINE], Options::default()))).await;
    let kinds = ReadmeKinds::read(&ConnectorDir::new(env!("CARGO_MANIFEST_DIR")));
    let checked = kinds.check(&report);
    // A primary without replicas: no replication metrics (examples.rs checks those, on a
    // primary with its replica).
    let replication = [
        "recovery_lag_seconds",
        "replication_lag_bytes",
        "replication_lag_seconds",
    ];
    for unseen in [&checked.unseen_cluster, &checked.unseen_node] {
        assert!(
            unseen
                .iter()
                .all(|name| replication.contains(&name.as_str())),
            "{checked:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_machines_server_is_one_primary_with_its_figures() {
    let pg = connector(config(&[MACHINE], Options::default()));
    let report = collect(&pg).await;
    assert_ne!(report.status(), Status::Unhealthy, "{report:#?}");
    assert_eq!(report.exact_value(None, "primaries", &[]), 1.0);
    assert_eq!(report.exact_value(None, "up", &[]), 1.0);
    let node = report.node_by_id(MACHINE);
    assert_eq!(
        (report.status_of(node), report.node_labels(node).get("role")),
        (NodeStatus::Live, Some("primary"))
    );
    assert_eq!(report.address_of(node), Some(MACHINE));

    let version: f64 = psql("SHOW server_version_num").parse().unwrap();
    assert_eq!(report.exact_value(None, "version", &[]), version);
    let short = psql("SHOW server_version");
    let short = short.split_whitespace().next().unwrap();
    assert_eq!(report.node_labels(node).get("version"), Some(short));
    assert!(report.labels().any(|label| label == ("version", short)));
    let max: f64 = psql("SHOW max_connections").parse().unwrap();
    assert_eq!(report.exact_value(None, "connections_max", &[]), max);
    let connections = report.exact_value(None, "connections", &[]);
    assert!(connections >= 1.0, "our own session counts: {connections}");
    let percent = report.exact_value(None, "connections_used_percent", &[]);
    assert!((percent - connections / max * 100.0).abs() < 1e-9);
    assert!(report.one_value(None, "database_size_bytes", &[("database", "postgres")]) > 0.0);
    let age: f64 = psql("SELECT max(age(datfrozenxid)) FROM pg_database")
        .parse()
        .unwrap();
    let xid = report.exact_value(None, "xid_wraparound_percent", &[]);
    // Other sessions may use transaction IDs between the two reads.
    assert!(
        (xid - age / XID_WRAPAROUND_LIMIT * 100.0).abs() < 0.01,
        "{xid} vs age {age}"
    );
    assert!(report.exact_value(None, "oldest_transaction_seconds", &[]) >= 0.0);
    assert!(report.exact_value(None, "locks_waiting", &[]) >= 0.0);
    assert!(
        report
            .series_of(None, "recovery_lag_seconds", &[])
            .is_empty(),
        "no standby"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_and_a_missing_replica_degrade_with_the_figure_named() {
    let options = Options {
        connections_used_degraded_percent: 0.0,
        xid_wraparound_degraded_percent: 0.0,
        expected_replicas: vec!["ghost-replica".into()],
        ..Options::default()
    };
    let report = collect(&connector(config(&[MACHINE], options))).await;
    assert_eq!(report.status(), Status::Degraded, "{report:#?}");
    assert!(
        report.has_reason(&["node 127.0.0.1:5432", "connections_used_percent over 0"]),
        "{report:#?}"
    );
    assert!(
        report.has_reason(&[
            "node 127.0.0.1:5432",
            "database '",
            "xid_wraparound_percent over 0"
        ]),
        "{report:#?}"
    );
    assert!(
        report.has_reason(&["expected replica 'ghost-replica'"]),
        "{report:#?}"
    );
    assert_eq!(report.reasons().count(), 3, "{report:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_is_a_clear_error() {
    let endpoint = format!("127.0.0.1:{}", closed_port());
    let pg = connector(config(&[endpoint.as_str()], Options::default()));
    let (error, took) = collect_error(&pg, Duration::from_secs(5)).await;
    assert!(error.contains(&format!("node {endpoint}")), "{error}");
    assert!(error.contains("Connection refused"), "{error}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_of_another_protocol_is_a_clear_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let reply = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
            let _ = stream.write_all(reply).await;
        }
    });
    let pg = connector(config(&[endpoint.as_str()], Options::default()));
    let (error, took) = collect_error(&pg, Duration::from_secs(3)).await;
    server.abort();
    assert!(
        error.contains(&format!(
            "node {endpoint}: {endpoint} answered with something that is not the PostgreSQL \
             protocol (it looks like HTTP); is this the right port?"
        )),
        "{error}"
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_costs_a_reason_by_the_deadline() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream); // accepted, never answered
        }
    });
    let pg = connector(config(&[MACHINE, silent.as_str()], Options::default()));
    let started = std::time::Instant::now();
    let report = pg.collect(&ctx_with(Duration::from_millis(1500))).await;
    let took = started.elapsed();
    let report = report.expect("the machine's server answers");
    assert!(took < Duration::from_millis(2500), "{took:?}");
    assert_eq!(report.status(), Status::Degraded, "{report:#?}");
    assert!(
        report.has_reason(&[&format!("node {silent} not answering"), "ms"]),
        "{report:#?}"
    );
    assert_eq!(
        report.status_of(report.node_by_id(&silent)),
        NodeStatus::Unavailable
    );
    assert_eq!(report.exact_value(None, "primaries", &[]), 1.0);

    let alone = connector(config(&[silent.as_str()], Options::default()));
    let (error, took) = collect_error(&alone, Duration::from_millis(800)).await;
    server.abort();
    assert!(error.contains(&format!("node {silent}")), "{error}");
    assert!(took < Duration::from_millis(1800), "{took:?}");
}
