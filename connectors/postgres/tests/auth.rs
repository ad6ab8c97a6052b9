//! Passwords and certificates: a wrong password is a clear error that never shows the secret;
//! TLS verifies the server, presents a client certificate, and is required once configured.

mod common;

use common::{
    collect, collect_error, config, connector, refused,
    server::{CERT_USER, PASSWORD, PASSWORD_USER, PgServer, ServerTls},
    with_auth, with_tls,
};
use dbmon_connector_api::{Status, TlsConfig};
use dbmon_connector_postgres::Options;
use dbmon_test_support::{ReportExt, TestCa};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_a_clear_error_without_the_secret() {
    let server = PgServer::primary("pgauth");
    let endpoints = [server.endpoint()];
    let wrong = "wrong-but-secret-9f3a";
    let pg = connector(with_auth(
        config(&endpoints, Options::default()),
        PASSWORD_USER,
        wrong,
    ));
    let (error, took) = collect_error(&pg, Duration::from_secs(5)).await;
    assert!(error.contains("password authentication failed"), "{error}");
    assert!(error.contains(PASSWORD_USER), "{error}");
    assert!(!error.contains(wrong), "the password leaked: {error}");
    assert!(took < Duration::from_secs(5));

    // The right one logs in, and a user without pg_monitor still gets a report.
    let right = with_auth(
        config(&endpoints, Options::default()),
        PASSWORD_USER,
        PASSWORD,
    );
    let report = collect(&connector(right)).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    assert_eq!(
        report
            .node_labels(report.node_by_id(&endpoints[0]))
            .get("role"),
        Some("primary")
    );
    assert!(report.one_value(None, "database_size_bytes", &[("database", "postgres")]) > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_of_a_postgres_url_logs_in() {
    let server = PgServer::primary("pgurluser");
    let url = format!("postgres://{PASSWORD_USER}@{}/postgres", server.endpoint());
    let password_only = |password: &str| {
        let mut c = config(std::slice::from_ref(&url), Options::default());
        c.auth = Some(dbmon_connector_api::AuthConfig {
            username: None,
            password: Some(password.to_string()),
        });
        c
    };
    // The server names the user it refused: the URL's, not the default.
    let (error, _) =
        collect_error(&connector(password_only("wrong")), Duration::from_secs(5)).await;
    assert!(
        error.contains(&format!(
            "password authentication failed for user \"{PASSWORD_USER}\""
        )),
        "{error}"
    );
    let report = collect(&connector(password_only(PASSWORD))).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_verifies_the_server_and_presents_a_client_certificate() {
    let ca = TestCa::new("dbmon test CA");
    let server_cert = ca.server_cert(&["127.0.0.1"]);
    let tls = ServerTls {
        ca_pem: ca.cert_pem(),
        cert_pem: &server_cert.cert,
        key_pem: &server_cert.key,
    };
    let server = PgServer::primary_tls("pgtls", &tls);
    let files = tempfile::tempdir().unwrap();
    let ca_file = ca.write(files.path());
    let endpoints = [server.endpoint()];
    let base = || config(&endpoints, Options::default());
    let verified = TlsConfig {
        ca: Some(ca_file.clone()),
        ..TlsConfig::default()
    };

    // The server's certificate is checked against the CA.
    let report = collect(&connector(with_tls(base(), verified.clone()))).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");

    // Without tls: the connection is plain, which this server refuses.
    let (error, _) = collect_error(&connector(base()), Duration::from_secs(5)).await;
    assert!(error.contains("no encryption"), "{error}");

    // Another CA: the server's certificate is refused.
    let other = TestCa::new("someone else");
    let other_dir = tempfile::tempdir().unwrap();
    let untrusted = TlsConfig {
        ca: Some(other.write(other_dir.path())),
        ..TlsConfig::default()
    };
    let (error, _) = collect_error(
        &connector(with_tls(base(), untrusted)),
        Duration::from_secs(5),
    )
    .await;
    assert!(error.contains("certificate"), "{error}");

    // insecure_skip_verify accepts it anyway.
    let anything = TlsConfig {
        insecure_skip_verify: true,
        ..TlsConfig::default()
    };
    let report = collect(&connector(with_tls(base(), anything))).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");

    // A client certificate logs in CERT_USER; without one, the server refuses.
    let (cert, key) = ca.client_cert(CERT_USER).write(files.path(), "client");
    let mutual = TlsConfig {
        cert: Some(cert),
        key: Some(key),
        ..verified.clone()
    };
    let as_cert_user = |tls: TlsConfig| {
        let mut c = with_tls(base(), tls);
        c.auth = Some(dbmon_connector_api::AuthConfig {
            username: Some(CERT_USER.into()),
            password: None,
        });
        c
    };
    let report = collect(&connector(as_cert_user(mutual))).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    let (error, _) =
        collect_error(&connector(as_cert_user(verified)), Duration::from_secs(5)).await;
    assert!(error.contains("certificate"), "{error}");

    // A TLS file that cannot be read is refused at startup, naming the field.
    let missing = TlsConfig {
        ca: Some(files.path().join("nope.crt")),
        ..TlsConfig::default()
    };
    let e = refused(with_tls(base(), missing));
    assert_eq!(e.path, "tls.ca", "{e}");
}
