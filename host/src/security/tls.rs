//! The server side of TLS: the certificate, key and client CA files read into a rustls
//! configuration (ALPN `h2`), re-read when they change, and the words for a failed handshake.

use crate::config::ClientAuth;
use rustls::{
    RootCertStore, ServerConfig,
    crypto::{CryptoProvider, ring},
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::WebPkiClientVerifier,
    sign::CertifiedKey,
};
use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime},
};
use tokio_rustls::TlsAcceptor;

/// How often, at most, the files are looked at for a change.
const RECHECK_EVERY: Duration = Duration::from_secs(1);

/// `tls:` with paths resolved against the config file's folder and defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// The server's certificate chain (PEM).
    pub cert: PathBuf,
    /// The server's private key (PEM).
    pub key: PathBuf,
    /// CA certificates that sign client certificates (PEM).
    pub client_ca: Option<PathBuf>,
    /// What the handshake asks of a client certificate.
    pub client_auth: ClientAuth,
}

/// A file of `tls:` that cannot serve, with the field that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFileError {
    /// `cert`, `key` or `client_ca`.
    pub field: &'static str,
    /// What is wrong, with the OS's or rustls' words.
    pub message: String,
}

/// The rustls configuration built from `settings`' files as they are now.
pub fn server_config(settings: &TlsSettings) -> Result<Arc<ServerConfig>, TlsFileError> {
    let provider = Arc::new(ring::default_provider());
    let chain = certificates("cert", &settings.cert)?;
    let key = private_key(&settings.key)?;
    let certified = CertifiedKey::from_der(chain, key, &provider).map_err(|e| TlsFileError {
        field: "key",
        message: format!(
            "{} does not fit the certificate {}: {e}",
            settings.key.display(),
            settings.cert.display()
        ),
    })?;
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsFileError {
            field: "cert",
            message: format!("TLS versions: {e}"),
        })?;
    let builder = match (&settings.client_ca, settings.client_auth) {
        (Some(ca), mode) if mode != ClientAuth::None => {
            builder.with_client_cert_verifier(client_verifier(ca, mode, provider)?)
        }
        _ => builder.with_no_client_auth(),
    };
    let mut config =
        builder.with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified)));
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

