//! Against the machine's own MariaDB (127.0.0.1:3306, root without a password), read-only:
//! every figure the connector reports is checked against what the server itself says in the
//! same test, read just before and just after the collection.

mod common;

use common::{MACHINE, collect, config, connector, direct, number, show};
use dbmon_connector_api::Status;
use dbmon_connector_mysql::Options;
use dbmon_test_support::ReportExt;
use mysql_async::{Row, prelude::Queryable};
use std::{collections::BTreeMap, time::Instant};

/// `value` is between what the server said before and after the collection.
fn between(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
    name: &str,
    value: f64,
) {
    let (low, high) = (number(before, name), number(after, name));
    assert!(
        low <= value && value <= high,
        "{name}: the connector says {value}, the server {low} before and {high} after"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figures_match_what_the_server_says() {
    let mysql = connector(config(&[MACHINE], Options::default()));
    let mut conn = direct(3306).await;
    let variables = show(&mut conn, "VARIABLES").await;
    let channels: Vec<Row> = conn.query("SHOW ALL SLAVES STATUS").await.unwrap();
    let before = show(&mut conn, "STATUS").await;
    let report = collect(&mysql).await;
    let after = show(&mut conn, "STATUS").await;
    let node = Some(MACHINE);
    let value = |name: &str| report.exact_value(node, name, &[]);

    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    let version = &variables["version"];
    assert_eq!(report.labels().get("version"), Some(version.as_str()));
    let handle = report.node_by_id(MACHINE);
    let labels = report.node_labels(handle);
    assert_eq!(labels.get("version"), Some(version.as_str()));
    assert_eq!(labels.get("flavor"), Some("mariadb"));
    assert_eq!(report.address_of(handle), Some(MACHINE));

    assert_eq!(value("up"), 1.0);
    assert_eq!(
        value("connections_max"),
        number(&variables, "max_connections")
    );
    between(&before, &after, "Uptime", value("uptime_seconds"));
    between(&before, &after, "Questions", value("questions"));
    between(&before, &after, "Slow_queries", value("slow_queries"));
    between(
        &before,
        &after,
        "Aborted_connects",
        value("aborted_connects"),
    );
    between(
        &before,
        &after,
        "Max_used_connections",
        value("connections_max_used"),
    );
    between(
        &before,
        &after,
        "Innodb_buffer_pool_read_requests",
        value("innodb_buffer_pool_read_requests"),
    );
    between(
        &before,
        &after,
        "Innodb_buffer_pool_reads",
        value("innodb_buffer_pool_reads"),
    );
    between(
        &before,
        &after,
        "Innodb_buffer_pool_pages_total",
        value("innodb_buffer_pool_pages_total"),
    );
    // The connector's own connection and the test's are connected, and one of them runs.
    assert!(value("connections") >= 2.0, "{report:#?}");
    assert!(value("threads_running") >= 1.0, "{report:#?}");
    let used = value("connections") / value("connections_max") * 100.0;
    assert!((value("connections_used_percent") - used).abs() < 1e-9);
    let dirty = value("innodb_buffer_pool_pages_dirty");
    assert!(dirty <= value("innodb_buffer_pool_pages_total"));
    let dirty_percent = dirty / value("innodb_buffer_pool_pages_total") * 100.0;
    assert!((value("innodb_buffer_pool_dirty_percent") - dirty_percent).abs() < 1e-9);
    // The first collection has no previous one: the hit ratio is since the server started,
    // and there is no rate yet.
    let hit = 100.0
        * (1.0 - value("innodb_buffer_pool_reads") / value("innodb_buffer_pool_read_requests"));
    assert!((value("innodb_buffer_pool_hit_percent") - hit).abs() < 1e-9);
    assert!(report.series_of(node, "queries_per_second", &[]).is_empty());

    // Not a replica, not a Galera node: as the server says.
    assert!(channels.is_empty());
    assert_eq!(value("replication_channels"), 0.0);
    assert_eq!(variables["wsrep_on"], "OFF");
    let names = report.metric_names(true);
    assert!(
        !names.iter().any(|n| n.starts_with("galera_")
            || n.starts_with("replication_") && *n != "replication_channels"),
        "{names:?}"
    );
    let dumps: Option<u64> = conn
        .query_first(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'",
        )
        .await
        .unwrap();
    let connected = (dumps.unwrap() as f64).max(number(&after, "Slaves_connected"));
    assert_eq!(value("replicas_connected"), connected);
    let role = if connected == 0.0 {
        "standalone"
    } else {
        "source"
    };
    assert_eq!(labels.get("role"), Some(role));

    assert_eq!(report.exact_value(None, "nodes_up", &[]), 1.0);
    assert_eq!(
        report.exact_value(None, "connections", &[]),
        value("connections")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rates_and_the_hit_ratio_are_over_the_time_between_collections() {
    let mysql = connector(config(&[MACHINE], Options::default()));
    let mut conn = direct(3306).await;
    let a = Instant::now();
    let first = collect(&mysql).await;
    let b = Instant::now();
    for _ in 0..50 {
        conn.query_drop("DO 1").await.unwrap();
    }
    // Reads an InnoDB table: buffer pool page requests in between.
    for _ in 0..5 {
        conn.query_drop("SELECT COUNT(*) FROM mysql.innodb_table_stats")
            .await
            .unwrap();
    }
    let c = Instant::now();
    let second = collect(&mysql).await;
    let d = Instant::now();
    let node = Some(MACHINE);
    let questions = |r: &dbmon_connector_api::Report| r.exact_value(node, "questions", &[]);
    let increase = questions(&second) - questions(&first);
    assert!(increase >= 50.0, "{increase}");
    // The connector timed its two answers somewhere within [a, b] and [c, d].
    let qps = second.exact_value(node, "queries_per_second", &[]);
    let (low, high) = (
        increase / (d - a).as_secs_f64(),
        increase / (c - b).as_secs_f64(),
    );
    assert!(low <= qps && qps <= high, "{low} <= {qps} <= {high}");
    assert_eq!(second.exact_value(None, "queries_per_second", &[]), qps);
    let units: Vec<_> = second
        .series_of(node, "queries_per_second", &[])
        .iter()
        .map(|s| s.unit())
        .collect();
    assert_eq!(units, [Some("queries/s")]);

    // The hit ratio of the second is over the page reads between the two, not since the start.
    let counter = |r: &dbmon_connector_api::Report, name: &str| r.exact_value(node, name, &[]);
    let requests = counter(&second, "innodb_buffer_pool_read_requests")
        - counter(&first, "innodb_buffer_pool_read_requests");
    let reads =
        counter(&second, "innodb_buffer_pool_reads") - counter(&first, "innodb_buffer_pool_reads");
    assert!(requests > 0.0, "{requests}");
    let hit = second.exact_value(node, "innodb_buffer_pool_hit_percent", &[]);
    let expected = 100.0 * (1.0 - reads / requests);
    assert!((hit - expected).abs() < 1e-9, "{hit} vs {expected}");
}
