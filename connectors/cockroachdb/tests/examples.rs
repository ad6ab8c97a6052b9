//! example.yaml and the README stay in step with the code.

mod common;

use common::*;
use dbmon_connector_api::{ClusterConfig, Connector};
use dbmon_connector_cockroachdb::{
    CockroachDb, DEFAULT_CAPACITY_DEGRADED_PERCENT, DEFAULT_CAPACITY_UNHEALTHY_PERCENT,
    DEFAULT_CLOCK_OFFSET_DEGRADED_PERCENT, DEFAULT_MAX_OFFSET, Options,
};
use serde_yaml_ng::{Mapping, Value};
use std::collections::BTreeSet;

fn keys(map: &Mapping) -> Vec<&str> {
    map.keys().filter_map(Value::as_str).collect()
}

fn read(file: &str) -> String {
    let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The connector built from one YAML cluster entry's endpoints and options, as the host would
/// (TLS files and secrets are the host's business and are left out).
fn build_entry(cluster: &Value) -> Result<CockroachDb, String> {
    let options: Options =
        serde_yaml_ng::from_value(cluster["options"].clone()).map_err(|e| e.to_string())?;
    let endpoints: Vec<String> =
        serde_yaml_ng::from_value(cluster["endpoints"].clone()).map_err(|e| e.to_string())?;
    let config = ClusterConfig::new("example", options).with_endpoints(endpoints);
    <CockroachDb as Connector>::new(config).map_err(|e| e.to_string())
}

/// The first YAML block of the README section that starts with `heading`.
fn readme_yaml(heading: &str) -> Value {
    let readme = read("README.md");
    let section = &readme[readme
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading}"))..];
    let start = section.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let end = start + section[start..].find("```").unwrap();
    serde_yaml_ng::from_str(&section[start..end]).expect("the README's YAML parses")
}

/// The fields of `Options`, from serde's unknown-field error, which names them all in order.
fn option_names() -> Vec<String> {
    let err = serde_json::from_str::<Options>(r#"{"?": 0}"#).unwrap_err();
    let text = err.to_string();
    let names: Vec<String> = text
        .split('`')
        .skip(3)
        .step_by(2)
        .map(String::from)
        .collect();
    assert!(!names.is_empty(), "{text}");
    names
}

#[test]
fn example_yaml_is_a_complete_host_config() {
    let config: Value = serde_yaml_ng::from_str(&read("example.yaml")).unwrap();
    assert_eq!(
        keys(config.as_mapping().unwrap()),
        ["listen", "plugins_dir", "clusters"]
    );
    let clusters = config["clusters"]
        .as_sequence()
        .expect("a list of clusters");
    assert_eq!(clusters.len(), 1);
    let cluster = &clusters[0];
    assert_eq!(
        keys(cluster.as_mapping().unwrap()),
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
    assert_eq!(cluster["connector"].as_str(), Some("cockroachdb"));
    assert_eq!(cluster["tls"]["ca"].as_str(), Some("certs/ca.crt"));
    assert_eq!(
        cluster["auth"]["password"].as_str(),
        Some("${env:CRDB_PASSWORD}")
    );
    let options = cluster["options"].as_mapping().unwrap();
    assert_eq!(
        keys(options),
        [
            "max_offset",
            "capacity_degraded_percent",
            "capacity_unhealthy_percent"
        ]
    );
    if let Err(e) = build_entry(cluster) {
        panic!("example.yaml's cluster is refused: {e}");
    }
}

#[test]
fn readme_configuration_spells_out_every_option_with_its_default() {
    let config = readme_yaml("## Configuration");
    let cluster = &config["clusters"][0];
    assert_eq!(cluster["connector"].as_str(), Some("cockroachdb"));
    let options = &cluster["options"];
    assert_eq!(
        keys(options.as_mapping().unwrap()),
        option_names(),
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
    if let Err(e) = build_entry(cluster) {
        panic!("the README's cluster is refused: {e}");
    }
}

/// Names written at the start of the README's list items (before the first ` (`).
fn listed(part: &str) -> BTreeSet<String> {
    part.lines()
        .filter_map(|l| l.strip_prefix("- "))
        .flat_map(|item| {
            let head = item.split(" (").next().unwrap_or_default();
            head.split('`')
                .skip(1)
                .step_by(2)
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_lists_exactly_the_metrics_the_connector_reports() {
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
    let report = collect(&connector).await;
    let own: BTreeSet<String> = report.metrics.iter().map(|m| m.0.clone()).collect();
    let per_node: BTreeSet<String> = report
        .nodes
        .iter()
        .flat_map(|n| n.metrics.iter().map(|m| m.0.clone()))
        .collect();

    let readme = read("README.md");
    let metrics = &readme[readme.find("## Metrics").expect("a Metrics section")..];
    let metrics = &metrics[..metrics
        .find("## Health rules")
        .expect("a Health rules section")];
    let node_part = metrics.find("### Node").expect("a node metrics part");
    let (cluster_part, node_part) = metrics.split_at(node_part);
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
            per_node.contains(&name),
            "README lists node metric {name}, never reported"
        );
    }
    assert!(cluster_part.contains("Labels: `version`"));
}
