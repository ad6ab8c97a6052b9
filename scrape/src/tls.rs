//! rustls client configuration from a cluster's `tls:` block.

use dbmon_connector_api::{ConfigError, TlsConfig};
use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    crypto::CryptoProvider,
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime, pem::PemObject},
};
use std::{
    path::Path,
    sync::{Arc, OnceLock},
};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The rustls client settings of one cluster: its CA (or the system's roots), an optional
/// client certificate, and no certificate checks only when `insecure_skip_verify` asks for it.
/// Shared by every connector that speaks TLS (HTTP, PostgreSQL, ...).
pub fn client_config(tls: Option<&TlsConfig>) -> Result<ClientConfig, ConfigError> {
    let default = TlsConfig::default();
    let tls = tls.unwrap_or(&default);
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::at("tls", e.to_string()))?;
    let builder = if tls.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider())))
    } else {
        builder.with_root_certificates(roots(tls.ca.as_deref())?)
    };
    match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => {
            let certs = certificates(cert, "tls.cert")?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                ConfigError::at(
                    "tls.key",
                    format!("cannot read a PEM private key from {}: {e}", key.display()),
                )
            })?;
            builder.with_client_auth_cert(certs, key).map_err(|e| {
                ConfigError::at(
                    "tls.key",
                    format!("client certificate and key do not fit: {e}"),
                )
            })
        }
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some(_), None) => Err(ConfigError::at(
            "tls.cert",
            "a client certificate needs tls.key too",
        )),
        (None, Some(_)) => Err(ConfigError::at(
            "tls.key",
            "a client key needs tls.cert too",
        )),
    }
}

fn certificates(path: &Path, field: &str) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| ConfigError::at(field, format!("cannot read {}: {e}", path.display())))?
        .collect();
    let certs =
        certs.map_err(|e| ConfigError::at(field, format!("bad PEM in {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(ConfigError::at(
            field,
            format!("no certificate in {}", path.display()),
        ));
    }
    Ok(certs)
}

fn roots(ca: Option<&Path>) -> Result<Arc<RootCertStore>, ConfigError> {
    let Some(ca) = ca else {
        return Ok(Arc::clone(system_roots()));
    };
    let mut roots = RootCertStore::empty();
    for cert in certificates(ca, "tls.ca")? {
        roots.add(cert).map_err(|e| {
            ConfigError::at(
                "tls.ca",
                format!("bad CA certificate in {}: {e}", ca.display()),
            )
        })?;
    }
    Ok(Arc::new(roots))
}

/// The system's roots, read once per process and shared by every client: a copy per cluster
/// cost ~85 KB each. A machine without any still reaches plain-HTTP endpoints.
fn system_roots() -> &'static Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        Arc::new(roots)
    })
}

/// `insecure_skip_verify: true`: accepts any certificate, still checks handshake signatures.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
