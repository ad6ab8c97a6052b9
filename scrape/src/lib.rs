//! HTTP(S) for connectors that scrape endpoints (prometheus, cockroachdb): one reqwest client
//! per cluster, built from the cluster's `tls:` settings with rustls, and body reads that stop
//! at a size limit and at the collection's deadline.

mod tls;
mod url;

pub use tls::client_config;
pub use url::{endpoint_url, same_listener};

/// The HTTP client crate, so that connectors name the same version.
pub use reqwest;

use dbmon_connector_api::{ConfigError, TlsConfig, error_chain};
use std::time::{Duration, Instant};

/// Bodies larger than this are refused unless a connector asks for more.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 << 20;

/// Why a fetch failed, in words that name the URL.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Connecting, sending or receiving failed, or the body was cut short.
    #[error("GET {url}: {message}")]
    Transport {
        /// The URL.
        url: String,
        /// What failed (connection refused, certificate, ...).
        message: String,
        /// The other end is not an HTTP (or TLS) server: it answered with something else, or
        /// closed a new connection without an answer. The message then says so.
        not_http: bool,
    },
    /// The collection's deadline passed first.
    #[error("GET {url}: no answer within {after_ms} ms")]
    Timeout {
        /// The URL.
        url: String,
        /// How long it waited.
        after_ms: u128,
    },
    /// The body was larger than allowed.
    #[error("GET {url}: body larger than {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// The body is not UTF-8 text.
    #[error("GET {url}: body is not UTF-8 text")]
    NotText {
        /// The URL.
        url: String,
    },
}

/// A fetched body.
#[derive(Debug)]
pub struct Fetched {
    /// HTTP status code.
    pub status: u16,
    /// The `Content-Type` header, `""` when there was none.
    pub content_type: String,
    /// The body as text.
    pub body: String,
    /// Time from sending the request to the last byte.
    pub elapsed: Duration,
}

/// Builds the HTTP client of one cluster: rustls with the configured CA (or the system's
/// roots), an optional client certificate, and certificate checks off only when asked.
pub fn client(tls: Option<&TlsConfig>) -> Result<reqwest::Client, ConfigError> {
    let config = tls::client_config(tls)?;
    reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .pool_max_idle_per_host(4)
        .build()
        .map_err(|e| ConfigError::new(format!("cannot build the HTTP client: {e}")))
}

/// GETs `url`, reading at most `max_bytes`, giving up at `deadline`.
pub async fn get(
    client: &reqwest::Client,
    url: &str,
    deadline: Instant,
    max_bytes: usize,
) -> Result<Fetched, FetchError> {
    send(client.get(url), url, deadline, max_bytes).await
}

/// Sends a prepared request (a POST, extra headers), with the same limits as [`get`].
///
/// A GET or HEAD that the server hangs up on before answering is sent once more: a keep-alive
/// connection the server closed while idle fails that way too. Other methods are not, as the
/// server may have acted on them.
pub async fn send(
    request: reqwest::RequestBuilder,
    url: &str,
    deadline: Instant,
    max_bytes: usize,
) -> Result<Fetched, FetchError> {
    let start = Instant::now();
    let budget = deadline.saturating_duration_since(start);
    let read = async {
        let (client, request) = request.build_split();
        let request = request.map_err(|e| transport(url, &e))?;
        let retry = match *request.method() {
            reqwest::Method::GET | reqwest::Method::HEAD => request.try_clone(),
            _ => None,
        };
        let first = read_body(client.execute(request), url, max_bytes, start).await;
        match (first, retry) {
            (Err(Failure::Closed(_)), Some(retry)) => match fresh_client(retry.url()) {
                // Only a connection made for the request tells "not HTTP" from a stale one.
                Some(fresh) => read_body(fresh.execute(retry), url, max_bytes, start)
                    .await
                    .map_err(Failure::on_new_connection),
                None => read_body(client.execute(retry), url, max_bytes, start).await,
            },
            (result, _) => result,
        }
    };
    let result = match tokio::time::timeout(budget, read).await {
        Ok(result) => result,
        Err(_) => {
            return Err(FetchError::Timeout {
                url: url.to_string(),
                after_ms: budget.as_millis(),
            });
        }
    };
    result.map_err(|failure| failure.into_error(url))
}

/// A client that keeps no connection, so that its one request goes over a new one: reqwest
/// cannot make a pooled client skip its idle connections. For `http://` only, as the cluster's
/// TLS settings live in the pooled client; it follows no redirects, which could lead to
/// `https://`.
fn fresh_client(url: &reqwest::Url) -> Option<reqwest::Client> {
    if url.scheme() != "http" {
        return None;
    }
    // Never used for TLS (no https, no redirects), but reqwest wants a configuration.
    let tls = rustls::ClientConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .ok()
}

/// How one attempt failed, before it becomes a [`FetchError`].
enum Failure {
    /// The server closed the connection before it answered, as hyper and the OS put it.
    Closed(String),
    /// The server closed a connection made for this request before it answered.
    ClosedNew,
    /// Any other failure.
    Other(FetchError),
}

