//! A source and its replica of the test's own (two mariadbd on free ports, GTID replication):
//! healthy while it replicates, then a stopped SQL thread, a lagging (delayed) replica and a
//! killed source each turn the verdict, with a reason naming the replica and the error.

mod common;

use common::{collect, config, connector, server::MariaDb, with_auth};
use dbmon_connector_api::{Report, Status};
use dbmon_connector_mysql::{Mysql, Options};
use dbmon_test_support::ReportExt;
use mysql_async::{Row, prelude::Queryable};
use std::time::{Duration, Instant};

/// A source with one replica, caught up.
async fn pair() -> (MariaDb, MariaDb) {
    let (source, replica) = tokio::join!(MariaDb::start(1, &[]), MariaDb::start(2, &[]));
    replica.replicate_from(&source, "").await;
    source
        .exec("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY); INSERT INTO app.t VALUES (1)")
        .await;
    replica.wait_caught_up(&source).await;
    (source, replica)
}

/// The replica's `SHOW ALL SLAVES STATUS` row, column by name.
async fn slave_status(replica: &MariaDb, column: &str) -> Option<String> {
    let mut conn = replica.conn().await;
    let rows: Vec<Row> = conn.query("SHOW ALL SLAVES STATUS").await.unwrap();
    assert_eq!(rows.len(), 1);
    rows[0].get::<Option<String>, _>(column).flatten()
}

