//! `https://` monitoring endpoints of a real server (`https:` with a `tls` block): verified
//! against the CA of `tls.ca`, refused with another CA or the system's roots, accepted with
//! `insecure_skip_verify`. (nats-server's monitoring endpoint asks for no client certificate,
//! even with `verify: true`.)

mod common;

use common::{
    TIMEOUT,
    nats::{Cluster, Https, Setup},
};
use dbmon_connector_api::{ClusterConfig, Connector, Report, Status, TlsConfig};
use dbmon_connector_nats::{Nats, Options};
use dbmon_test_support::{ReportExt, TestCa};
use std::path::Path;

/// One https server with a certificate of `ca`, written with the CA's to `dir`.
async fn https_server(ca: &TestCa, dir: &Path) -> Cluster {
    let (cert, key) = ca
        .server_cert(&["127.0.0.1", "localhost"])
        .write(dir, "server");
    let setup = Setup {
        servers: 1,
        jetstream: true,
        https: Some(Https {
            cert,
            key,
            ca: ca.write(dir),
        }),
        ..Setup::default()
    };
    Cluster::start("t", setup).await
}

async fn collect_with(endpoints: &[String], tls: TlsConfig) -> Result<Report, String> {
    let config = ClusterConfig::new("nats", Options::default())
        .with_endpoints(endpoints.iter().cloned())
        .with_tls(tls);
    let nats = <Nats as Connector>::new(config).map_err(|e| e.to_string())?;
    dbmon_test_support::collect::try_collect(&nats, TIMEOUT).await
}

#[tokio::test(flavor = "multi_thread")]
async fn https_endpoints_are_verified_against_the_configured_ca() {
    let ca = TestCa::new("NATS CA");
    let dir = tempfile::tempdir().unwrap();
    let server = https_server(&ca, dir.path()).await;
    let endpoints = server.endpoints();
    assert!(endpoints[0].starts_with("https://127.0.0.1:"));

    let verified = TlsConfig {
        ca: Some(dir.path().join("ca.crt")),
        ..TlsConfig::default()
    };
    let report = collect_with(&endpoints, verified).await.unwrap();
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    assert_eq!(report.node_value_of("t1", "jetstream_enabled"), Some(1.0));

    let other_dir = tempfile::tempdir().unwrap();
    let other = TlsConfig {
        ca: Some(TestCa::new("Someone else").write(other_dir.path())),
        ..TlsConfig::default()
    };
    for tls in [other, TlsConfig::default()] {
        let error = collect_with(&endpoints, tls).await.unwrap_err();
        assert!(
            error.starts_with(&format!("no server answers: GET {}/varz: ", endpoints[0])),
            "{error}"
        );
        assert!(error.contains("UnknownIssuer"), "{error}");
    }

    let insecure = TlsConfig {
        insecure_skip_verify: true,
        ..TlsConfig::default()
    };
    let report = collect_with(&endpoints, insecure).await.unwrap();
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
}
