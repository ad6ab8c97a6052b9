//! TLS: a redis-server with a certificate from a CA the test makes, with and without client
//! certificates.

mod common;

use common::{Server, TIMEOUT, build, collect, collect_error, config, connector, with_tls};
use dbmon_connector_api::{Status, TlsConfig};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use std::path::{Path, PathBuf};

/// PEM files in the server's dir: ca.pem, server.pem/.key, client.pem/.key.
fn make_certificates(dir: &Path) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // OpenSSL (the server's side) matches a client certificate's issuer by name.
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "dbmon test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    for (name, sans) in [
        ("server", vec!["localhost", "127.0.0.1"]),
        ("client", vec!["monitor"]),
    ] {
        let key = KeyPair::generate().unwrap();
        let sans: Vec<String> = sans.into_iter().map(String::from).collect();
        let cert = CertificateParams::new(sans)
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    }
}

/// A TLS-only server and the folder of its certificates; `clients` asks for client
/// certificates.
struct TlsServer {
    server: Server,
    certs: tempfile::TempDir,
}

impl TlsServer {
    fn start(clients: bool) -> TlsServer {
        let certs = tempfile::tempdir().unwrap();
        make_certificates(certs.path());
        let file = |name: &str| certs.path().join(name).display().to_string();
        let server = Server::launch(
            &|port| {
                vec![
                    "--port".into(),
                    "0".into(),
                    "--tls-port".into(),
                    port.to_string(),
                    "--tls-cert-file".into(),
                    file("server.pem"),
                    "--tls-key-file".into(),
                    file("server.key"),
                    "--tls-ca-cert-file".into(),
                    file("ca.pem"),
                    "--tls-auth-clients".into(),
                    (if clients { "yes" } else { "no" }).into(),
                ]
            },
            false,
        );
        TlsServer { server, certs }
    }

    fn file(&self, name: &str) -> Option<PathBuf> {
        Some(self.certs.path().join(name))
    }

    fn port(&self) -> u16 {
        self.server.port
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_the_servers_ca() {
    let server = TlsServer::start(false);
    let tls = TlsConfig {
        ca: server.file("ca.pem"),
        ..TlsConfig::default()
    };
    let by_name = format!("localhost:{}", server.port());
    let report = collect(&connector(with_tls(config(&[by_name]), tls.clone()))).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    let by_ip = format!("rediss://127.0.0.1:{}", server.port());
    let report = collect(&connector(with_tls(config(&[by_ip]), tls))).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_ca_is_refused_unless_told_to_skip_verification() {
    let server = TlsServer::start(false);
    let endpoint = format!("rediss://localhost:{}", server.port());
    // No tls: block: the system's roots, which do not know the test's CA.
    let (error, took) = collect_error(&connector(config(&[&endpoint])), TIMEOUT).await;
    assert!(error.contains("TLS handshake failed"), "{error}");
    assert!(error.contains("UnknownIssuer"), "{error}");
    assert!(took < TIMEOUT);
    let skip = TlsConfig {
        insecure_skip_verify: true,
        ..TlsConfig::default()
    };
    let report = collect(&connector(with_tls(config(&[endpoint]), skip))).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_text_to_a_tls_port_is_a_clear_error() {
    let server = TlsServer::start(false);
    let endpoint = format!("redis://localhost:{}", server.port());
    let (error, took) = collect_error(&connector(config(&[endpoint])), TIMEOUT).await;
    assert!(error.contains("closed the connection"), "{error}");
    assert!(took < TIMEOUT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates() {
    let server = TlsServer::start(true);
    let endpoint = [format!("localhost:{}", server.port())];
    let with_cert = TlsConfig {
        ca: server.file("ca.pem"),
        cert: server.file("client.pem"),
        key: server.file("client.key"),
        insecure_skip_verify: false,
    };
    let report = collect(&connector(with_tls(config(&endpoint), with_cert.clone()))).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    let without = TlsConfig {
        cert: None,
        key: None,
        ..with_cert
    };
    let (error, _) = collect_error(&connector(with_tls(config(&endpoint), without)), TIMEOUT).await;
    assert!(error.starts_with(&endpoint[0]), "{error}");
    assert!(error.contains("ended the TLS session"), "{error}");
    assert!(error.contains("CertificateRequired"), "{error}");
}

#[test]
fn bad_tls_files_are_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let missing = TlsConfig {
        ca: Some(dir.path().join("nope.pem")),
        ..TlsConfig::default()
    };
    let error = build(with_tls(config(&["db:6379"]), missing))
        .err()
        .unwrap();
    assert_eq!(error.path, "tls.ca");
    let lonely = TlsConfig {
        cert: Some(dir.path().join("client.pem")),
        ..TlsConfig::default()
    };
    let error = build(with_tls(config(&["db:6379"]), lonely)).err().unwrap();
    assert_eq!(error.path, "tls.cert");
}
