//! example.yaml and the README stay in step with the code.

mod common;

use common::{SUMMARY, collect, connector, url};
use dbmon_connector_prometheus::Prometheus;
use dbmon_test_support::{
    HttpServer, Reply,
    docs::{ConnectorDir, build_entry, keys, option_names},
};

fn dir() -> ConnectorDir {
    ConnectorDir::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn example_yaml_is_a_complete_host_config() {
    let cluster = dir().example_cluster("prometheus");
    assert_eq!(
        keys(&cluster),
        ["id", "connector", "interval", "timeout", "options"]
    );
    assert_eq!(keys(&cluster["options"]), ["url", "include", "exclude"]);
    if let Err(e) = build_entry::<Prometheus>(&cluster) {
        panic!("example.yaml's cluster is refused: {e}");
    }
}

#[test]
fn readme_configuration_spells_out_every_option() {
    let cluster = dir().readme_cluster("## Configuration", "prometheus");
    let written = keys(&cluster["options"]);
    assert_eq!(
        written,
        option_names::<Prometheus>(),
        "README options vs Options fields"
    );
    // The default limit is written as the number the code uses.
    assert_eq!(
        cluster["options"]["max_body_bytes"].as_u64(),
        Some(dbmon_scrape::DEFAULT_MAX_BODY_BYTES as u64)
    );
    if let Err(e) = build_entry::<Prometheus>(&cluster) {
        panic!("the README's cluster is refused: {e}");
    }
}

#[test]
fn readme_endpoints_example_is_accepted() {
    let cluster = dir().readme_cluster("### Several targets", "prometheus");
    assert!(
        cluster["endpoints"]
            .as_sequence()
            .is_some_and(|e| e.len() > 1)
    );
    if let Err(e) = build_entry::<Prometheus>(&cluster) {
        panic!("the README's endpoints cluster is refused: {e}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn readme_lists_every_metric_the_connector_adds() {
    let server = HttpServer::start().await;
    server.set("/metrics", Reply::text("scraped_sample 1\n"));
    let report = collect(&connector(url(&server.url("/metrics")), &[])).await;
    let mut own: Vec<(bool, &str)> = report
        .series()
        .filter(|s| s.name() != "scraped_sample")
        .map(|s| (s.node().is_some(), s.name()))
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

    let metrics = dir().readme_metrics();
    for (node, name) in own {
        let part = if node {
            &metrics.node
        } else {
            &metrics.cluster
        };
        assert!(
            part.contains(&format!("- `{name}` (")),
            "README does not list {name}"
        );
    }
}
