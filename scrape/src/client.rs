//! The HTTP client of one cluster: HTTP/1.1 over rustls with a bounded read buffer
//! ([`crate::pool`]), and the requests connectors build with it.
//!
//! Not reqwest, for memory: hyper lets a connection's read buffer grow to ~400 KB on a large
//! body and keeps it while the connection idles in the pool, which was 71 % of the heap of a
//! host scraping 200 clusters (BENCHMARKS.md §9), and reqwest does not expose the bound.

use crate::{pool::Pool, tls};
use base64::{Engine, engine::general_purpose::STANDARD};
use bytes::Bytes;
use dbmon_connector_api::{ConfigError, TlsConfig};
use http::{
    HeaderMap, HeaderName, HeaderValue, Method, Request as HttpRequest, Uri,
    header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST},
    uri::PathAndQuery,
};
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use std::sync::{Arc, OnceLock};

/// The most a connection's read buffer grows to, kept while the connection idles. An answer's
/// head must fit in it; a body streams through it, a read at a time. hyper's default is
/// ~400 KB. At 200 clusters with 190 KB bodies, 16 KB made dbmon's RSS 38 MiB against 62 with
/// 64 KB, for a few more reads per body (BENCHMARKS.md §9).
pub const READ_BUFFER_BYTES: usize = 16 << 10;

/// The HTTP client of one cluster. Cloning shares its connections.
///
/// It speaks HTTP/1.1, over TLS for `https://` URLs, and reads no proxy settings from the
/// environment: a connector talks to the endpoints it is given. [`crate::send`] follows
/// redirects.
#[derive(Clone, Debug)]
pub struct Client {
    pool: Arc<Pool>,
}

/// Builds the HTTP client of one cluster: rustls with the configured CA (or the system's
/// roots), an optional client certificate, and certificate checks off only when asked.
pub fn client(tls: Option<&TlsConfig>) -> Result<Client, ConfigError> {
    let config = tls_config(tls)?;
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    // `https_or_http` (the builder's name for it): plain `http://` URLs go through as they are.
    let connector = hyper_rustls::HttpsConnector::from((http, config));
    Ok(Client {
        pool: Arc::new(Pool::new(connector, READ_BUFFER_BYTES)),
    })
}

