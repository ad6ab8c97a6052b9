//! A primary and a streaming replica of the test's own, through the life of a cluster:
//! healthy, lagging, a replica or primary missing, two primaries, connections kept.

mod common;

use common::{MACHINE, collect, config, connector, server::PgServer};
use dbmon_connector_api::{Connector, NodeStatus, Status};
use dbmon_connector_postgres::{Options, XID_WRAPAROUND_LIMIT};
use dbmon_test_support::ReportExt;
use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A psql session running `sql` on `server` until dropped.
struct Session(Child);

impl Session {
    fn start(server: &PgServer, sql: &str) -> Session {
        let child = Command::new("psql")
            .args(["-X", "-h", "127.0.0.1", "-p", &server.port.to_string()])
            .args(["-U", "postgres", "-d", "postgres", "-c", sql])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start psql");
        Session(child)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_with_replica_through_lag_failover_mistakes_and_a_stop() {
    let primary = PgServer::primary("pgmain");
    let mut replica = PgServer::replica_of(&primary, "replica1");
    primary.wait_streaming("replica1");
    let (p, r) = (primary.endpoint(), replica.endpoint());
    let options = Options {
        expected_replicas: vec!["replica1".into()],
        ..Options::default()
    };
    let pg = connector(config(&[p.clone(), r.clone()], options.clone()));

    // Healthy: one primary, its replica streaming and caught up.
    let report = collect(&pg).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    assert_eq!(
        report.node_labels(report.node_by_id(&p)).get("role"),
        Some("primary")
    );
    assert_eq!(
        report.node_labels(report.node_by_id(&r)).get("role"),
        Some("standby")
    );
    assert_eq!(report.status_of(report.node_by_id(&r)), NodeStatus::Live);
    for (name, value) in [
        ("up", 1.0),
        ("nodes", 2.0),
        ("nodes_up", 2.0),
        ("primaries", 1.0),
    ] {
        assert_eq!(report.exact_value(None, name, &[]), value, "{name}");
    }
    assert_eq!(report.exact_value(None, "standbys", &[]), 1.0);
    assert_eq!(report.exact_value(None, "replicas_connected", &[]), 1.0);
    assert_eq!(report.exact_value(Some(&p), "replicas_connected", &[]), 1.0);
    assert_eq!(report.exact_value(Some(&r), "replicas_connected", &[]), 0.0);
    let lag = [
        ("replica", "replica1"),
        ("client_addr", "127.0.0.1"),
        ("upstream", p.as_str()),
    ];
    let lag_bytes = report.one_value(None, "replication_lag_bytes", &lag);
    assert!(lag_bytes >= 0.0, "{lag_bytes}");
    assert!(report.one_value(None, "replication_lag_seconds", &lag) >= 0.0);
    assert_eq!(
        report.exact_value(Some(&r), "recovery_lag_seconds", &[]),
        0.0,
        "caught up"
    );
    assert!(
        report
            .series_of(Some(&p), "recovery_lag_seconds", &[])
            .is_empty()
    );
    let version: f64 = primary.psql("SHOW server_version_num").parse().unwrap();
    assert_eq!(report.exact_value(None, "version", &[]), version);
    assert_eq!(report.exact_value(Some(&r), "version", &[]), version);
    assert_eq!(report.exact_value(None, "connections_max", &[]), 20.0);
    let template1: f64 = primary
        .psql("SELECT pg_database_size('template1')")
        .parse()
        .unwrap();
    let size = report.one_value(None, "database_size_bytes", &[("database", "template1")]);
    assert_eq!(size, template1, "nobody writes to template1");
    assert!(report.exact_value(None, "database_size_bytes", &[]) > size);
    let age: f64 = primary
        .psql("SELECT max(age(datfrozenxid)) FROM pg_database")
        .parse()
        .unwrap();
    let xid = report.exact_value(None, "xid_wraparound_percent", &[]);
    assert!(
        (xid - age / XID_WRAPAROUND_LIMIT * 100.0).abs() < 1e-4,
        "{xid} vs age {age}"
    );

    // The connection is kept between collections, and made again when the server drops it.
    let ours = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'dbmon'";
    collect(&pg).await;
    assert_eq!(primary.psql(ours), "1");
    primary.psql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'dbmon'",
    );
    let report = collect(&pg).await;
    assert_eq!(
        report.status(),
        Status::Healthy,
        "after a dropped connection: {report:#?}"
    );
    assert_eq!(primary.psql(ours), "1");

    // The activity command shows a long statement of another session.
    let _sleeper = Session::start(&primary, "SELECT pg_sleep(60) AS sleeper");
    let mut text = String::new();
    for _ in 0..50 {
        text = pg
            .run_command("activity", &[], &common::ctx_with(common::TIMEOUT))
            .await
            .expect("activity");
        if text.contains("pg_sleep") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(text.contains(&format!("node {p}: 1 statement")), "{text}");
    assert!(
        text.contains("PID") && text.contains("SELECT pg_sleep(60) AS sleeper"),
        "{text}"
    );
    assert!(
        text.contains(&format!("node {r}: no statement running")),
        "{text}"
    );

    // Lag: replay paused on the replica while the primary writes.
    replica.psql("SELECT pg_wal_replay_pause()");
    primary.psql("CREATE TABLE filler AS SELECT g FROM generate_series(1, 20000) g");
    let tight = connector(config(
        &[p.clone(), r.clone()],
        Options {
            replication_lag_bytes_degraded: 4096.0,
            ..options.clone()
        },
    ));
    let until = Instant::now() + Duration::from_secs(30);
    let lagging = loop {
        let report = collect(&tight).await;
        if report.status() == Status::Degraded || Instant::now() > until {
            break report;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        lagging.has_reason(&["'replica1'", &p, "replication_lag_bytes over 4096"]),
        "{lagging:#?}"
    );
    assert!(lagging.one_value(None, "replication_lag_bytes", &lag) > 4096.0);
    replica.psql("SELECT pg_wal_replay_resume()");

    // Without its primary the cluster is UNHEALTHY; with two primaries as well.
    let alone = collect(&connector(config(&[r.as_str()], Options::default()))).await;
    assert_eq!(alone.status(), Status::Unhealthy, "{alone:#?}");
    assert!(alone.has_reason(&["no primary", &r]), "{alone:#?}");
    let two = collect(&connector(config(
        &[p.clone(), MACHINE.into()],
        Options::default(),
    )))
    .await;
    assert_eq!(two.status(), Status::Unhealthy, "{two:#?}");
    assert!(two.has_reason(&["2 primaries", &p, MACHINE]), "{two:#?}");

    // The replica stops: DEGRADED within two collections a second apart, naming the node
    // and the replica (the primary notices the replica's connection closing at once).
    let healthy = collect(&pg).await;
    assert_eq!(healthy.status(), Status::Healthy, "{healthy:#?}");
    replica.stop();
    let mut report = collect(&pg).await;
    if report.reasons().count() < 2 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        report = collect(&pg).await;
    }
    assert_eq!(report.status(), Status::Degraded, "{report:#?}");
    assert!(
        report.has_reason(&["node", &r, "not answering"]),
        "{report:#?}"
    );
    assert!(
        report.has_reason(&["expected replica 'replica1'", "not streaming"]),
        "{report:#?}"
    );
    assert_eq!(
        report.status_of(report.node_by_id(&r)),
        NodeStatus::Unavailable
    );
    assert_eq!(report.exact_value(Some(&r), "up", &[]), 0.0);
    assert_eq!(report.exact_value(None, "up", &[]), 0.0);
    assert_eq!(report.exact_value(None, "nodes_up", &[]), 1.0);
    assert_eq!(report.exact_value(None, "replicas_connected", &[]), 0.0);
}
