//! example.yaml and the README stay in step with the code.

mod common;

use common::{collect, config, connector, server::PgServer};
use dbmon_connector_api::{AuthConfig, Connector};
use dbmon_connector_postgres::{Options, Postgres};
use dbmon_test_support::{
    ReportExt,
    docs::{ConnectorDir, entry_config, keys, option_names},
    readme_kinds::ReadmeKinds,
};
use serde_yaml_ng::Value;

fn dir() -> ConnectorDir {
    ConnectorDir::new(env!("CARGO_MANIFEST_DIR"))
}

/// The connector built from one YAML cluster entry, as the host would build it: the user name
/// of `auth:` (its password is the host's to resolve).
fn build(cluster: &Value) -> Result<Postgres, String> {
    let mut config = entry_config::<Postgres>(cluster)?;
    config.auth = Some(AuthConfig {
        username: cluster["auth"]["username"].as_str().map(String::from),
        password: None,
    });
    <Postgres as Connector>::new(config).map_err(|e| e.to_string())
}

#[test]
fn example_yaml_is_a_complete_host_config() {
    let cluster = dir().example_cluster("postgres");
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
    if let Err(e) = build(&cluster) {
        panic!("example.yaml's cluster is refused: {e}");
    }
}

#[test]
fn readme_configuration_spells_out_every_option_with_its_default() {
    // ${env:..} is the host's to resolve; as YAML it is a plain string.
    let cluster = dir().readme_cluster("## Configuration", "postgres");
    let options = keys(&cluster["options"]);
    assert_eq!(
        options,
        option_names::<Postgres>(),
        "README options vs Options fields"
    );
    // Each option's comment gives its default, and the values written are the defaults
    // (but for expected_replicas, which shows an example name).
    let block = dir().readme_yaml("## Configuration");
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
    if let Err(e) = build(&cluster) {
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
        !report
            .series_of(None, "replication_lag_bytes", &[])
            .is_empty(),
        "{report:#?}"
    );
    assert!(
        !report
            .series_of(None, "recovery_lag_seconds", &[])
            .is_empty(),
        "{report:#?}"
    );

    // The replication metrics, which the machine's server has none of, with their kinds.
    ReadmeKinds::read(&dir()).check(&report);

    let metrics = dir().readme_metrics();
    let (cluster_part, node_part) = (&metrics.cluster, &metrics.node);
    for series in report.series() {
        let part = if series.node().is_some() {
            node_part
        } else {
            cluster_part
        };
        assert!(
            part.contains(&format!("`{}`", series.name())),
            "README does not list {}",
            series.name()
        );
        for (label, _) in series.labels() {
            assert!(
                part.contains(&format!("`{label}`")),
                "README does not name label {label} of {}",
                series.name()
            );
        }
        if let Some(unit) = series.unit() {
            let entry = format!("`{}` (gauge, {unit}", series.name());
            assert!(
                cluster_part.contains(&entry),
                "README does not give {entry}"
            );
        }
    }
    for (node, _, _) in report.nodes() {
        for (label, _) in report.node_labels(node) {
            assert!(
                node_part.contains(&format!("`{label}`")),
                "README does not name node label {label}"
            );
        }
    }
}
