//! Secure clusters: `https://` endpoints verified against a CA made in the test (`tls.ca`),
//! client certificates for clusters that demand them, `insecure_skip_verify` only when asked.

mod common;

use common::*;
use dbmon_connector_api::{Status, TlsConfig};
use dbmon_connector_cockroachdb::Options;
use dbmon_test_support::{ReportExt, TestCa};

fn tls(ca: Option<std::path::PathBuf>) -> TlsConfig {
    TlsConfig {
        ca,
        ..TlsConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_endpoints_are_verified_against_the_configured_ca() {
    let ca = TestCa::new("Cockroach CA");
    let cert = ca.server_cert(&["127.0.0.1", "localhost"]);
    let cluster = FakeCluster::start_tls(three(Generation::V22), &cert, None).await;
    cluster.with(|s| s.login = Some(("monitor".into(), "pw".into())));
    let dir = tempfile::tempdir().unwrap();
    let endpoints = cluster.endpoints();
    assert!(
        endpoints
            .iter()
            .all(|e| e.starts_with("https://127.0.0.1:"))
    );
    let config = with_tls(
        config(&endpoints, Options::default()),
        tls(Some(ca.write(dir.path()))),
    );
    let connector = connector(with_auth(config, "monitor", "pw"));
    let report = collect(&connector).await;
    assert_eq!(report.status(), Status::Healthy, "{report:?}");
    assert_eq!(report.expect_value("nodes_live"), 3.0);
    // The login went over TLS too.
    assert_eq!(cluster.with(|s| s.logins), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_another_ca_is_refused() {
    let ca = TestCa::new("Cockroach CA");
    let cert = ca.server_cert(&["127.0.0.1"]);
    let cluster = FakeCluster::start_tls(vec![Node::new(1, Generation::V22)], &cert, None).await;
    let dir = tempfile::tempdir().unwrap();
    let other = TestCa::new("Someone else").write(dir.path());
    for tls in [None, Some(tls(Some(other)))] {
        let mut config = config(&cluster.endpoints(), Options::default());
        config.tls = tls;
        let error = collect_error(&connector(config)).await;
        assert_eq!(
            error,
            format!(
                "no endpoint answered: {}: not answering: invalid peer certificate: UnknownIssuer",
                cluster.endpoints()[0]
            )
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_skip_verify_accepts_any_certificate_when_asked() {
    let cert = TestCa::new("Unknown CA").server_cert(&["127.0.0.1"]);
    let cluster = FakeCluster::start_tls(three(Generation::V19), &cert, None).await;
    let insecure = TlsConfig {
        insecure_skip_verify: true,
        ..TlsConfig::default()
    };
    let report = collect(&connector(with_tls(
        config(&cluster.endpoints(), Options::default()),
        insecure,
    )))
    .await;
    assert_eq!(report.status(), Status::Healthy, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_that_demands_client_certificates() {
    let ca = TestCa::new("Cockroach CA");
    let cert = ca.server_cert(&["127.0.0.1"]);
    let cluster = FakeCluster::start_tls(three(Generation::V22), &cert, Some(&ca)).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_path = ca.write(dir.path());
    // Without a client certificate the handshake fails on every node.
    let without = connector(with_tls(
        config(&cluster.endpoints(), Options::default()),
        tls(Some(ca_path.clone())),
    ));
    let error = collect_error(&without).await;
    assert!(error.starts_with("no endpoint answered: "), "{error}");
    // Under TLS 1.3 the client's handshake ends before the server checks for a certificate:
    // the client reads the server's alert, or (under load, seen in CI) only the connection
    // closing before its first request.
    for endpoint in cluster.endpoints() {
        let refused = [
            format!("{endpoint}: not answering: received fatal alert: CertificateRequired"),
            format!("{endpoint}: not answering: connection was not ready"),
        ];
        assert!(
            refused.iter().any(|r| error.contains(r)),
            "{endpoint}: {error}"
        );
    }
    // With one signed by the cluster's CA, it works.
    let (client_cert, client_key) = ca.client_cert("root").write(dir.path(), "client.root");
    let with = TlsConfig {
        ca: Some(ca_path),
        cert: Some(client_cert),
        key: Some(client_key),
        insecure_skip_verify: false,
    };
    let report = collect(&connector(with_tls(
        config(&cluster.endpoints(), Options::default()),
        with,
    )))
    .await;
    assert_eq!(report.status(), Status::Healthy, "{report:?}");
    assert_eq!(report.expect_value("ranges"), 3.0 * 2.0 * 20.0);
}
