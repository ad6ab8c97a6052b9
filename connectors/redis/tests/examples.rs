//! example.yaml and the README stay in step with the code. (That the README lists every
//! metric the connector reports is checked in cluster.rs, against a real cluster.)

mod common;

use common::build;
use dbmon_connector_api::{AuthConfig, TlsConfig};
use dbmon_connector_redis::{Options, Redis};
use dbmon_test_support::docs::{ConnectorDir, entry_config, keys, option_names};
use serde_yaml_ng::Value;

fn dir() -> ConnectorDir {
    ConnectorDir::new(env!("CARGO_MANIFEST_DIR"))
}

/// The connector built from one YAML cluster entry, as the host would build it: `tls:` and
/// `auth:` as written.
fn from_yaml(cluster: &Value) -> Result<(), String> {
    let mut config = entry_config::<Redis>(cluster)?;
    if let Some(tls) = cluster.get("tls") {
        config.tls = Some(serde_yaml_ng::from_value::<TlsConfig>(tls.clone()).unwrap());
    }
    if let Some(auth) = cluster.get("auth") {
        config.auth = Some(serde_yaml_ng::from_value::<AuthConfig>(auth.clone()).unwrap());
    }
    build(config).map(|_| ()).map_err(|e| e.to_string())
}

#[test]
fn example_yaml_is_a_complete_host_config() {
    let cluster = dir().example_cluster("redis");
    assert_eq!(
        keys(&cluster),
        [
            "id",
            "connector",
            "interval",
            "timeout",
            "endpoints",
            "options"
        ]
    );
    if let Err(e) = from_yaml(&cluster) {
        panic!("example.yaml's cluster is refused: {e}");
    }
}

#[test]
fn readme_configuration_spells_out_every_option_with_its_default() {
    let cluster = dir().readme_cluster("## Configuration", "redis");
    let written = keys(&cluster["options"]);
    assert_eq!(
        written,
        option_names::<Redis>(),
        "README options vs Options fields"
    );
    let options: Options = serde_yaml_ng::from_value(cluster["options"].clone()).unwrap();
    assert_eq!(options, Options::default(), "README values vs defaults");
    if let Err(e) = from_yaml(&cluster) {
        panic!("the README's cluster is refused: {e}");
    }
}

#[test]
fn readme_tls_and_auth_blocks_parse() {
    let text = dir().readme_yaml("### TLS and credentials");
    // The block sits beside options: in a cluster entry.
    let blocks: Value = serde_yaml_ng::from_str(&text.replace("\n    ", "\n")[4..]).unwrap();
    let tls: TlsConfig = serde_yaml_ng::from_value(blocks["tls"].clone()).unwrap();
    assert!(tls.ca.is_some() && tls.cert.is_some() && tls.key.is_some());
    let auth: AuthConfig = serde_yaml_ng::from_value(blocks["auth"].clone()).unwrap();
    assert_eq!(auth.username.as_deref(), Some("monitor"));
}
