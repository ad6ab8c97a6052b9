//! example.yaml and the README stay in step with the code.

mod common;

use common::{collect, connector, fake::Fake};
use dbmon_connector_api::{ClusterConfig, Connector};
use dbmon_connector_etcd::{
    DEFAULT_DB_QUOTA_USED_DEGRADED_PERCENT, DEFAULT_RAFT_INDEX_SPREAD_DEGRADED, Etcd, Options,
};
use serde_yaml_ng::{Mapping, Value};

fn keys(map: &Mapping) -> Vec<&str> {
    map.keys().filter_map(Value::as_str).collect()
}

fn read(file: &str) -> String {
    let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The connector built from one YAML cluster entry, as the host would build it.
fn build(cluster: &Value) -> Result<Etcd, String> {
    let options = cluster.get("options").expect("an options block").clone();
    let options: Options = serde_yaml_ng::from_value(options).map_err(|e| e.to_string())?;
    let endpoints: Vec<String> =
        serde_yaml_ng::from_value(cluster["endpoints"].clone()).map_err(|e| e.to_string())?;
    let config = ClusterConfig::new("example", options).with_endpoints(endpoints);
    <Etcd as Connector>::new(config).map_err(|e| e.to_string())
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
    assert_eq!(cluster["connector"].as_str(), Some("etcd"));
    assert_eq!(
        keys(cluster["options"].as_mapping().unwrap()),
        option_names()
    );
    if let Err(e) = build(cluster) {
        panic!("example.yaml's cluster is refused: {e}");
    }
}

#[test]
fn readme_configuration_spells_out_every_option_with_its_default() {
    let readme = read("README.md");
    let section = &readme[readme
        .find("## Configuration")
        .expect("a Configuration section")..];
    let start = section.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let end = start + section[start..].find("```").unwrap();
    let config: Value = serde_yaml_ng::from_str(&section[start..end]).expect("the YAML parses");
    let cluster = &config["clusters"][0];
    let options = &cluster["options"];
    assert_eq!(keys(options.as_mapping().unwrap()), option_names());
    assert_eq!(
        options["raft_index_spread_degraded"].as_u64(),
        Some(DEFAULT_RAFT_INDEX_SPREAD_DEGRADED)
    );
    assert_eq!(
        options["db_quota_used_degraded_percent"].as_f64(),
        Some(DEFAULT_DB_QUOTA_USED_DEGRADED_PERCENT)
    );
    let defaults: Options = serde_json::from_str("{}").unwrap();
    assert_eq!(
        defaults.raft_index_spread_degraded,
        DEFAULT_RAFT_INDEX_SPREAD_DEGRADED
    );
    assert_eq!(
        defaults.db_quota_used_degraded_percent,
        DEFAULT_DB_QUOTA_USED_DEGRADED_PERCENT
    );
    if let Err(e) = build(cluster) {
        panic!("the README's cluster is refused: {e}");
    }
}

/// `- `name` (` items of a README part.
fn listed(part: &str) -> Vec<String> {
    let mut names: Vec<String> = part
        .lines()
        .filter_map(|l| {
            l.strip_prefix("- `")?
                .split_once("` (")
                .map(|(n, _)| n.to_string())
        })
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn readme_lists_exactly_the_metrics_the_connector_reports() {
    let fake = Fake::start(3).await;
    let report = collect(&connector(&fake.endpoints())).await;
    let names = |node: bool| {
        let mut names: Vec<String> = report
            .series
            .iter()
            .filter(|s| s.node.is_some() == node)
            .map(|s| s.name.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    };
    let readme = read("README.md");
    let metrics = &readme[readme.find("## Metrics").expect("a Metrics section")..];
    let metrics = &metrics[..metrics
        .find("## Health rules")
        .expect("a Health rules section")];
    let node_part = metrics.find("### Node").expect("a node part");
    assert_eq!(
        listed(&metrics[..node_part]),
        names(false),
        "cluster metrics"
    );
    assert_eq!(listed(&metrics[node_part..]), names(true), "node metrics");
    // Units as the README gives them.
    for series in &report.series {
        let unit = if series.unit.is_empty() {
            "no unit"
        } else {
            &series.unit
        };
        let item = format!("- `{}` (", series.name);
        let part = if series.node.is_some() {
            &metrics[node_part..]
        } else {
            &metrics[..node_part]
        };
        let line = part.lines().find(|l| l.starts_with(&item)).unwrap();
        assert!(line.contains(&format!(", {unit})")), "{line} vs {unit}");
    }
}
