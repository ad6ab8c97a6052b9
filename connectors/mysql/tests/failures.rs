//! What goes wrong, against real sockets and servers of the test's own: a closed port, a
//! server that never answers, one that speaks another protocol, a wrong password, a node of
//! two that is down, a connection the server killed, and too many connections.

mod common;

use common::{
    closed_port, collect, collect_error, config, connector, number, server::MariaDb, show,
    with_auth,
};
use dbmon_connector_api::{NodeStatus, Status, testkit::SilentServer};
use dbmon_connector_mysql::Options;
use dbmon_test_support::ReportExt;
use mysql_async::prelude::Queryable;
use std::{io::Write, time::Duration};

#[tokio::test]
async fn a_closed_port_is_an_error_naming_the_node() {
    let endpoint = format!("127.0.0.1:{}", closed_port());
    let mysql = connector(config(&[&endpoint], Options::default()));
    let (error, took) = collect_error(&mysql, Duration::from_secs(3)).await;
    assert!(
        error.starts_with(&format!("node {endpoint}: cannot connect:")),
        "{error}"
    );
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[tokio::test]
async fn a_silent_server_costs_the_deadline_not_more() {
    let silent = SilentServer::start().unwrap();
    let mysql = connector(config(&[silent.endpoint()], Options::default()));
    let (error, took) = collect_error(&mysql, Duration::from_millis(400)).await;
    assert!(error.contains("no answer within"), "{error}");
    assert!(took < Duration::from_millis(700), "{took:?}");
}

#[tokio::test]
async fn a_server_of_another_protocol_is_an_error() {
    // Says something that is not a MySQL handshake, then hangs up.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten().take(2) {
            let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
        }
    });
    let mysql = connector(config(&[&endpoint], Options::default()));
    let (error, took) = collect_error(&mysql, Duration::from_secs(3)).await;
    assert!(
        error.starts_with(&format!("node {endpoint}: cannot connect:")),
        "{error}"
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_says_so_without_the_password() {
    let server = MariaDb::start(1, &[]).await;
    let c = with_auth(
        config(&[server.endpoint()], Options::default()),
        "monitor",
        Some("wrong-horse-battery"),
    );
    let (error, _) = collect_error(&connector(c), Duration::from_secs(3)).await;
    assert!(
        error.contains("cannot connect: ERROR 1045") && error.contains("Access denied"),
        "{error}"
    );
    assert!(!error.contains("wrong-horse-battery"), "{error}");
    // The right one logs in; the monitoring user sees the replication status.
    let c = with_auth(
        config(&[server.endpoint()], Options::default()),
        common::server::PASSWORD_USER,
        Some(common::server::PASSWORD),
    );
    let report = collect(&connector(c)).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_who_may_not_read_replication_status_is_told_what_to_grant() {
    let server = MariaDb::start(1, &[]).await;
    server
        .exec("CREATE USER 'plain'@'127.0.0.1' IDENTIFIED BY 'pw'")
        .await;
    let c = with_auth(
        config(&[server.endpoint()], Options::default()),
        "plain",
        Some("pw"),
    );
    let report = collect(&connector(c)).await;
    assert_eq!(report.status(), Status::Degraded, "{report:#?}");
    assert!(
        report.has_reason(&["cannot read its replication status", "SLAVE MONITOR"]),
        "{:?}",
        report.reasons().collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_down_of_two_is_a_reason_and_an_unavailable_node() {
    let server = MariaDb::start(1, &[]).await;
    let down = format!("127.0.0.1:{}", closed_port());
    let mysql = connector(config(
        &[server.endpoint(), down.clone()],
        Options::default(),
    ));
    let report = collect(&mysql).await;
    assert_eq!(report.status(), Status::Degraded, "{report:#?}");
    assert!(report.has_reason(&[&format!("node {down} not answering: cannot connect")]));
    let node = report.node_by_id(&down);
    assert_eq!(report.status_of(node), NodeStatus::Unavailable);
    assert_eq!(report.exact_value(Some(&down), "up", &[]), 0.0);
    assert_eq!(report.node_labels(node).get("role"), Some("unknown"));
    assert_eq!(report.exact_value(None, "nodes", &[]), 2.0);
    assert_eq!(report.exact_value(None, "nodes_up", &[]), 1.0);
    assert_eq!(report.exact_value(None, "up", &[]), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_the_server_killed_is_made_again_within_the_collection() {
    let server = MariaDb::start(1, &[]).await;
    let mysql = connector(config(&[server.endpoint()], Options::default()));
    let report = collect(&mysql).await;
    assert_eq!(report.status(), Status::Healthy);
    let mut conn = server.conn().await;
    let others: Vec<u64> = conn
        .query("SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()")
        .await
        .unwrap();
    assert_eq!(others.len(), 1, "the connector keeps one connection");
    conn.query_drop(format!("KILL {}", others[0]))
        .await
        .unwrap();
    let report = collect(&mysql).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    assert_eq!(report.reasons().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_connections_are_degraded() {
    let server = MariaDb::start(1, &["--max-connections=10"]).await;
    // 8 of the test's, and the connector's own: 9 of 10.
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(server.conn().await);
    }
    let mysql = connector(config(&[server.endpoint()], Options::default()));
    let report = collect(&mysql).await;
    let status = show(&mut held[0], "STATUS").await;
    let e = server.endpoint();
    assert_eq!(report.exact_value(Some(&e), "connections_max", &[]), 10.0);
    assert_eq!(
        report.exact_value(Some(&e), "connections", &[]),
        number(&status, "Threads_connected")
    );
    assert_eq!(report.exact_value(Some(&e), "connections", &[]), 9.0);
    assert_eq!(report.status(), Status::Degraded, "{report:#?}");
    let reasons: Vec<&str> = report.reasons().collect();
    assert_eq!(
        reasons,
        [format!(
            "node {e} uses 9 of 10 connections (90.0 %, connections_used_percent over 80)"
        )]
    );
    // With a higher threshold, the same is healthy, once the first instance's connection
    // has gone with it.
    drop(mysql);
    while number(&show(&mut held[0], "STATUS").await, "Threads_connected") > 8.0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let options = Options {
        connections_used_degraded_percent: 95.0,
        ..Options::default()
    };
    let report = collect(&connector(config(&[&e], options))).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_is_reconnected_and_its_rates_start_again() {
    let mut server = MariaDb::start(1, &[]).await;
    let e = server.endpoint();
    let mysql = connector(config(&[&e], Options::default()));
    let rate = |r: &dbmon_connector_api::Report| r.node_value_of(&e, "queries_per_second");
    let first = collect(&mysql).await;
    assert_eq!(rate(&first), None);
    // Long enough for its uptime to be clearly more than the new run's.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let second = collect(&mysql).await;
    assert!(rate(&second).is_some(), "{second:#?}");

    server.restart().await;
    // The kept connection is gone with the old process: made again, no reason.
    let third = collect(&mysql).await;
    assert_eq!(third.status(), Status::Healthy, "{third:#?}");
    let uptime = |r: &dbmon_connector_api::Report| r.exact_value(Some(&e), "uptime_seconds", &[]);
    assert!(uptime(&third) < uptime(&second), "{third:#?}");
    // A new server run: nothing to compare its counters with.
    assert_eq!(rate(&third), None, "{third:#?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let fourth = collect(&mysql).await;
    assert!(rate(&fourth).is_some(), "{fourth:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_answering_costs_the_deadline_then_is_asked_anew() {
    let server = MariaDb::start(1, &[]).await;
    let e = server.endpoint();
    let mysql = connector(config(&[&e], Options::default()));
    assert_eq!(collect(&mysql).await.status(), Status::Healthy);

    // Its connection stays open, and nothing comes back on it.
    server.signal(libc::SIGSTOP);
    let (error, took) = collect_error(&mysql, Duration::from_millis(500)).await;
    assert!(
        error.starts_with(&format!("node {e}: no answer within")),
        "{error}"
    );
    assert!(took < Duration::from_millis(900), "{took:?}");
    server.signal(libc::SIGCONT);

    let report = collect(&mysql).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    // The stalled connection was closed, not kept: the server is left with the new one.
    let mut conn = server.conn().await;
    let until = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let others: Option<u64> = conn
            .query_first(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()",
            )
            .await
            .unwrap();
        if others == Some(1) {
            break;
        }
        assert!(
            std::time::Instant::now() < until,
            "{others:?} connections besides the test's"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
