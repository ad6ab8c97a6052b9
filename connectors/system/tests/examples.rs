//! example.yaml and the README's configuration snippet stay in step with the code.

use dbmon_connector_system::Options;
use serde_yaml_ng::{Mapping, Value};

fn keys(map: &Mapping) -> Vec<&str> {
    map.keys().filter_map(Value::as_str).collect()
}

fn options_of(cluster: &Value) -> Options {
    let options = cluster.get("options").expect("an options block").clone();
    let options: Options = serde_yaml_ng::from_value(options).expect("options parse");
    options.validate().expect("options are valid")
}

#[test]
fn example_yaml_is_a_complete_host_config() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/example.yaml")).unwrap();
    let config: Value = serde_yaml_ng::from_str(&text).unwrap();
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
    assert_eq!(cluster["connector"].as_str(), Some("system"));
    assert_eq!(options_of(cluster).disk_used_degraded_percent, 90.0);
}

#[test]
fn readme_documents_every_option_with_its_default() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = &readme[readme
        .find("## Configuration")
        .expect("a Configuration section")..];
    let start = section.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let end = start + section[start..].find("```").unwrap();
    let config: Value = serde_yaml_ng::from_str(&section[start..end]).unwrap();
    let cluster = &config["clusters"][0];
    assert_eq!(cluster["connector"].as_str(), Some("system"));

    // Every field is spelled out (deny_unknown_fields catches misspellings) ...
    let written = keys(cluster["options"].as_mapping().unwrap()).len();
    let fields = serde_json_fields();
    assert_eq!(written, fields, "README options vs Options fields");
    // ... and with the value the code uses by default.
    assert_eq!(options_of(cluster), Options::default());
}

/// Number of fields of `Options`, from serde's unknown-field error, which names them all.
fn serde_json_fields() -> usize {
    let err = serde_json::from_str::<Options>(r#"{"?": 0}"#).unwrap_err();
    // "unknown field `?`, expected one of `a`, `b`, ..."
    err.to_string().matches('`').count() / 2 - 1
}
