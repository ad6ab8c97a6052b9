//! HTTP(S) for connectors that scrape endpoints (prometheus, cockroachdb): one reqwest client
//! per cluster, built from the cluster's `tls:` settings with rustls, and body reads that stop
//! at a size limit and at the collection's deadline.

mod tls;

pub use tls::client_config;

/// The HTTP client crate, so that connectors name the same version.
pub use reqwest;

use dbmon_connector_api::{ConfigError, TlsConfig};
use std::time::{Duration, Instant};

/// Bodies larger than this are refused unless a connector asks for more.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 << 20;

/// Why a fetch failed, in words that name the URL.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Connecting, sending or receiving failed.
    #[error("GET {url}: {message}")]
    Transport {
        /// The URL.
        url: String,
        /// What failed (connection refused, certificate, ...).
        message: String,
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
pub async fn send(
    request: reqwest::RequestBuilder,
    url: &str,
    deadline: Instant,
    max_bytes: usize,
) -> Result<Fetched, FetchError> {
    let start = Instant::now();
    let budget = deadline.saturating_duration_since(start);
    let read = read_body(request, url, max_bytes, start);
    match tokio::time::timeout(budget, read).await {
        Ok(result) => result,
        Err(_) => Err(FetchError::Timeout {
            url: url.to_string(),
            after_ms: budget.as_millis(),
        }),
    }
}

async fn read_body(
    request: reqwest::RequestBuilder,
    url: &str,
    max_bytes: usize,
    start: Instant,
) -> Result<Fetched, FetchError> {
    let transport = |e: reqwest::Error| FetchError::Transport {
        url: url.to_string(),
        message: error_chain(&e),
    };
    let mut response = request.send().await.map_err(transport)?;
    let status = response.status().as_u16();
    let too_large = || FetchError::TooLarge {
        url: url.to_string(),
        limit: max_bytes,
    };
    let expected = response.content_length().unwrap_or(0) as usize;
    if expected > max_bytes {
        return Err(too_large());
    }
    // One buffer, sized up front when the server says how much comes: the parser then borrows
    // from it, and the connector hands it on without another copy.
    let mut body = Vec::with_capacity(expected.max(8 << 10));
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > max_bytes {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    let body = String::from_utf8(body).map_err(|_| FetchError::NotText {
        url: url.to_string(),
    })?;
    Ok(Fetched {
        status,
        body,
        elapsed: start.elapsed(),
    })
}

/// reqwest's own Display hides the cause ("error sending request"): spell out the chain.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        source = cause.source();
    }
    message
}
