//! example.yaml and the README stay in step with the code.

mod common;

use common::*;
use dbmon_connector_api::Report;
use dbmon_connector_cockroachdb::{
    CockroachDb, DEFAULT_CAPACITY_DEGRADED_PERCENT, DEFAULT_CAPACITY_UNHEALTHY_PERCENT,
    DEFAULT_CLOCK_OFFSET_DEGRADED_PERCENT, DEFAULT_MAX_OFFSET, Options,
};
use dbmon_test_support::{
    ReportExt,
    docs::{ConnectorDir, build_entry, keys, option_names},
    readme_kinds::ReadmeKinds,
};
use std::collections::BTreeSet;

fn dir() -> ConnectorDir {
    ConnectorDir::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn example_yaml_is_a_complete_host_config() {
    let cluster = dir().example_cluster("cockroachdb");
    assert_eq!(
        keys(&cluster),
        [
            "id",
            "connector",
            "endpoints",
            "interval",
            "timeout",
            "tls",
            "auth",
            "options"
        ]
    );
    assert_eq!(cluster["tls"]["ca"].as_str(), Some("certs/ca.crt"));
    assert_eq!(
        cluster["auth"]["password"].as_str(),
        Some("${env:CRDB_PASSWORD}")
    );
    assert_eq!(
        keys(&cluster["options"]),
        [
            "max_offset",
            "capacity_degraded_percent",
            "capacity_unhealthy_percent"
        ]
    );
    // TLS files and secrets are the host's business and are left out.
    if let Err(e) = build_entry::<CockroachDb>(&cluster) {
        panic!("example.yaml's cluster is refused: {e}");
    }
}

#[test]
fn readme_configuration_spells_out_every_option_with_its_default() {
    let cluster = dir().readme_cluster("## Configuration", "cockroachdb");
    let options = &cluster["options"];
    assert_eq!(
        keys(options),
        option_names::<CockroachDb>(),
        "README options vs Options"
    );
    assert_eq!(options["max_offset"].as_str(), Some(DEFAULT_MAX_OFFSET));
    let number = |name: &str| options[name].as_f64().unwrap_or_else(|| panic!("{name}"));
    assert_eq!(
        number("clock_offset_degraded_percent"),
        DEFAULT_CLOCK_OFFSET_DEGRADED_PERCENT
    );
    assert_eq!(
        number("capacity_degraded_percent"),
        DEFAULT_CAPACITY_DEGRADED_PERCENT
    );
    assert_eq!(
        number("capacity_unhealthy_percent"),
        DEFAULT_CAPACITY_UNHEALTHY_PERCENT
    );
    assert_eq!(
        number("max_body_bytes"),
        dbmon_scrape::DEFAULT_MAX_BODY_BYTES as f64
    );
    if let Err(e) = build_entry::<CockroachDb>(&cluster) {
        panic!("the README's cluster is refused: {e}");
    }
}

/// Names written at the start of the README's list items (before the first ` (`): an item may
/// name several metrics.
fn listed(part: &str) -> BTreeSet<&str> {
    part.lines()
        .filter_map(|l| l.strip_prefix("- "))
        .flat_map(|item| {
            let head = item.split(" (").next().unwrap_or_default();
            head.split('`').skip(1).step_by(2)
        })
        .collect()
}

/// A report with every metric the connector writes: the second collection from a fake cluster
/// whose nodes API answers, one node knowing its memory, statements and heartbeats in between.
async fn full_report() -> Report {
    let mut nodes = three(Generation::V22);
    nodes[0].sys_totalmem = Some(16.0 * GIB);
    let cluster = FakeCluster::start(nodes).await;
    cluster.with(|s| s.login = Some(("monitor".into(), "pw".into())));
    let connector = connector(with_auth(
        config(&cluster.endpoints(), Options::default()),
        "monitor",
        "pw",
    ));
    collect(&connector).await;
    for index in 0..3 {
        cluster.node(index, |n| {
            n.queries[1] += 10.0;
            n.heartbeat.last_mut().unwrap().1 += 5.0;
        });
    }
    collect(&connector).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_lists_exactly_the_metrics_the_connector_reports() {
    let report = full_report().await;
    let own: BTreeSet<&str> = report.metric_names(false).into_iter().collect();
    let per_node: BTreeSet<&str> = report.metric_names(true).into_iter().collect();

    let metrics = dir().readme_metrics();
    let (cluster_part, node_part) = (&metrics.cluster, &metrics.node);
    assert_eq!(
        listed(cluster_part),
        own,
        "README cluster metrics vs the report"
    );
    for name in &per_node {
        assert!(
            node_part.contains(&format!("`{name}`")),
            "README does not list node metric {name}"
        );
    }
    for name in listed(node_part) {
        assert!(
            per_node.contains(name),
            "README lists node metric {name}, never reported"
        );
    }
    assert!(cluster_part.contains("Labels: `version`"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_has_the_kind_the_readme_gives_it() {
    let report = full_report().await;
    let checked = ReadmeKinds::read(&dir()).check(&report);
    assert!(checked.unseen_cluster.is_empty(), "{checked:?}");
    assert!(checked.unseen_node.is_empty(), "{checked:?}");
}
