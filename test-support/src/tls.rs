//! TLS for the loopback server: a CA generated inside the test, the server and client
//! certificates it signs, and [`HttpServer::start_tls`] to serve HTTPS (with or without client
//! certificates). Nothing is read from disk; write the PEM files the code under test needs with
//! [`TestCa::write`] and [`CertAndKey::write`].

use crate::http::{HttpServer, State, serve_connection, track};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};
use tokio::net::TcpListener;
use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        RootCertStore, ServerConfig,
        crypto::ring::default_provider,
        pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
        server::WebPkiClientVerifier,
    },
};

/// A certificate authority made for one test.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
}

/// A PEM certificate and its PEM private key.
#[derive(Clone, Debug)]
pub struct CertAndKey {
    /// The certificate.
    pub cert: String,
    /// Its private key (PKCS#8).
    pub key: String,
}

impl TestCa {
    /// A new CA called `name`, with a fresh key.
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("self-signed CA");
        TestCa {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// The CA's certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Writes the CA certificate to `dir/ca.crt` and returns the path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        let path = dir.join("ca.crt");
        std::fs::write(&path, &self.cert_pem).expect("write ca.crt");
        path
    }

    /// A server certificate for these names (DNS names or IP addresses, e.g. `127.0.0.1`).
    pub fn server_cert(&self, names: &[&str]) -> CertAndKey {
        self.sign(names, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate for user `name` (CockroachDB reads the user from the CN).
    pub fn client_cert(&self, name: &str) -> CertAndKey {
        self.sign(&[name], ExtendedKeyUsagePurpose::ClientAuth)
    }

    /// A client certificate for `name` that expired in 2001.
    pub fn expired_client_cert(&self, name: &str) -> CertAndKey {
        self.sign_with(&[name], ExtendedKeyUsagePurpose::ClientAuth, |params| {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        })
    }

    fn sign(&self, names: &[&str], usage: ExtendedKeyUsagePurpose) -> CertAndKey {
        self.sign_with(names, usage, |_| {})
    }

    fn sign_with(
        &self,
        names: &[&str],
        usage: ExtendedKeyUsagePurpose,
        adjust: impl FnOnce(&mut CertificateParams),
    ) -> CertAndKey {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("leaf params");
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![usage];
        adjust(&mut params);
        let key = KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign leaf");
        CertAndKey {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }
}

impl CertAndKey {
    /// Writes `dir/STEM.crt` and `dir/STEM.key`; returns both paths.
    pub fn write(&self, dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
        let cert = dir.join(format!("{stem}.crt"));
        let key = dir.join(format!("{stem}.key"));
        std::fs::write(&cert, &self.cert).expect("write certificate");
        std::fs::write(&key, &self.key).expect("write key");
        (cert, key)
    }
}

fn server_config(cert: &CertAndKey, client_ca: Option<&TestCa>) -> ServerConfig {
    let provider = Arc::new(default_provider());
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert.cert.as_bytes())
        .collect::<Result<_, _>>()
        .expect("server certificate PEM");
    let key = PrivateKeyDer::from_pem_slice(cert.key.as_bytes()).expect("server key PEM");
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .expect("TLS versions");
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(ca.cert_pem.as_bytes()) {
                roots.add(cert.expect("CA PEM")).expect("CA certificate");
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .expect("certificate and key fit");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

impl HttpServer {
    /// Starts an HTTPS server on a free loopback port presenting `cert` (make it with
    /// [`TestCa::server_cert`] for `127.0.0.1`). With `client_ca`, the handshake demands a
    /// client certificate signed by that CA (mutual TLS). Replies, handlers and the request log
    /// work as for [`HttpServer::start`]; failed handshakes are dropped silently.
    pub async fn start_tls(cert: &CertAndKey, client_ca: Option<&TestCa>) -> HttpServer {
        let acceptor = TlsAcceptor::from(Arc::new(server_config(cert, client_ca)));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let state = Arc::clone(&shared);
                track(&shared, async move {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        serve_connection(stream, state).await;
                    }
                });
            }
        });
        HttpServer {
            addr,
            scheme: "https",
            state,
            task,
        }
    }
}
