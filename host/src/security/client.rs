//! The client's side: a channel to a dbmon server over `http://` or `https://` (with a CA, a
//! client certificate), a bearer token on every call, and failures in words. The CLI and the
//! collector connect through [`connect`].

use std::{fmt, path::PathBuf};
use tonic::{
    metadata::{AsciiMetadataValue, MetadataValue},
    service::Interceptor,
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity},
};

/// A bearer token. Its `Debug` prints `***`: it never reaches a log line.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// The token `text` (surrounding whitespace removed).
    pub fn new(text: &str) -> Token {
        Token(text.trim().to_string())
    }

    /// The token in the file at `path` (a trailing newline is removed).
    pub fn from_file(path: &std::path::Path) -> Result<Token, String> {
        std::fs::read_to_string(path)
            .map(|text| Token::new(&text))
            .map_err(|e| format!("cannot read the token file {}: {e}", path.display()))
    }

    /// The secret, for the `authorization` header only.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How a client proves who it is and whom it trusts.
#[derive(Debug, Clone, Default)]
pub struct ClientSecurity {
    /// CA certificates (PEM) that sign the server's certificate; by default, the system's
    /// roots.
    pub ca: Option<PathBuf>,
    /// The client's certificate (PEM), for servers that ask for one.
    pub cert: Option<PathBuf>,
    /// Its private key (PEM).
    pub key: Option<PathBuf>,
    /// Sent as `authorization: Bearer TOKEN` on every call.
    pub token: Option<Token>,
}

/// Adds `authorization: Bearer TOKEN` to every call, when there is a token.
#[derive(Debug, Clone, Default)]
pub struct BearerInterceptor {
    header: Option<AsciiMetadataValue>,
}

impl BearerInterceptor {
    /// The interceptor of `token`; an error when the token cannot be a header value.
    pub fn new(token: Option<&Token>) -> Result<BearerInterceptor, String> {
        let header = match token {
            None => None,
            Some(token) => {
                let mut value: AsciiMetadataValue =
                    MetadataValue::try_from(format!("Bearer {}", token.secret())).map_err(
                        |_| "the token holds characters a header cannot carry".to_string(),
                    )?;
                value.set_sensitive(true);
                Some(value)
            }
        };
        Ok(BearerInterceptor { header })
    }
}

impl Interceptor for BearerInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(header) = &self.header {
            request
                .metadata_mut()
                .insert("authorization", header.clone());
        }
        Ok(request)
    }
}

/// A connected channel to the server at `url` (`http://HOST:PORT` or `https://HOST:PORT`)
/// and the interceptor that adds the token: `MonitorClient::with_interceptor(channel, it)`.
/// With `https://`, the server's certificate must name the URL's host and be signed by
/// `security.ca` (or a system root).
pub async fn connect(
    url: &str,
    security: &ClientSecurity,
) -> Result<(Channel, BearerInterceptor), String> {
    let interceptor = BearerInterceptor::new(security.token.as_ref())?;
    let mut endpoint = Endpoint::from_shared(url.to_string())
        .map_err(|e| format!("bad server URL '{url}': {e}"))?;
    let https = endpoint.uri().scheme_str() == Some("https");
    if https {
        let config = tls_config(&endpoint, security)?;
        endpoint = endpoint
            .tls_config(config)
            .map_err(|e| format!("TLS for {url}: {e}"))?;
    } else if security.cert.is_some() || security.ca.is_some() {
        return Err(format!(
            "--ca/--cert are for TLS: use an https:// server URL instead of {url}"
        ));
    }
    let channel = endpoint.connect().await.map_err(|e| {
        let why = describe(&e).unwrap_or_else(|| chain(&e));
        format!("cannot reach the dbmon server at {url}: {why}")
    })?;
    Ok((channel, interceptor))
}

fn tls_config(endpoint: &Endpoint, security: &ClientSecurity) -> Result<ClientTlsConfig, String> {
    let host = endpoint.uri().host().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let mut config = ClientTlsConfig::new().domain_name(host);
    config = match &security.ca {
        Some(ca) => config.ca_certificate(Certificate::from_pem(read(ca, "--ca")?)),
        None => config.with_native_roots(),
    };
    match (&security.cert, &security.key) {
        (Some(cert), Some(key)) => {
            config = config.identity(Identity::from_pem(
                read(cert, "--cert")?,
                read(key, "--key")?,
            ));
        }
        (None, None) => {}
        _ => return Err("--cert and --key go together".into()),
    }
    Ok(config)
}

