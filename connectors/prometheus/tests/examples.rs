//! example.yaml and the README stay in step with the code.

mod common;

use common::{SUMMARY, collect, connector, url};
use dbmon_connector_api::{ClusterConfig, Connector};
use dbmon_connector_prometheus::{Options, Prometheus};
use dbmon_test_support::{HttpServer, Reply};
use serde_yaml_ng::{Mapping, Value};

fn keys(map: &Mapping) -> Vec<&str> {
    map.keys().filter_map(Value::as_str).collect()
}

fn read(file: &str) -> String {
    let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The connector built from one YAML cluster entry, as the host would build it.
fn build(cluster: &Value) -> Result<Prometheus, String> {
    let options = cluster.get("options").expect("an options block").clone();
    let options: Options = serde_yaml_ng::from_value(options).map_err(|e| e.to_string())?;
    let endpoints: Vec<String> = match cluster.get("endpoints") {
        Some(list) => serde_yaml_ng::from_value(list.clone()).map_err(|e| e.to_string())?,
        None => vec![],
    };
    let config = ClusterConfig::new("example", options).with_endpoints(endpoints);
    <Prometheus as Connector>::new(config).map_err(|e| e.to_string())
}

/// The YAML block of the README section that starts with `heading`.
fn readme_yaml(heading: &str) -> Value {
    let readme = read("README.md");
    let section = &readme[readme
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading}"))..];
    let start = section.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let end = start + section[start..].find("```").unwrap();
    serde_yaml_ng::from_str(&section[start..end]).expect("the README's YAML parses")
}

#[test]
fn example_yaml_is_a_complete_host_config() {
    let config: Value = serde_yaml_ng::from_str(&read("example.yaml")).unwrap();
    let top = config.as_mapping().expect("a mapping");
    assert_eq!(keys(top), ["listen", "plugins_dir", "clusters"]);
    let clusters = config["clusters"]
        .as_sequence()
        .expect("a list of clusters");
    assert_eq!(clusters.len(), 1);
    let cluster = &clusters[0];
    assert_eq!(
        keys(cluster.as_mapping().unwrap()),
        ["id", "connector", "interval", "timeout", "options"]
    );
    assert_eq!(cluster["connector"].as_str(), Some("prometheus"));
    let options = keys(cluster["options"].as_mapping().unwrap());
    assert_eq!(options, ["url", "include", "exclude"]);
    if let Err(e) = build(cluster) {
        panic!("example.yaml's cluster is refused: {e}");
    }
}

#[test]
fn readme_configuration_spells_out_every_option() {
    let config = readme_yaml("## Configuration");
    let cluster = &config["clusters"][0];
    assert_eq!(cluster["connector"].as_str(), Some("prometheus"));
    let written = keys(cluster["options"].as_mapping().unwrap());
    assert_eq!(written, option_names(), "README options vs Options fields");
    // The default limit is written as the number the code uses.
    assert_eq!(
        cluster["options"]["max_body_bytes"].as_u64(),
        Some(dbmon_scrape::DEFAULT_MAX_BODY_BYTES as u64)
    );
    if let Err(e) = build(cluster) {
        panic!("the README's cluster is refused: {e}");
    }
}

#[test]
fn readme_endpoints_example_is_accepted() {
    let config = readme_yaml("### Several targets");
    let cluster = &config["clusters"][0];
    assert!(
        cluster["endpoints"]
            .as_sequence()
            .is_some_and(|e| e.len() > 1)
    );
    if let Err(e) = build(cluster) {
        panic!("the README's endpoints cluster is refused: {e}");
    }
}

/// The fields of `Options`, from serde's unknown-field error, which names them all in order.
fn option_names() -> Vec<String> {
    let err = serde_json::from_str::<Options>(r#"{"?": 0}"#).unwrap_err();
    // "unknown field `?`, expected one of `a`, `b`, ..."
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

#[tokio::test(flavor = "multi_thread")]
async fn readme_lists_every_metric_the_connector_adds() {
    let server = HttpServer::start().await;
    server.set("/metrics", Reply::text("scraped_sample 1\n"));
    let report = collect(&connector(url(&server.url("/metrics")), &[])).await;
    let mut own: Vec<(bool, &str)> = report
        .series
        .iter()
        .filter(|s| s.name != "scraped_sample")
        .map(|s| (s.node.is_some(), s.name.as_str()))
        .collect();
    own.sort();
    own.dedup();
    let cluster: Vec<&str> = own
        .iter()
        .filter(|(node, _)| !node)
        .map(|(_, n)| *n)
        .collect();
    let mut summary = SUMMARY.to_vec();
    summary.sort();
    assert_eq!(cluster, summary);

    let readme = read("README.md");
    let metrics = &readme[readme.find("## Metrics").expect("a Metrics section")..];
    let metrics = &metrics[..metrics
        .find("## Health rules")
        .expect("a Health rules section")];
    let node_part = metrics.find("### Node").expect("a node metrics part");
    for (node, name) in own {
        let part = if node {
            &metrics[node_part..]
        } else {
            &metrics[..node_part]
        };
        assert!(
            part.contains(&format!("- `{name}` (")),
            "README does not list {name}"
        );
    }
}
