//! `https://` endpoints through the cluster's `tls:` block: verified against a CA made in the
//! test, refused when another CA signed the server's certificate.

mod common;

use common::{apis, collect, config, connector, readme_config, try_collect};
use dbmon_connector_api::{Status, TlsConfig};
use dbmon_test_support::{HttpServer, Reply, ReportExt, TestCa};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_endpoints_are_verified_against_the_configured_ca() {
    let ca = TestCa::new("Vault CA");
    let cert = ca.server_cert(&["127.0.0.1"]);
    let vault = HttpServer::start_tls(&cert, None).await;
    vault.set("/v1/sys/health", Reply::json(apis::VAULT_ACTIVE));
    let dir = tempfile::tempdir().unwrap();
    let url = vault.url("");
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let config = readme_config("### Vault: /v1/sys/health", std::slice::from_ref(&url)).with_tls(
        TlsConfig {
            ca: Some(ca.write(dir.path())),
            ..TlsConfig::default()
        },
    );
    let report = collect(&connector(config)).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    assert_eq!(report.exact_value(Some(&url), "active", &[]), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_another_ca_is_refused() {
    let ca = TestCa::new("Vault CA");
    let server = HttpServer::start_tls(&ca.server_cert(&["127.0.0.1"]), None).await;
    server.set("/health", Reply::json("{}"));
    let dir = tempfile::tempdir().unwrap();
    let other = TestCa::new("Someone else").write(dir.path());
    let config = config(&[server.url("")], "requests: [{path: /health}]").with_tls(TlsConfig {
        ca: Some(other),
        ..TlsConfig::default()
    });
    let error = try_collect(&connector(config)).await.unwrap_err();
    assert!(
        error.starts_with(&format!("node {}: GET /health: ", server.url(""))),
        "{error}"
    );
    assert!(error.contains("UnknownIssuer"), "{error}");
}