fn read(path: &std::path::Path, flag: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{flag} {}: {e}", path.display()))
}

/// Every message of an error's chain, joined.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut words = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !words.contains(&text) {
            words.push_str(": ");
            words.push_str(&text);
        }
        source = cause.source();
    }
    words
}

/// A TLS failure somewhere in `e`'s chain, in words that say what to fix; `None` when the
/// chain holds no TLS error.
pub fn describe(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    use rustls::{CertificateError, Error};
    let mut next = Some(e);
    while let Some(error) = next {
        let tls = error.downcast_ref::<Error>().or_else(|| {
            error
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<Error>())
        });
        if let Some(tls) = tls {
            return Some(match tls {
                Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
                    "the server's certificate is signed by an unknown CA (pass its CA with --ca)"
                        .into()
                }
                Error::InvalidCertificate(CertificateError::NotValidForName)
                | Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. }) => {
                    "the server's certificate is not valid for the host of the URL (wrong server \
                     name: use a name the certificate lists, see `dbmon certs init --hosts`)"
                        .into()
                }
                Error::InvalidCertificate(
                    CertificateError::Expired | CertificateError::ExpiredContext { .. },
                ) => "the server's certificate has expired".into(),
                Error::AlertReceived(alert) => alert_words(&format!("{alert:?}")),
                other => format!("TLS: {other}"),
            });
        }
        // Some layers keep only the words of rustls' error.
        if let Some((_, alert)) = error.to_string().split_once("received fatal alert: ") {
            return Some(alert_words(alert.trim()));
        }
        next = error.source();
    }
    None
}

/// What the server's TLS alert `name` (rustls' `AlertDescription` as printed) means.
fn alert_words(name: &str) -> String {
    match name {
        "CertificateRequired" | "HandshakeFailure" => {
            "the server requires a client certificate (--cert and --key)".into()
        }
        "UnknownCA" | "BadCertificate" | "DecryptError" => {
            "the server refused the client certificate (signed by a CA it does not trust)".into()
        }
        "CertificateExpired" => "the server refused the client certificate: it has expired".into(),
        other => format!("the server ended the TLS handshake ({other})"),
    }
}

/// A refused call in words: UNAUTHENTICATED and PERMISSION_DENIED say what to pass, a TLS
/// failure says which.
pub fn describe_status(status: &tonic::Status) -> String {
    use std::error::Error as _;
    match status.code() {
        tonic::Code::Unauthenticated => format!(
            "the server did not accept the credentials: {} (pass a token with --token-file or \
             DBMON_TOKEN_FILE)",
            status.message()
        ),
        tonic::Code::PermissionDenied => format!("permission denied: {}", status.message()),
        _ => status.source().and_then(describe).unwrap_or_else(|| {
            if chain(status).contains("connection closed") {
                "the server closed the connection: with TLS it may require a client certificate \
                 (--cert and --key) or refuse the one given, and it needs an https:// URL; its \
                 log says why"
                    .to_string()
            } else {
                status.message().to_string()
            }
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_token() {
        let security = ClientSecurity {
            token: Some(Token::new("s3cret-token\n")),
            ..ClientSecurity::default()
        };
        let printed = format!("{security:?}");
        assert!(!printed.contains("s3cret"), "{printed}");
        assert!(printed.contains("***"), "{printed}");
        let interceptor = BearerInterceptor::new(security.token.as_ref()).unwrap();
        assert!(!format!("{interceptor:?}").contains("s3cret"));
        assert_eq!(security.token.unwrap().secret(), "s3cret-token");
    }

    #[tokio::test]
    async fn certificate_flags_need_an_https_url() {
        let security = ClientSecurity {
            ca: Some("ca.pem".into()),
            ..ClientSecurity::default()
        };
        let e = connect("http://127.0.0.1:1", &security).await.unwrap_err();
        assert!(e.contains("use an https:// server URL"), "{e}");
    }
}
