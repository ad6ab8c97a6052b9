//! TLS from the cluster's `tls:` block, against a MariaDB of the test's own that refuses plain
//! connections (`require_secure_transport`), with certificates from a CA made in the test: the
//! server's verified against `ca`, a client certificate for a `REQUIRE X509` account, and the
//! failures (another CA, no `tls:` block) as reasons that say what went wrong.

mod common;

use common::{collect, collect_error, config, connector, server::MariaDb, with_auth};
use dbmon_connector_api::{ClusterConfig, Status, TlsConfig};
use dbmon_connector_mysql::Options;
use dbmon_test_support::TestCa;
use std::{path::Path, time::Duration};
use tempfile::TempDir;

/// A server that takes only TLS connections, with a certificate for 127.0.0.1 from `ca`.
async fn tls_server(ca: &TestCa, dir: &Path) -> MariaDb {
    let ca_path = ca.write(dir);
    let (cert, key) = ca
        .server_cert(&["127.0.0.1", "localhost"])
        .write(dir, "server");
    let args = [
        format!("--ssl-ca={}", ca_path.display()),
        format!("--ssl-cert={}", cert.display()),
        format!("--ssl-key={}", key.display()),
        "--require-secure-transport=ON".to_string(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = MariaDb::start(1, &args).await;
    server
        .exec("CREATE USER 'certuser'@'127.0.0.1' REQUIRE X509")
        .await;
    server
}

fn with_tls(mut c: ClusterConfig<Options>, tls: TlsConfig) -> ClusterConfig<Options> {
    c.tls = Some(tls);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_the_servers_ca_and_a_client_certificate() {
    let dir = TempDir::new().unwrap();
    let ca = TestCa::new("dbmon mysql test CA");
    let server = tls_server(&ca, dir.path()).await;
    let endpoint = server.endpoint();
    let verified = TlsConfig {
        ca: Some(dir.path().join("ca.crt")),
        ..TlsConfig::default()
    };

    // The server's certificate checked against the CA: a report.
    let mysql = connector(with_tls(
        config(&[&endpoint], Options::default()),
        verified.clone(),
    ));
    let report = collect(&mysql).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");

    // Plain, the same login is refused: the server requires secure transport (MariaDB 10.11
    // words it as a denied login).
    let plain = connector(config(&[&endpoint], Options::default()));
    let (error, _) = collect_error(&plain, Duration::from_secs(3)).await;
    assert!(error.contains("cannot connect: ERROR"), "{error}");

    // A CA that did not sign the server's certificate: refused, saying why.
    let other = TestCa::new("another CA");
    let other_dir = TempDir::new().unwrap();
    let wrong = TlsConfig {
        ca: Some(other.write(other_dir.path())),
        ..TlsConfig::default()
    };
    let mysql = connector(with_tls(
        config(&[&endpoint], Options::default()),
        wrong.clone(),
    ));
    let (error, _) = collect_error(&mysql, Duration::from_secs(3)).await;
    assert!(
        error.contains("cannot connect: TLS") && error.contains("certificate"),
        "{error}"
    );
    // Unless every certificate is accepted.
    let insecure = TlsConfig {
        insecure_skip_verify: true,
        ..wrong
    };
    let mysql = connector(with_tls(config(&[&endpoint], Options::default()), insecure));
    assert_eq!(collect(&mysql).await.status(), Status::Healthy);

    // An X509 account logs in with its client certificate, and only with it.
    let (cert, key) = ca.client_cert("certuser").write(dir.path(), "certuser");
    let with_cert = TlsConfig {
        cert: Some(cert),
        key: Some(key),
        ..verified.clone()
    };
    let login = |tls: TlsConfig| {
        connector(with_tls(
            with_auth(config(&[&endpoint], Options::default()), "certuser", None),
            tls,
        ))
    };
    let report = collect(&login(with_cert)).await;
    assert!(report.status() != Status::Unreachable, "{report:#?}");
    let (error, _) = collect_error(&login(verified), Duration::from_secs(3)).await;
    assert!(error.contains("ERROR 1045"), "{error}");
}
