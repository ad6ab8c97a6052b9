//! example.yaml and the README stay in step with the code.

mod common;

use common::{
    collect_until, connector,
    nats::{Cluster, orders},
};
use dbmon_connector_api::Status;
use dbmon_connector_nats::{DEFAULT_CONSUMER_PENDING_DEGRADED, JetStream, Nats, Options};
use dbmon_test_support::{
    docs::{ConnectorDir, assert_complete_entry},
    readme_kinds::ReadmeKinds,
};
use std::time::Duration;

fn dir() -> ConnectorDir {
    ConnectorDir::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn example_yaml_is_a_complete_host_config() {
    let cluster = dir().example_cluster("nats");
    assert_complete_entry::<Nats>(&cluster, "example.yaml's cluster");
}

#[test]
fn readme_configuration_spells_out_every_option_with_its_default() {
    let cluster = dir().readme_cluster("## Configuration", "nats");
    assert_complete_entry::<Nats>(&cluster, "the README's cluster");
    let options = &cluster["options"];
    assert_eq!(
        options["consumer_pending_degraded"].as_u64(),
        Some(DEFAULT_CONSUMER_PENDING_DEGRADED)
    );
    assert_eq!(options["jetstream"].as_str(), Some("auto"));
    let defaults: Options = serde_json::from_str("{}").unwrap();
    assert_eq!(
        defaults.consumer_pending_degraded,
        DEFAULT_CONSUMER_PENDING_DEGRADED
    );
    assert_eq!(defaults.jetstream, JetStream::Auto);
}

/// A report with every metric: three JetStream servers, a stream and a consumer.
#[tokio::test(flavor = "multi_thread")]
async fn readme_lists_exactly_the_metrics_the_connector_reports_with_their_kinds() {
    let cluster = Cluster::three("d").await;
    let (_client, _consumer) = orders(&cluster, 3).await;
    let report = collect_until(
        &connector(&cluster.endpoints()),
        Duration::from_secs(10),
        |r| r.status() == Status::Healthy && r.value("consumers") == Some(1.0),
    )
    .await;
    dir().readme_metrics().assert_lists_exactly(&report);
    let checked = ReadmeKinds::read(&dir()).check(&report);
    assert!(checked.unseen_cluster.is_empty(), "{checked:?}");
    assert!(checked.unseen_node.is_empty(), "{checked:?}");
}
