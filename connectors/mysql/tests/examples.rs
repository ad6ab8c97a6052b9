//! example.yaml and the README stay in step with the code: the example and the README's
//! configuration are accepted as the host would build them, every option is spelt out with
//! its default, and the README lists every metric and label a real source and replica
//! report, with the kind each carries.

mod common;

use common::{collect, config, connector, server::MariaDb};
use dbmon_connector_api::{AuthConfig, Connector, TlsConfig};
use dbmon_connector_mysql::{Mysql, Options};
use dbmon_test_support::{
    ReportExt,
    docs::{ConnectorDir, entry_config, keys, option_names},
    readme_kinds::ReadmeKinds,
};
use serde_yaml_ng::Value;

fn dir() -> ConnectorDir {
    ConnectorDir::new(env!("CARGO_MANIFEST_DIR"))
}

/// The connector built from one YAML cluster entry, as the host would build it: `auth:` as
/// written, but for the password (`${env:..}` is the host's to resolve).
fn build(cluster: &Value) -> Result<Mysql, String> {
    let mut config = entry_config::<Mysql>(cluster)?;
    if let Some(auth) = cluster.get("auth") {
        config.auth = Some(AuthConfig {
            username: auth["username"].as_str().map(String::from),
            password: None,
        });
    }
    <Mysql as Connector>::new(config).map_err(|e| e.to_string())
}

#[test]
fn example_yaml_is_a_complete_host_config() {
    let cluster = dir().example_cluster("mysql");
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
    let options: Options = serde_yaml_ng::from_value(cluster["options"].clone()).unwrap();
    assert_eq!(options, Options::default());
}

#[test]
fn readme_configuration_spells_out_every_option_with_its_default() {
    let cluster = dir().readme_cluster("## Configuration", "mysql");
    let options = keys(&cluster["options"]);
    assert_eq!(
        options,
        option_names::<Mysql>(),
        "README options vs Options fields"
    );
    let block = dir().readme_yaml("## Configuration");
    let options_at = block.find("    options:").unwrap();
    assert_eq!(
        block[options_at..].matches("Default").count(),
        options.len(),
        "{block}"
    );
    let written: Options = serde_yaml_ng::from_value(cluster["options"].clone()).unwrap();
    assert_eq!(written, Options::default(), "README values vs defaults");
    if let Err(e) = build(&cluster) {
        panic!("the README's cluster is refused: {e}");
    }
}

#[test]
fn readme_tls_block_parses() {
    let text = dir().readme_yaml("### TLS");
    let block: Value = serde_yaml_ng::from_str(&text.replace("\n    ", "\n")[4..]).unwrap();
    let tls: TlsConfig = serde_yaml_ng::from_value(block["tls"].clone()).unwrap();
    assert!(tls.ca.is_some() && tls.cert.is_some() && tls.key.is_some());
    assert!(!tls.insecure_skip_verify);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_lists_every_metric_and_label() {
    let (source, replica) = tokio::join!(MariaDb::start(1, &[]), MariaDb::start(2, &[]));
    replica.replicate_from(&source, "").await;
    source.exec("CREATE DATABASE docs").await;
    replica.wait_caught_up(&source).await;
    let mysql = connector(config(
        &[source.endpoint(), replica.endpoint()],
        Options::default(),
    ));
    collect(&mysql).await;
    // Pages read in between give both a hit ratio for the interval.
    for server in [&source, &replica] {
        server
            .exec("SELECT COUNT(*) FROM mysql.innodb_table_stats")
            .await;
    }
    // The second collection has the rates.
    let report = collect(&mysql).await;
    assert!(
        !report.series_of(None, "queries_per_second", &[]).is_empty(),
        "{report:#?}"
    );

    let checked = ReadmeKinds::read(&dir()).check(&report);
    // What a source and a replica cannot show: Galera (checked in src/report.rs).
    let unseen: Vec<&String> = checked
        .unseen_node
        .iter()
        .chain(&checked.unseen_cluster)
        .filter(|n| !n.starts_with("galera_"))
        .collect();
    assert!(
        unseen.is_empty(),
        "README metrics no report had: {unseen:?}"
    );

    let metrics = dir().readme_metrics();
    let (cluster_part, node_part) = (&metrics.cluster, &metrics.node);
    for series in report.series() {
        let part = match series.node() {
            Some(_) => node_part,
            None => cluster_part,
        };
        let unit = series.unit().unwrap_or("no unit");
        let entry = format!("`{}` ({}, {unit})", series.name(), series.kind().as_str());
        assert!(part.contains(&entry), "README does not give {entry}");
        for (label, _) in series.labels() {
            assert!(
                part.contains(&format!("`{label}`")),
                "README does not name label {label} of {}",
                series.name()
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
    for (label, _) in report.labels() {
        assert!(
            cluster_part.contains(&format!("`{label}` label")),
            "{label}"
        );
    }
}