/// Collects until `ready` holds, for at most 30 s.
async fn collect_until(mysql: &Mysql, what: &str, ready: impl Fn(&Report) -> bool) -> Report {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let report = collect(mysql).await;
        if ready(&report) {
            return report;
        }
        assert!(Instant::now() < until, "never {what}: {report:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replicating_pair_is_healthy_until_the_sql_thread_stops_or_the_source_dies() {
    let (mut source, replica) = pair().await;
    let (s, r) = (source.endpoint(), replica.endpoint());
    let mysql = connector(config(&[&s, &r], Options::default()));
    let source_label = [("source", s.as_str())];

    let report = collect(&mysql).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    let role = |report: &Report, id: &str| {
        report
            .node_labels(report.node_by_id(id))
            .get("role")
            .map(String::from)
    };
    assert_eq!(role(&report, &s).as_deref(), Some("source"));
    assert_eq!(role(&report, &r).as_deref(), Some("replica"));
    assert_eq!(report.exact_value(Some(&s), "replicas_connected", &[]), 1.0);
    assert_eq!(
        report.exact_value(Some(&r), "replication_channels", &[]),
        1.0
    );
    let on_replica =
        |report: &Report, name: &str| report.exact_value(Some(&r), name, &source_label);
    assert_eq!(on_replica(&report, "replication_io_running"), 1.0);
    assert_eq!(on_replica(&report, "replication_sql_running"), 1.0);
    assert_eq!(on_replica(&report, "replication_seconds_behind"), 0.0);
    assert_eq!(on_replica(&report, "replication_gtid_gap"), 0.0);
    assert_eq!(report.exact_value(None, "replicas", &[]), 1.0);
    assert_eq!(
        report.exact_value(None, "replication_seconds_behind", &[]),
        0.0
    );
    // An account without PROCESS does not see the replica's thread; MariaDB's own count of
    // its replicas still tells that the source is one.
    source
        .exec("SET sql_log_bin = 0; CREATE USER 'plain'@'127.0.0.1' IDENTIFIED BY 'pw'; SET sql_log_bin = 1")
        .await;
    let plain = connector(with_auth(
        config(&[&s], Options::default()),
        "plain",
        Some("pw"),
    ));
    let seen = collect(&plain).await;
    assert_eq!(seen.exact_value(Some(&s), "replicas_connected", &[]), 1.0);
    assert_eq!(role(&seen, &s).as_deref(), Some("source"));
    // As the replica says.
    assert_eq!(
        slave_status(&replica, "Slave_IO_Running").await.as_deref(),
        Some("Yes")
    );
    assert_eq!(
        slave_status(&replica, "Seconds_Behind_Master")
            .await
            .as_deref(),
        Some("0")
    );

    // The SQL thread stops; the source writes three more transactions, which arrive.
    replica.exec("STOP SLAVE SQL_THREAD").await;
    for id in 2..5 {
        source
            .exec(&format!("INSERT INTO app.t VALUES ({id})"))
            .await;
    }
    let written = source.value("SELECT @@gtid_binlog_pos").await;
    let until = Instant::now() + Duration::from_secs(30);
    while slave_status(&replica, "Gtid_IO_Pos").await != written {
        assert!(
            Instant::now() < until,
            "the replica never received {written:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let report = collect(&mysql).await;
    assert_eq!(report.status(), Status::Unhealthy, "{report:#?}");
    assert!(
        report.has_reason(&[
            &format!("replica {r} (source {s})"),
            "SQL thread not running"
        ]),
        "{:?}",
        report.reasons().collect::<Vec<_>>()
    );
    assert_eq!(on_replica(&report, "replication_sql_running"), 0.0);
    assert_eq!(on_replica(&report, "replication_io_running"), 1.0);
    assert_eq!(on_replica(&report, "replication_gtid_gap"), 3.0);
    // NULL while the SQL thread is stopped: no figure rather than a wrong one.
    assert!(
        report
            .series_of(Some(&r), "replication_seconds_behind", &[])
            .is_empty()
    );
    assert_eq!(slave_status(&replica, "Seconds_Behind_Master").await, None);

    // It applies again and catches up: healthy.
    replica.exec("START SLAVE SQL_THREAD").await;
    replica.wait_caught_up(&source).await;
    let report = collect_until(&mysql, "healthy again", |r| r.status() == Status::Healthy).await;
    assert_eq!(on_replica(&report, "replication_gtid_gap"), 0.0);

    // The source dies: it does not answer, and the replica's I/O thread retries.
    source.kill();
    let report = collect_until(&mysql, "the replica connecting", |report| {
        report.has_reason(&[&format!("replica {r}"), "I/O thread connecting"])
    })
    .await;
    assert_eq!(report.status(), Status::Degraded, "{report:#?}");
    assert!(report.has_reason(&[&format!("node {s} not answering"), "cannot connect"]));
    let reason = report.reasons_with("I/O thread connecting")[0].to_string();
    assert!(reason.contains("last error:"), "{reason}");
    let last_error = slave_status(&replica, "Last_IO_Error").await.unwrap();
    assert!(reason.contains(&last_error), "{reason} vs {last_error}");
    assert_eq!(on_replica(&report, "replication_io_running"), 0.0);
    assert_eq!(role(&report, &s).as_deref(), Some("unknown"));
    assert_eq!(report.exact_value(None, "nodes_up", &[]), 1.0);
    assert_eq!(report.exact_value(None, "up", &[]), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_replica_over_the_threshold_is_degraded() {
    let (source, replica) = tokio::join!(MariaDb::start(1, &[]), MariaDb::start(2, &[]));
    // Applies each transaction 4 s after the source wrote it.
    replica.replicate_from(&source, ", MASTER_DELAY=4").await;
    let options = Options {
        replication_seconds_behind_degraded: 1.0,
        ..Options::default()
    };
    let mysql = connector(config(&[replica.endpoint()], options));
    source.exec("CREATE DATABASE lag").await;
    let r = replica.endpoint();
    let report = collect_until(&mysql, "behind by 2 s", |report| {
        report
            .series_of(Some(&r), "replication_seconds_behind", &[])
            .first()
            .is_some_and(|s| s.value() >= 2.0)
    })
    .await;
    assert_eq!(report.status(), Status::Degraded, "{report:#?}");
    let behind = report.one_value(Some(&r), "replication_seconds_behind", &[]);
    assert!(
        report.has_reason(&[
            &format!("replica {r} (source {})", source.endpoint()),
            &format!("is {behind:.0} s behind its source"),
            "replication_seconds_behind over 1"
        ]),
        "{:?}",
        report.reasons().collect::<Vec<_>>()
    );
    // The server's own figure, read right after, is no smaller.
    let shown: f64 = slave_status(&replica, "Seconds_Behind_Master")
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert!(shown >= behind, "{shown} < {behind}");
    // Once applied, it is caught up and healthy again.
    replica.wait_caught_up(&source).await;
    collect_until(&mysql, "healthy", |r| r.status() == Status::Healthy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_named_connection_of_a_multi_source_replica_is_a_channel() {
    let (east, west, replica) = tokio::join!(
        MariaDb::start(1, &["--gtid-domain-id=1"]),
        MariaDb::start(2, &["--gtid-domain-id=2"]),
        MariaDb::start(3, &[]),
    );
    replica.replicate_as("east", &east).await;
    replica.replicate_as("west", &west).await;
    east.exec("CREATE DATABASE e").await;
    west.exec("CREATE DATABASE w").await;
    replica.wait_caught_up(&east).await;
    replica.wait_caught_up(&west).await;
    let r = replica.endpoint();
    let mysql = connector(config(&[&r], Options::default()));
    let report = collect(&mysql).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    assert_eq!(
        report.exact_value(Some(&r), "replication_channels", &[]),
        2.0
    );
    for (name, source) in [("east", &east), ("west", &west)] {
        let labels = [("channel", name), ("source", &source.endpoint())];
        for metric in ["replication_io_running", "replication_sql_running"] {
            assert_eq!(
                report.exact_value(Some(&r), metric, &labels),
                1.0,
                "{metric}"
            );
        }
        assert_eq!(
            report.exact_value(Some(&r), "replication_gtid_gap", &labels),
            0.0
        );
    }

    // One connection stopped: both its threads, named in the reasons; the other replicates.
    replica.exec("STOP SLAVE 'west'").await;
    let report = collect(&mysql).await;
    assert_eq!(report.status(), Status::Unhealthy, "{report:#?}");
    let who = format!("replica {r} channel 'west' (source {})", west.endpoint());
    assert!(report.has_reason(&[&who, "SQL thread not running"]));
    assert!(report.has_reason(&[&who, "I/O thread not running"]));
    assert_eq!(report.reasons().count(), 2, "{report:#?}");
    let east_labels = [("channel", "east")];
    assert_eq!(
        report.one_value(Some(&r), "replication_sql_running", &east_labels),
        1.0
    );
    assert_eq!(
        report.one_value(Some(&r), "replication_sql_running", &[("channel", "west")]),
        0.0
    );
}
