//! example.yaml and the README stay in step with the code.

mod common;

use common::{
    collect_until, connector,
    nats::{Cluster, orders},
};
use dbmon_connector_api::Status;
use dbmon_connector_nats::{DEFAULT_CONSUMER_PENDING_DEGRADED, JetStream, Nats, Options};
use dbmon_test_support::{
    ReportExt,
    docs::{ConnectorDir, build_entry, keys, listed_metrics, option_names},
    readme_kinds::ReadmeKinds,
};
use std::time::Duration;

fn dir() -> ConnectorDir {
    ConnectorDir::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn example_yaml_is_a_complete_host_config() {
    let cluster = dir().example_cluster("nats");
    assert_eq!(keys(&cluster["options"]), option_names::<Nats>());
    if let Err(e) = build_entry::<Nats>(&cluster) {
        panic!("example.yaml's cluster is refused: {e}");
    }
}

#[test]
fn readme_configuration_spells_out_every_option_with_its_default() {
    let cluster = dir().readme_cluster("## Configuration", "nats");
    let options = &cluster["options"];
    assert_eq!(keys(options), option_names::<Nats>());
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
    if let Err(e) = build_entry::<Nats>(&cluster) {
        panic!("the README's cluster is refused: {e}");
    }
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
    let metrics = dir().readme_metrics();
    assert_eq!(
        listed_metrics(&metrics.cluster),
        report.metric_names(false),
        "cluster metrics"
    );
    assert_eq!(
        listed_metrics(&metrics.node),
        report.metric_names(true),
        "node metrics"
    );
    // Units as the README gives them.
    for series in report.series() {
        let unit = series.unit().unwrap_or("no unit");
        let item = format!("- `{}` (", series.name());
        let part = if series.node().is_some() {
            &metrics.node
        } else {
            &metrics.cluster
        };
        let line = part.lines().find(|l| l.starts_with(&item)).unwrap();
        assert!(line.contains(&format!(", {unit})")), "{line} vs {unit}");
    }
    let checked = ReadmeKinds::read(&dir()).check(&report);
    assert!(checked.unseen_cluster.is_empty(), "{checked:?}");
    assert!(checked.unseen_node.is_empty(), "{checked:?}");
}