fn client_verifier(
    ca: &Path,
    mode: ClientAuth,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsFileError> {
    let mut roots = RootCertStore::empty();
    for cert in certificates("client_ca", ca)? {
        roots.add(cert).map_err(|e| TlsFileError {
            field: "client_ca",
            message: format!("{}: not a CA certificate: {e}", ca.display()),
        })?;
    }
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    let builder = if mode == ClientAuth::Optional {
        builder.allow_unauthenticated()
    } else {
        builder
    };
    builder.build().map_err(|e| TlsFileError {
        field: "client_ca",
        message: format!("{}: {e}", ca.display()),
    })
}

fn read(field: &'static str, path: &Path) -> Result<Vec<u8>, TlsFileError> {
    std::fs::read(path).map_err(|e| TlsFileError {
        field,
        message: format!("cannot read {}: {e}", path.display()),
    })
}

fn certificates(
    field: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsFileError> {
    let pem = read(field, path)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsFileError {
            field,
            message: format!("{}: bad PEM: {e}", path.display()),
        })?;
    if certs.is_empty() {
        return Err(TlsFileError {
            field,
            message: format!("{}: no PEM certificate found", path.display()),
        });
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsFileError> {
    let pem = read("key", path)?;
    // The error of a bad key names the file only: its bytes never reach a message.
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| TlsFileError {
        field: "key",
        message: match e {
            rustls::pki_types::pem::Error::NoItemsFound => {
                format!("{}: no PEM private key found", path.display())
            }
            _ => format!("{}: not a readable PEM private key", path.display()),
        },
    })
}

/// What the listener's TLS serves with: the configuration of the files as last read, re-read
/// at most once a second when a file's modification time or length changed. A new file that
/// cannot serve is logged once and the previous configuration stays; connections already
/// open keep the configuration they started with.
#[derive(Debug)]
pub struct ServerTls {
    settings: TlsSettings,
    /// The ALPN protocols offered, most preferred first.
    alpn: Vec<Vec<u8>>,
    current: Mutex<Current>,
}

#[derive(Debug)]
struct Current {
    config: Arc<ServerConfig>,
    stamps: Vec<Option<Stamp>>,
    checked: Instant,
}

/// What tells a changed file: modification time and length.
type Stamp = (SystemTime, u64);

impl ServerTls {
    /// Reads the files of `settings`, for gRPC (ALPN `h2`).
    pub fn new(settings: TlsSettings) -> Result<ServerTls, TlsFileError> {
        ServerTls::with_alpn(settings, &[b"h2"])
    }

    /// Reads the files of `settings`, offering the ALPN protocols `alpn` (the HTTP listener:
    /// `h2` and `http/1.1`).
    pub fn with_alpn(settings: TlsSettings, alpn: &[&[u8]]) -> Result<ServerTls, TlsFileError> {
        let stamps = stamps(&settings);
        let alpn: Vec<Vec<u8>> = alpn.iter().map(|p| p.to_vec()).collect();
        let config = with_protocols(server_config(&settings)?, &alpn);
        Ok(ServerTls {
            settings,
            alpn,
            current: Mutex::new(Current {
                config,
                stamps,
                checked: Instant::now(),
            }),
        })
    }

    /// The settings it serves.
    pub fn settings(&self) -> &TlsSettings {
        &self.settings
    }

    /// An acceptor with the current configuration (the files re-read first when they changed).
    pub fn acceptor(&self) -> TlsAcceptor {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if current.checked.elapsed() >= RECHECK_EVERY {
            current.checked = Instant::now();
            let now = stamps(&self.settings);
            if now != current.stamps {
                current.stamps = now;
                match server_config(&self.settings) {
                    Ok(config) => {
                        current.config = with_protocols(config, &self.alpn);
                        tracing::info!(
                            "TLS: loaded the new certificate {} (new connections use it)",
                            self.settings.cert.display()
                        );
                    }
                    Err(e) => tracing::warn!(
                        "TLS: the changed tls.{} cannot serve, keeping the previous certificate: {}",
                        e.field,
                        e.message
                    ),
                }
            }
        }
        TlsAcceptor::from(Arc::clone(&current.config))
    }
}

/// `config` offering `alpn` (as [`server_config`] makes it: `h2`).
fn with_protocols(config: Arc<ServerConfig>, alpn: &[Vec<u8>]) -> Arc<ServerConfig> {
    if config.alpn_protocols == alpn {
        return config;
    }
    let mut config = Arc::unwrap_or_clone(config);
    config.alpn_protocols = alpn.to_vec();
    Arc::new(config)
}

fn stamps(settings: &TlsSettings) -> Vec<Option<Stamp>> {
    let files = [
        Some(&settings.cert),
        Some(&settings.key),
        settings.client_ca.as_ref(),
    ];
    files
        .into_iter()
        .flatten()
        .map(|path| {
            let meta = std::fs::metadata(path).ok()?;
            Some((meta.modified().ok()?, meta.len()))
        })
        .collect()
}

/// A failed handshake in words, from rustls' error inside `e`.
pub fn handshake_failure(e: &std::io::Error) -> String {
    use rustls::{CertificateError, Error};
    let Some(tls) = e.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) else {
        return e.to_string();
    };
    match tls {
        Error::NoCertificatesPresented => "no client certificate".into(),
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "client certificate from an unknown CA".into()
        }
        Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => "client certificate expired".into(),
        Error::InvalidCertificate(other) => format!("invalid client certificate: {other:?}"),
        Error::AlertReceived(alert) => {
            format!(
                "the client refused the server's certificate or ended the handshake ({alert:?})"
            )
        }
        Error::NoApplicationProtocol => "the client does not offer HTTP/2 (ALPN h2)".into(),
        other => other.to_string(),
    }
}
