//! The cluster's `tls:` block against a real node whose management API listens with HTTPS
//! only (`management.ssl.*`), its certificate signed by a CA made in the test.

mod common;

use common::rabbit::{MONITOR_PASSWORD, MONITOR_USER, RabbitNode};
use common::{collect_until, try_collect};
use dbmon_connector_api::{ClusterConfig, Connector, Status, TlsConfig};
use dbmon_connector_rabbitmq::{Options, RabbitMq};
use dbmon_test_support::{ReportExt, TestCa};
use std::time::Duration;

fn connector(url: &str, tls: Option<TlsConfig>) -> RabbitMq {
    let mut config = ClusterConfig::new("rabbitmq-tls", Options::default())
        .with_endpoints([url])
        .with_auth(Some(MONITOR_USER), Some(MONITOR_PASSWORD));
    config.tls = tls;
    RabbitMq::new(config).unwrap_or_else(|e| panic!("refused: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn https_with_the_clusters_ca() {
    let ca = TestCa::new("dbmon test rabbitmq CA");
    let node = RabbitNode::start_tls(&ca).await;
    assert!(
        node.api_url.starts_with("https://localhost:"),
        "{}",
        node.api_url
    );
    let dir = tempfile::tempdir().unwrap();
    let tls = TlsConfig {
        ca: Some(ca.write(dir.path())),
        ..TlsConfig::default()
    };
    let rabbit = connector(&node.api_url, Some(tls));
    let report = collect_until(&rabbit, Duration::from_secs(30), |r| {
        r.node_value_of(&node.name, "mem_used_bytes").is_some()
    })
    .await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    let n = report.node_by_id(&node.name);
    assert_eq!(report.address_of(n), Some(node.api_url.as_str()));

    // Without the CA (the system's roots), the certificate is refused, and the error says so.
    let err = try_collect(&connector(&node.api_url, None))
        .await
        .unwrap_err();
    assert!(err.starts_with("no endpoint could be read: "), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");

    // insecure_skip_verify accepts it.
    let insecure = TlsConfig {
        insecure_skip_verify: true,
        ..TlsConfig::default()
    };
    let report = try_collect(&connector(&node.api_url, Some(insecure)))
        .await
        .unwrap();
    assert_ne!(report.status(), Status::Unreachable, "{report:#?}");
}
