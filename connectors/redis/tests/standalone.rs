//! Standalone servers: the machine's own Redis on 6379 (read only), and servers the tests
//! start, alone or as a master with its replica.

mod common;

use common::{Server, bad, collect, collect_until, config, connector};
use dbmon_connector_api::{NodeStatus, Status};
use dbmon_test_support::{ReportExt, docs::ConnectorDir, readme_kinds::ReadmeKinds};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_machines_redis_on_6379_is_a_healthy_standalone_master() {
    // Read-only: INFO, never a write.
    let client = redis::Client::open("redis://127.0.0.1:6379/").unwrap();
    let mut conn = client
        .get_connection_with_timeout(Duration::from_secs(5))
        .expect("the machine's Redis on 127.0.0.1:6379");
    let info: String = redis::cmd("INFO").arg("server").query(&mut conn).unwrap();
    let version = info
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .unwrap()
        .trim()
        .to_string();

    let redis = connector(config(&["redis://127.0.0.1:6379"]));
    let report = collect(&redis).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    assert_eq!(report.labels().get("mode"), Some("standalone"));
    assert_eq!(report.labels().get("version"), Some(version.as_str()));
    assert_eq!(report.one_value(None, "up", &[]), 1.0);
    assert_eq!(report.one_value(None, "nodes", &[]), 1.0);
    assert_eq!(report.one_value(None, "masters", &[]), 1.0);
    assert_eq!(report.one_value(None, "replicas", &[]), 0.0);
    assert!(report.one_value(None, "memory_used_bytes", &[]) > 0.0);
    // This collection's own connection is one of them.
    assert!(report.one_value(None, "connected_clients", &[]) >= 1.0);
    assert!(report.series_of(None, "cluster_state_ok", &[]).is_empty());
    let node = report.node_by_id("127.0.0.1:6379");
    assert_eq!(report.status_of(node), NodeStatus::Live);
    assert_eq!(report.address_of(node), Some("127.0.0.1:6379"));
    let labels = report.node_labels(node);
    assert_eq!(labels.get("role"), Some("master"));
    assert_eq!(labels.get("version"), Some(version.as_str()));
    let id = report.node_id(node);
    assert!(report.node_value_of(id, "round_trip_ms").unwrap() > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_has_the_kind_the_readme_gives_it() {
    // Read-only, as above. (cluster.rs checks the kinds of a cluster's metrics too.)
    let report = collect(&connector(config(&["redis://127.0.0.1:6379"]))).await;
    let kinds = ReadmeKinds::read(&ConnectorDir::new(env!("CARGO_MANIFEST_DIR")));
    let checked = kinds.check(&report);
    // A standalone master without replicas has no cluster, slot or replication metrics.
    let absent = |name: &String| {
        name.starts_with("cluster_") || name == "slots" || name == "replication_offset_lag_bytes"
    };
    for unseen in [&checked.unseen_cluster, &checked.unseen_node] {
        assert!(unseen.iter().all(absent), "{checked:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figures_match_what_the_server_holds() {
    let server = Server::start(&["--maxmemory", "64mb"]);
    for (db, key) in [("0", "a"), ("0", "b"), ("0", "c"), ("3", "d"), ("3", "e")] {
        let mut conn = server.conn(None);
        redis::cmd("SELECT").arg(db).query::<()>(&mut conn).unwrap();
        redis::cmd("SET")
            .arg(key)
            .arg("v")
            .query::<()>(&mut conn)
            .unwrap();
    }
    let redis = connector(config(&[server.address()]));
    let report = collect(&redis).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    assert_eq!(report.one_value(None, "keyspace_keys", &[]), 5.0);
    assert_eq!(
        report.one_value(None, "memory_max_bytes", &[]),
        64.0 * 1024.0 * 1024.0
    );
    let used = report.one_value(None, "memory_used_bytes", &[]);
    let percent = report.one_value(None, "memory_used_percent", &[]);
    assert!((percent - used / (64.0 * 1024.0 * 1024.0) * 100.0).abs() < 1e-9);
    let node = report.node_by_id(&server.address());
    let memory_limit = report.node_labels(node).get("memory_limit");
    assert_eq!(memory_limit, Some("maxmemory"));
    let id = report.node_id(node);
    assert_eq!(report.node_value_of(id, "keyspace_keys"), Some(5.0));
    assert!(report.node_value_of(id, "uptime_seconds").is_some());
    // The connection is kept between collections: the same client id each time.
    let others = || -> Vec<String> {
        let list = server.run(None, &["CLIENT", "LIST"]);
        list.lines()
            .filter(|l| !l.contains("cmd=client|list"))
            .filter_map(|l| l.split(' ').next().map(String::from))
            .collect()
    };
    let before = others();
    assert_eq!(before.len(), 1, "{before:?}");
    collect(&redis).await;
    assert_eq!(others(), before);
    let units: Vec<(&str, Option<&str>)> = report
        .series()
        .filter(|s| s.node().is_none() && s.name().starts_with("memory"))
        .map(|s| (s.name(), s.unit()))
        .collect();
    assert_eq!(
        units,
        [
            ("memory_used_bytes", Some("bytes")),
            ("memory_max_bytes", Some("bytes")),
            ("memory_used_percent", Some("percent"))
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_over_the_threshold_degrades_naming_the_node() {
    let server = Server::start(&["--maxmemory", "64mb"]);
    let mut cfg = config(&[server.address()]);
    // A fresh server uses about 1 MB, over 1 % of 64 MB.
    cfg.options.memory_used_degraded_percent = 1.0;
    let report = collect(&connector(cfg)).await;
    assert_eq!(report.status(), Status::Degraded, "{report:#?}");
    assert!(
        report.has_reason(&[&server.address(), "of its maxmemory", "over 1 %"]),
        "{report:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_and_its_replica_then_the_master_stops() {
    let mut master = Server::start(&[]);
    let replicaof = format!("127.0.0.1 {}", master.port);
    let replica = Server::start(&["--replicaof", &replicaof]);
    let redis = connector(config(&[master.address(), replica.address()]));
    let lag_of_replica = [("replica", replica.address()), ("master", master.address())];
    let lag_labels: Vec<(&str, &str)> = lag_of_replica
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    let (report, _) = collect_until(
        &redis,
        Duration::from_millis(200),
        Duration::from_secs(20),
        |r| {
            r.status() == Status::Healthy
                && !r
                    .series_of(None, "replication_offset_lag_bytes", &lag_labels)
                    .is_empty()
        },
    )
    .await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    assert_eq!(report.one_value(None, "masters", &[]), 1.0);
    assert_eq!(report.one_value(None, "replicas", &[]), 1.0);
    assert!(report.one_value(None, "replication_offset_lag_bytes", &lag_labels) >= 0.0);
    let replica_labels = report.node_labels(report.node_by_id(&replica.address()));
    assert_eq!(replica_labels.get("role"), Some("replica"));
    let master_label = replica_labels.get("master");
    assert_eq!(master_label, Some(master.address().as_str()));
    assert!(
        report
            .node_value_of(&replica.address(), "replication_offset_lag_bytes")
            .is_some()
    );

    master.kill();
    let (report, _) = collect_until(
        &redis,
        Duration::from_millis(200),
        Duration::from_secs(10),
        |r| r.has_reason(&["lost its link to master"]),
    )
    .await;
    assert!(bad(report.status()), "{report:#?}");
    assert_eq!(report.one_value(None, "up", &[]), 0.0);
    assert_eq!(
        report.status_of(report.node_by_id(&master.address())),
        NodeStatus::Unavailable
    );
    assert!(
        report.has_reason(&[&master.address(), "not answering", "cannot connect"]),
        "{report:?}"
    );
    assert!(
        report.has_reason(&[&replica.address(), "lost its link to master"]),
        "{report:?}"
    );
}