/// The rustls settings of a client, offering HTTP/1.1 by ALPN. Clusters without TLS files
/// share one: a `ClientConfig` holds a session cache sized for 256 servers (~14 KB), and one
/// per cluster was 2.8 MB of a host scraping 200 clusters (BENCHMARKS.md §9). A cluster with
/// files of its own reads them when its client is made, so that a reload picks up new ones.
fn tls_config(tls: Option<&TlsConfig>) -> Result<Arc<rustls::ClientConfig>, ConfigError> {
    fn with_alpn(mut config: rustls::ClientConfig) -> Arc<rustls::ClientConfig> {
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
    let no_files = tls.is_none_or(|t| t.ca.is_none() && t.cert.is_none() && t.key.is_none());
    if !no_files {
        return Ok(with_alpn(tls::client_config(tls)?));
    }
    let insecure = tls.is_some_and(|t| t.insecure_skip_verify);
    static SHARED: [OnceLock<Arc<rustls::ClientConfig>>; 2] = [OnceLock::new(), OnceLock::new()];
    let slot = &SHARED[usize::from(insecure)];
    if let Some(config) = slot.get() {
        return Ok(Arc::clone(config));
    }
    let config = with_alpn(tls::client_config(tls)?);
    Ok(Arc::clone(slot.get_or_init(|| config)))
}

impl Client {
    /// A GET of `url`.
    pub fn get(&self, url: impl AsRef<str>) -> Request {
        self.request(Method::GET, url)
    }

    /// A POST to `url`.
    pub fn post(&self, url: impl AsRef<str>) -> Request {
        self.request(Method::POST, url)
    }

    /// A request of any method.
    pub fn request(&self, method: Method, url: impl AsRef<str>) -> Request {
        let url = url.as_ref();
        let uri = url::Url::parse(url)
            .map_err(|e| format!("not a valid URL: {e}"))
            .and_then(|u| {
                http::Uri::try_from(u.as_str()).map_err(|e| format!("not a valid URL: {e}"))
            });
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
        Request {
            client: self.clone(),
            method,
            uri,
            headers,
            body: Bytes::new(),
        }
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }
}

/// A request being built; [`crate::send`] sends it. A header or URL that is not valid makes
/// the send fail with a message that says so.
#[derive(Debug)]
pub struct Request {
    client: Client,
    method: Method,
    uri: Result<http::Uri, String>,
    headers: HeaderMap,
    body: Bytes,
}

impl Request {
    /// Sets header `name` (replacing one of that name).
    pub fn header<K, V>(mut self, name: K, value: V) -> Request
    where
        K: TryInto<HeaderName>,
        V: TryInto<HeaderValue>,
    {
        match (name.try_into(), value.try_into()) {
            (Ok(name), Ok(value)) => {
                self.headers.insert(name, value);
            }
            _ => self.uri = Err("a header name or value is not valid".to_string()),
        }
        self
    }

    /// Sets every header of `headers`.
    pub fn headers(mut self, headers: HeaderMap) -> Request {
        for (name, value) in headers {
            if let Some(name) = name {
                self.headers.insert(name, value);
            }
        }
        self
    }

    /// HTTP basic authentication; the header is marked sensitive.
    pub fn basic_auth(self, username: &str, password: Option<&str>) -> Request {
        let token = STANDARD.encode(format!("{username}:{}", password.unwrap_or("")));
        match HeaderValue::try_from(format!("Basic {token}")) {
            Ok(mut value) => {
                value.set_sensitive(true);
                self.header(AUTHORIZATION, value)
            }
            Err(_) => self,
        }
    }

    /// The body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Request {
        self.body = body.into();
        self
    }

    pub(crate) fn method(&self) -> &Method {
        &self.method
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// The request a redirect (status `status`, `Location: location`) leads to, as browsers
    /// and reqwest make it: a 303, and a 301 or 302 after a POST, become a GET without the
    /// body; credentials and cookies stay behind when the redirect leaves the origin. `None`
    /// when the location is not an http(s) URL.
    pub(crate) fn redirected(&self, status: u16, location: &str) -> Option<Request> {
        let base = url::Url::parse(&self.uri.as_ref().ok()?.to_string()).ok()?;
        let next = base.join(location).ok()?;
        if !matches!(next.scheme(), "http" | "https") {
            return None;
        }
        let uri = http::Uri::try_from(next.as_str()).ok()?;
        let mut headers = self.headers.clone();
        if next.origin() != base.origin() {
            headers.remove(AUTHORIZATION);
            headers.remove(COOKIE);
        }
        let to_get = match status {
            303 => self.method != Method::HEAD,
            301 | 302 => self.method == Method::POST,
            _ => false,
        };
        let (method, body) = match to_get {
            true => {
                headers.remove(CONTENT_TYPE);
                headers.remove(CONTENT_LENGTH);
                (Method::GET, Bytes::new())
            }
            false => (self.method.clone(), self.body.clone()),
        };
        Some(Request {
            client: self.client.clone(),
            method,
            uri: Ok(uri),
            headers,
            body,
        })
    }

    /// The URL to connect to, and the request to send over the connection (origin-form,
    /// with `Host`); the builder stays, for a second try.
    pub(crate) fn build(&self) -> Result<(Uri, HttpRequest<Full<Bytes>>), String> {
        let uri = self.uri.clone()?;
        let authority = uri.authority().ok_or("the URL has no host")?;
        let host = HeaderValue::try_from(authority.as_str()).map_err(|e| e.to_string())?;
        let path = uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let mut request = HttpRequest::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = Uri::from(path);
        *request.headers_mut() = self.headers.clone();
        request.headers_mut().entry(HOST).or_insert(host);
        Ok((uri, request))
    }
}
