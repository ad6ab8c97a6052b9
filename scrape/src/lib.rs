//! HTTP(S) for connectors that scrape endpoints (prometheus, cockroachdb, etcd, ...): one
//! client per cluster ([`client`]), built from the cluster's `tls:` settings with rustls, and
//! requests whose body reads stop at a size limit and at the collection's deadline.

mod client;
mod pool;
mod tls;
mod url;

pub use client::{Client, READ_BUFFER_BYTES, Request, client};
pub use tls::client_config;
pub use url::{endpoint_url, same_listener};

/// The URL type endpoints are parsed into.
pub use ::url::Url;
/// The HTTP types requests are made of, so that connectors name the same version.
pub use http::{HeaderMap, HeaderName, HeaderValue, Method, header};

use dbmon_connector_api::error_chain;
use std::{
    error::Error as StdError,
    time::{Duration, Instant},
};

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

impl FetchError {
    /// `METHOD url: what failed`, as a reason names a failed request: the words of
    /// [`FetchError`]'s own text, with the method and "answer" for "body".
    pub fn reason(&self, method: &str) -> String {
        match self {
            FetchError::Transport { url, message, .. } => format!("{method} {url}: {message}"),
            FetchError::Timeout { url, after_ms } => {
                format!("{method} {url}: no answer within {after_ms} ms")
            }
            FetchError::TooLarge { url, limit } => {
                format!("{method} {url}: answer larger than {limit} bytes")
            }
            FetchError::NotText { url } => format!("{method} {url}: answer is not UTF-8 text"),
        }
    }
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

/// GETs `url`, reading at most `max_bytes`, giving up at `deadline`.
pub async fn get(
    client: &Client,
    url: &str,
    deadline: Instant,
    max_bytes: usize,
) -> Result<Fetched, FetchError> {
    send(client.get(url), url, deadline, max_bytes).await
}

/// Redirects followed before a request is given up (reqwest's and browsers' limit).
const MAX_REDIRECTS: usize = 10;

/// Sends a prepared request (a POST, extra headers), with the same limits as [`get`].
///
/// Redirects (301, 302, 303, 307, 308) are followed, up to ten. A GET or HEAD that the server
/// hangs up on before answering is sent once more, over a new connection: a keep-alive
/// connection the server closed while idle fails that way too, and only a new connection tells
/// that from a server that is not HTTP. Other methods are not, as the server may have acted on
/// them.
pub async fn send(
    request: Request,
    url: &str,
    deadline: Instant,
    max_bytes: usize,
) -> Result<Fetched, FetchError> {
    let start = Instant::now();
    let budget = deadline.saturating_duration_since(start);
    let read = async {
        let mut request = request;
        for _ in 0..=MAX_REDIRECTS {
            let (response, conn) = respond(&request, url).await?;
            match redirect(&request, &response) {
                // The redirect's connection closes with its unread body.
                Some(next) => request = next,
                None => return read_body(&request, response, conn, url, max_bytes, start).await,
            }
        }
        Err(Failure::Other(FetchError::Transport {
            url: url.to_string(),
            message: format!("more than {MAX_REDIRECTS} redirects"),
            not_http: false,
        }))
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

type Response = http::Response<hyper::body::Incoming>;

/// The answer's head and the connection it came on, from a kept connection or, after a
/// hang-up, a new one.
async fn respond(request: &Request, url: &str) -> Result<(Response, pool::Conn), Failure> {
    let first = attempt(request, url, false).await;
    let repeatable = matches!(*request.method(), Method::GET | Method::HEAD);
    match first {
        Err(Failure::Closed(_)) if repeatable => attempt(request, url, true)
            .await
            .map_err(Failure::on_new_connection),
        result => result,
    }
}

async fn attempt(
    request: &Request,
    url: &str,
    fresh: bool,
) -> Result<(Response, pool::Conn), Failure> {
    let (uri, built) = request.build().map_err(|message| {
        Failure::Other(FetchError::Transport {
            url: url.to_string(),
            message,
            not_http: false,
        })
    })?;
    let pool = request.client().pool();
    let mut conn = pool
        .connection(&uri, fresh)
        .await
        .map_err(|e| transport(url, &*e))?;
    let response = conn.exchange(built).await.map_err(|e| transport(url, &e))?;
    Ok((response, conn))
}

/// The request a redirect answer leads to, if it is one.
fn redirect(request: &Request, response: &Response) -> Option<Request> {
    let status = response.status().as_u16();
    if !matches!(status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = response.headers().get(header::LOCATION)?.to_str().ok()?;
    request.redirected(status, location)
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

/// How a failure before the answer reads, from the error's own types.
enum Cause {
    /// The server closed the connection (or reset it) before it answered.
    Closed,
    /// What came back is not HTTP (or not TLS).
    NotHttp,
    /// An HTTP head larger than a connection's read buffer.
    HeadTooLarge,
    /// Anything else: refused, no route, a certificate, ...
    Other,
}

fn cause(e: &(dyn StdError + 'static)) -> Cause {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(e) = e.downcast_ref::<hyper::Error>() {
            // A server that hangs up before the request is even sent (a greeting and a close)
            // makes hyper cancel it instead: "connection was not ready".
            if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
                return Cause::Closed;
            }
            // A server that speaks first (SSH's greeting) sends hyper an unsolicited message;
            // hyper has no accessor for that kind, only its description.
            // hyper has no accessor for this kind either (only servers get one).
            if e.to_string() == "message head is too large" {
                return Cause::HeadTooLarge;
            }
            if e.is_parse()
                || e.is_parse_status()
                || e.to_string() == "received unexpected message from connection"
            {
                return Cause::NotHttp;
            }
        }
        if let Some(e) = e.downcast_ref::<std::io::Error>() {
            if e.kind() == std::io::ErrorKind::ConnectionReset {
                return Cause::Closed;
            }
            // An io::Error's source() skips the error it wraps (rustls's, through tokio-rustls).
            if let Some(inner) = e.get_ref() {
                next = Some(inner);
                continue;
            }
        }
        if let Some(e) = e.downcast_ref::<rustls::Error>()
            && matches!(
                e,
                rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. }
            )
        {
            return Cause::NotHttp;
        }
        next = e.source();
    }
    Cause::Other
}

fn transport(url: &str, e: &(dyn StdError + 'static)) -> Failure {
    let message = error_chain(e);
    // Before any answer: PostgreSQL, for one, hangs up on a request (with a reset when it left
    // part of it unread).
    let not_http = match cause(e) {
        Cause::Closed => return Failure::Closed(message),
        Cause::NotHttp => true,
        Cause::HeadTooLarge => {
            return Failure::Other(FetchError::Transport {
                url: url.to_string(),
                message: format!(
                    "the answer's status line and headers are larger than {} KiB",
                    READ_BUFFER_BYTES >> 10
                ),
                not_http: false,
            });
        }
        Cause::Other => false,
    };
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
fn cut_short(url: &str, e: &hyper::Error, read: usize, framing: Framing) -> Failure {
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
    request: &Request,
    response: Response,
    mut conn: pool::Conn,
    url: &str,
    max_bytes: usize,
    start: Instant,
) -> Result<Fetched, Failure> {
    let status = response.status().as_u16();
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let content_type = header(header::CONTENT_TYPE);
    let chunked = header(header::TRANSFER_ENCODING)
        .to_ascii_lowercase()
        .contains("chunked");
    let mut response = response.into_body();
    let too_large = || {
        Failure::Other(FetchError::TooLarge {
            url: url.to_string(),
            limit: max_bytes,
        })
    };
    // What hyper makes of the framing: no body for a HEAD or a 204, whatever the headers say.
    let framing = match hyper::body::Body::size_hint(&response).exact() {
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
        let chunk = match conn.frame(&mut response).await {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(chunk) => chunk,
                Err(_trailers) => continue,
            },
            None => break,
            Some(Err(e)) => return Err(cut_short(url, &e, body.len(), framing)),
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
    request.client().pool().put_back(conn);
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

/// The last cause of an [`error_chain`]:
/// `invalid HTTP version parsed`.
fn innermost(chain: &str) -> &str {
    chain.rsplit(": ").next().unwrap_or(chain)
}
