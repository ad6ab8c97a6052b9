//! example.yaml and the README stay in step with the code. (That the README lists every
//! metric the connector reports is checked in cluster.rs, against a real cluster.)

mod common;

use common::{build, read};
use dbmon_connector_api::{AuthConfig, ClusterConfig, TlsConfig};
use dbmon_connector_redis::Options;
use serde_yaml_ng::{Mapping, Value};

fn keys(map: &Mapping) -> Vec<&str> {
    map.keys().filter_map(Value::as_str).collect()
}

/// The connector built from one YAML cluster entry, as the host would build it.
fn from_yaml(cluster: &Value) -> Result<(), String> {
    let options = cluster
        .get("options")
        .cloned()
        .unwrap_or(Value::Mapping(Mapping::new()));
    let options: Options = serde_yaml_ng::from_value(options).map_err(|e| e.to_string())?;
    let endpoints: Vec<String> =
        serde_yaml_ng::from_value(cluster["endpoints"].clone()).map_err(|e| e.to_string())?;
    let mut config = ClusterConfig::new("example", options).with_endpoints(endpoints);
    if let Some(tls) = cluster.get("tls") {
        config.tls = Some(serde_yaml_ng::from_value::<TlsConfig>(tls.clone()).unwrap());
    }
    if let Some(auth) = cluster.get("auth") {
        config.auth = Some(serde_yaml_ng::from_value::<AuthConfig>(auth.clone()).unwrap());
    }
    build(config).map(|_| ()).map_err(|e| e.to_string())
}

/// The first YAML block after `heading` in the README.
fn readme_yaml(heading: &str) -> String {
    let readme = read("README.md");
    let section = &readme[readme
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading}"))..];
    let start = section.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let end = start + section[start..].find("```").unwrap();
    section[start..end].to_string()
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
            "interval",
            "timeout",
            "endpoints",
            "options"
        ]
    );
    assert_eq!(cluster["connector"].as_str(), Some("redis"));
    if let Err(e) = from_yaml(cluster) {
        panic!("example.yaml's cluster is refused: {e}");
    }
}

#[test]
fn readme_configuration_spells_out_every_option_with_its_default() {
    let config: Value = serde_yaml_ng::from_str(&readme_yaml("## Configuration")).unwrap();
    let cluster = &config["clusters"][0];
    assert_eq!(cluster["connector"].as_str(), Some("redis"));
    let written = keys(cluster["options"].as_mapping().unwrap());
    assert_eq!(written, option_names(), "README options vs Options fields");
    let options: Options = serde_yaml_ng::from_value(cluster["options"].clone()).unwrap();
    assert_eq!(options, Options::default(), "README values vs defaults");
    if let Err(e) = from_yaml(cluster) {
        panic!("the README's cluster is refused: {e}");
    }
}

#[test]
fn readme_tls_and_auth_blocks_parse() {
    let text = readme_yaml("### TLS and credentials");
    // The block sits beside options: in a cluster entry.
    let blocks: Value = serde_yaml_ng::from_str(&text.replace("\n    ", "\n")[4..]).unwrap();
    let tls: TlsConfig = serde_yaml_ng::from_value(blocks["tls"].clone()).unwrap();
    assert!(tls.ca.is_some() && tls.cert.is_some() && tls.key.is_some());
    let auth: AuthConfig = serde_yaml_ng::from_value(blocks["auth"].clone()).unwrap();
    assert_eq!(auth.username.as_deref(), Some("monitor"));
}
