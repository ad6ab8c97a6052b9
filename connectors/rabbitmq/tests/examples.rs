//! example.yaml and the README's configuration stay in step with the code. (The README's
//! metric list is checked against a real node's report in tests/node.rs.)

use dbmon_connector_api::Connector;
use dbmon_connector_rabbitmq::{
    DEFAULT_MAX_QUEUES, DEFAULT_READY_WITHOUT_CONSUMERS_DEGRADED, Options, RabbitMq,
};
use dbmon_test_support::docs::{ConnectorDir, entry_config, keys, option_names};
use serde_yaml_ng::Value;

fn dir() -> ConnectorDir {
    ConnectorDir::new(env!("CARGO_MANIFEST_DIR"))
}

/// The host's build of the entry, with its `auth:` user and a stand-in for the secret the
/// host would resolve.
fn build(cluster: &Value) -> Result<RabbitMq, String> {
    let user = cluster["auth"]["username"].as_str();
    let config = entry_config::<RabbitMq>(cluster)?.with_auth(user, Some("resolved"));
    RabbitMq::new(config).map_err(|e| e.to_string())
}

#[test]
fn example_yaml_is_a_complete_host_config() {
    let cluster = dir().example_cluster("rabbitmq");
    assert_eq!(
        keys(&cluster),
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
    assert_eq!(
        cluster["auth"]["password"].as_str(),
        Some("${env:RABBITMQ_MONITOR_PASSWORD}")
    );
    assert_eq!(keys(&cluster["options"]), option_names::<RabbitMq>());
    if let Err(e) = build(&cluster) {
        panic!("example.yaml's cluster is refused: {e}");
    }
}

#[test]
fn readme_configuration_spells_out_every_option_with_its_default() {
    let cluster = dir().readme_cluster("## Configuration", "rabbitmq");
    let options = &cluster["options"];
    assert_eq!(keys(options), option_names::<RabbitMq>());
    assert_eq!(
        options["ready_without_consumers_degraded"].as_u64(),
        Some(DEFAULT_READY_WITHOUT_CONSUMERS_DEGRADED)
    );
    assert_eq!(
        options["max_queues"].as_u64(),
        Some(DEFAULT_MAX_QUEUES as u64)
    );
    let defaults: Options = serde_json::from_str("{}").unwrap();
    assert_eq!(
        defaults.ready_without_consumers_degraded,
        DEFAULT_READY_WITHOUT_CONSUMERS_DEGRADED
    );
    assert_eq!(defaults.max_queues, DEFAULT_MAX_QUEUES);
    if let Err(e) = build(&cluster) {
        panic!("the README's cluster is refused: {e}");
    }
}
