//! example.yaml and the README stay in step with the code.

mod common;

use common::{collect, connector, fake::Fake};
use dbmon_connector_etcd::{
    DEFAULT_DB_QUOTA_USED_DEGRADED_PERCENT, DEFAULT_RAFT_INDEX_SPREAD_DEGRADED, Etcd, Options,
};
use dbmon_test_support::{
    docs::{ConnectorDir, assert_complete_entry},
    readme_kinds::ReadmeKinds,
};

fn dir() -> ConnectorDir {
    ConnectorDir::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn example_yaml_is_a_complete_host_config() {
    let cluster = dir().example_cluster("etcd");
    assert_complete_entry::<Etcd>(&cluster, "example.yaml's cluster");
}

#[test]
fn readme_configuration_spells_out_every_option_with_its_default() {
    let cluster = dir().readme_cluster("## Configuration", "etcd");
    assert_complete_entry::<Etcd>(&cluster, "the README's cluster");
    let options = &cluster["options"];
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
}

#[tokio::test]
async fn readme_lists_exactly_the_metrics_the_connector_reports() {
    let fake = Fake::start(3).await;
    let report = collect(&connector(&fake.endpoints())).await;
    dir().readme_metrics().assert_lists_exactly(&report);
}

#[tokio::test]
async fn every_metric_has_the_kind_the_readme_gives_it() {
    let fake = Fake::start(3).await;
    let report = collect(&connector(&fake.endpoints())).await;
    let checked = ReadmeKinds::read(&dir()).check(&report);
    assert!(checked.unseen_cluster.is_empty(), "{checked:?}");
    assert!(checked.unseen_node.is_empty(), "{checked:?}");
}
