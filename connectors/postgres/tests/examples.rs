//! example.yaml and the README stay in step with the code.

mod common;

use common::{collect, config, connector, server::PgServer};
use dbmon_connector_api::{AuthConfig, ClusterConfig, Connector};
use dbmon_connector_postgres::{Options, Postgres};
use serde_yaml_ng::{Mapping, Value};

fn keys(map: &Mapping) -> Vec<&str> {
    map.keys().filter_map(Value::as_str).collect()
}

fn read(file: &str) -> String {
    let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The connector built from one YAML cluster entry, as the host would build it.
fn build(cluster: &Value) -> Result<Postgres, String> {
    let options = cluster.get("options").expect("an options block").clone();
    let options: Options = serde_yaml_ng::from_value(options).map_err(|e| e.to_string())?;
    let endpoints: Vec<String> =
        serde_yaml_ng::from_value(cluster["endpoints"].clone()).map_err(|e| e.to_string())?;
    let mut config = ClusterConfig::new("example", options).with_endpoints(endpoints);
    config.auth = Some(AuthConfig {
        username: cluster["auth"]["username"].as_str().map(String::from),
        password: None,
    });
    <Postgres as Connector>::new(config).map_err(|e| e.to_string())
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
            "auth",
            "options"
        ]
    );
    assert_eq!(cluster["connector"].as_str(), Some("postgres"));
    if let Err(e) = build(cluster) {
        panic!("example.yaml's cluster is refused: {e}");
    }
}

#[test]
fn readme_configuration_spells_out_every_option_with_its_default() {
    let readme = read("README.md");
    let section = &readme[readme.find("## Configuration").unwrap()..];
    let start = section.find("```yaml\n").unwrap() + "```yaml\n".len();
    let end = start + section[start..].find("```").unwrap();
    // ${env:..} is the host's to resolve; as YAML it is a plain string.
    let config: Value = serde_yaml_ng::from_str(&section[start..end]).unwrap();
    let cluster = &config["clusters"][0];
    let options = cluster["options"].as_mapping().unwrap();
    assert_eq!(
        keys(options),
        option_names(),
        "README options vs Options fields"
    );
    // Each option's comment gives its default, and the values written are the defaults
    // (but for expected_replicas, which shows an example name).
    let block = &section[start..end];
    let options_at = block.find("    options:").unwrap();
    assert_eq!(
        block[options_at..].matches("Default").count(),
        options.len(),
        "{block}"
    );
    let written: Options = serde_yaml_ng::from_value(cluster["options"].clone()).unwrap();
    let written = Options {
        expected_replicas: vec![],
        ..written
    };
    assert_eq!(format!("{written:?}"), format!("{:?}", Options::default()));
    if let Err(e) = build(cluster) {
        panic!("the README's cluster is refused: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_lists_every_metric_and_label() {
    let primary = PgServer::primary("docmain");
    let replica = PgServer::replica_of(&primary, "docreplica");
    primary.wait_streaming("docreplica");
    let pg = connector(config(
        &[primary.endpoint(), replica.endpoint()],
        Options::default(),
    ));
    let report = collect(&pg).await;
    assert!(
        !report.find(None, "replication_lag_bytes", &[]).is_empty(),
        "{report:#?}"
    );
    assert!(
        !report.find(None, "recovery_lag_seconds", &[]).is_empty(),
        "{report:#?}"
    );

    let readme = read("README.md");
    let metrics =
        &readme[readme.find("## Metrics").unwrap()..readme.find("## Health rules").unwrap()];
    let node_part = metrics.find("### Node").expect("a node metrics part");
    let (cluster_part, node_part) = metrics.split_at(node_part);
    for series in &report.series {
        let part = if series.node.is_some() {
            node_part
        } else {
            cluster_part
        };
        assert!(
            part.contains(&format!("`{}`", series.name)),
            "README does not list {}",
            series.name
        );
        for (label, _) in &series.labels {
            assert!(
                part.contains(&format!("`{label}`")),
                "README does not name label {label} of {}",
                series.name
            );
        }
        if !series.unit.is_empty() {
            let entry = format!("`{}` (gauge, {}", series.name, series.unit);
            assert!(
                cluster_part.contains(&entry),
                "README does not give {entry}"
            );
        }
    }
    for node in &report.nodes {
        for (label, _) in &node.labels {
            assert!(
                node_part.contains(&format!("`{label}`")),
                "README does not name node label {label}"
            );
        }
    }
}