impl Failure {
    fn on_new_connection(self) -> Failure {
        match self {
            Failure::Closed(_) => Failure::ClosedNew,
            other => other,
        }
    }

    fn into_error(self, url: &str) -> FetchError {
        match self {
            Failure::ClosedNew => FetchError::Transport {
                url: url.to_string(),
                message: "the server did not answer with HTTP: it closed a new connection \
                          without a response; is this the right port?"
                    .into(),
                not_http: true,
            },
            // Possibly a keep-alive connection that went stale, or a POST the server dropped:
            // nothing says the server is not HTTP.
            Failure::Closed(message) => FetchError::Transport {
                url: url.to_string(),
                message,
                not_http: false,
            },
            Failure::Other(e) => e,
        }
    }
}

/// What hyper and rustls say when the other end does not speak HTTP (or TLS).
const NOT_HTTP: [&str; 6] = [
    "invalid HTTP",
    "received HTTP/0.9",
    "message head is too large",
    "received corrupt message",
    "InvalidContentType",
    "received unexpected message",
];

fn transport(url: &str, e: &reqwest::Error) -> Failure {
    let message = error_chain(e);
    // Before any answer: PostgreSQL, for one, hangs up on a request (with a reset when it left
    // part of it unread). A server that hangs up before the request is even sent (a greeting
    // and a close) makes hyper cancel it instead: "connection was not ready".
    if message.contains("connection closed before message completed")
        || message.contains("Connection reset by peer")
        || message.contains("connection was not ready")
    {
        return Failure::Closed(message);
    }
    let not_http = NOT_HTTP.iter().any(|m| message.contains(m));
    let message = match not_http {
        true => format!(
            "the server did not answer with HTTP ({}); is this the right port?",
            innermost(&message)
        ),
        false => message,
    };
    Failure::Other(FetchError::Transport {
        url: url.to_string(),
        message,
        not_http,
    })
}

/// Why a body ended early: hyper knows that it did, not how far it got.
fn cut_short(url: &str, e: &reqwest::Error, read: usize, framing: Framing) -> Failure {
    let cause = error_chain(e);
    let message = match framing {
        Framing::Length(expected) => format!(
            "the body was cut short: the connection ended after {read} of {expected} bytes \
             ({cause})"
        ),
        Framing::Chunked => format!(
            "the body was cut short: the connection ended before its last chunk, after \
             {read} bytes ({cause})"
        ),
        Framing::Close => format!("reading the body failed after {read} bytes ({cause})"),
    };
    Failure::Other(FetchError::Transport {
        url: url.to_string(),
        message,
        not_http: false,
    })
}

/// How the end of a body is known.
#[derive(Clone, Copy)]
enum Framing {
    /// `Content-Length`.
    Length(usize),
    /// `Transfer-Encoding: chunked`: a last, empty chunk.
    Chunked,
    /// Neither: the connection's end is the body's.
    Close,
}

async fn read_body(
    sending: impl Future<Output = reqwest::Result<reqwest::Response>>,
    url: &str,
    max_bytes: usize,
    start: Instant,
) -> Result<Fetched, Failure> {
    let mut response = sending.await.map_err(|e| transport(url, &e))?;
    let status = response.status().as_u16();
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let content_type = header(reqwest::header::CONTENT_TYPE);
    let chunked = header(reqwest::header::TRANSFER_ENCODING)
        .to_ascii_lowercase()
        .contains("chunked");
    let too_large = || {
        Failure::Other(FetchError::TooLarge {
            url: url.to_string(),
            limit: max_bytes,
        })
    };
    let framing = match response.content_length() {
        Some(length) => Framing::Length(length as usize),
        None if chunked => Framing::Chunked,
        None => Framing::Close,
    };
    let expected = match framing {
        Framing::Length(length) => length,
        _ => 0,
    };
    if expected > max_bytes {
        return Err(too_large());
    }
    // One buffer, sized up front when the server says how much comes: the parser then borrows
    // from it, and the connector hands it on without another copy.
    let mut body = Vec::with_capacity(expected.max(8 << 10));
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => return Err(cut_short(url, &e, body.len(), framing)),
        };
        if body.len() + chunk.len() > max_bytes {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    // hyper refuses a body that ends before its length or its last chunk; this check keeps
    // that guarantee whatever the client underneath does.
    if let Framing::Length(expected) = framing
        && body.len() != expected
    {
        return Err(Failure::Other(FetchError::Transport {
            url: url.to_string(),
            message: format!("the body was cut short: {} of {expected} bytes", body.len()),
            not_http: false,
        }));
    }
    let body = String::from_utf8(body).map_err(|_| {
        Failure::Other(FetchError::NotText {
            url: url.to_string(),
        })
    })?;
    Ok(Fetched {
        status,
        content_type,
        body,
        elapsed: start.elapsed(),
    })
}

/// The last cause of an [`error_chain`] (reqwest's own Display hides the causes):
/// `invalid HTTP version parsed`.
fn innermost(chain: &str) -> &str {
    chain.rsplit(": ").next().unwrap_or(chain)
}
