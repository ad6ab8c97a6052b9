//! The connections of one client: opened through the rustls connector, kept idle per endpoint,
//! and driven by the request that uses them instead of by a task of their own.
//!
//! hyper-util's pooled client runs each connection as a task, on the connector library's
//! runtime, while the host's worker polls the collection: every request, answer and body chunk
//! then crossed between two threads (a wake-up each way; BENCHMARKS.md §9). Here the future
//! that sends a request polls its connection too, so the library's runtime only tells it that
//! the socket is ready.

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::Full;
use hyper::{
    body::{Body, Frame, Incoming},
    client::conn::http1,
};
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::{client::legacy::connect::HttpConnector, rt::TokioIo};
use std::{
    collections::HashMap,
    future::{Future, poll_fn},
    pin::{Pin, pin},
    sync::Mutex,
    task::{Context, Poll},
    time::{Duration, Instant},
};
use tokio::net::TcpStream;
use tower_service::Service;

pub(crate) type Connector = HttpsConnector<HttpConnector>;
type Io = MaybeHttpsStream<TokioIo<TcpStream>>;
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Idle connections kept per endpoint: a collection may send a few requests to one node at
/// once.
const IDLE_PER_ENDPOINT: usize = 4;

/// How long an idle connection is kept (reqwest's and hyper-util's default).
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Which connections can serve a request: same scheme, same host and port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Endpoint {
    https: bool,
    authority: String,
}

impl Endpoint {
    fn of(uri: &Uri) -> Endpoint {
        Endpoint {
            https: uri.scheme_str() == Some("https"),
            authority: uri.authority().map_or("", |a| a.as_str()).to_string(),
        }
    }
}

/// Connections to the endpoints of one cluster.
pub(crate) struct Pool {
    connector: Connector,
    handshake: http1::Builder,
    idle: Mutex<HashMap<Endpoint, Vec<(Conn, Instant)>>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").finish_non_exhaustive()
    }
}

impl Pool {
    /// A pool whose connections' read buffers grow to `read_buffer_bytes` at most.
    pub(crate) fn new(connector: Connector, read_buffer_bytes: usize) -> Pool {
        let mut handshake = http1::Builder::new();
        handshake.max_buf_size(read_buffer_bytes);
        Pool {
            connector,
            handshake,
            idle: Mutex::new(HashMap::new()),
        }
    }

    /// A connection to `uri`'s endpoint: an idle one that is still open, or (always when
    /// `fresh`) a new one.
    pub(crate) async fn connection(&self, uri: &Uri, fresh: bool) -> Result<Conn, BoxError> {
        let endpoint = Endpoint::of(uri);
        if !fresh {
            while let Some((mut conn, since)) = self.checkout(&endpoint) {
                if since.elapsed() < IDLE_TIMEOUT && conn.still_open().await {
                    return Ok(conn);
                }
            }
        }
        let io = self.connector.clone().call(uri.clone()).await?;
        let (sender, driver) = self.handshake.handshake(io).await?;
        Ok(Conn {
            sender,
            driver,
            ended: false,
            endpoint,
        })
    }

    fn checkout(&self, endpoint: &Endpoint) -> Option<(Conn, Instant)> {
        self.idle.lock().unwrap().get_mut(endpoint)?.pop()
    }

    /// Keeps `conn` for the next request to its endpoint, if it can serve one.
    pub(crate) fn put_back(&self, conn: Conn) {
        if conn.ended || conn.sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap();
        let kept = idle.entry(conn.endpoint.clone()).or_default();
        if kept.len() < IDLE_PER_ENDPOINT {
            kept.push((conn, Instant::now()));
        }
    }
}

/// One HTTP/1.1 connection, driven by whoever uses it.
pub(crate) struct Conn {
    sender: http1::SendRequest<Full<Bytes>>,
    driver: http1::Connection<Io, Full<Bytes>>,
    /// The connection ended (closed or failed): it is neither polled nor kept again.
    ended: bool,
    endpoint: Endpoint,
}

impl Conn {
    /// Sends `request` and drives the connection until the answer's head is in.
    pub(crate) async fn exchange(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> Result<Response<Incoming>, hyper::Error> {
        // The connection's own error says more than what it left the request ("closed"): a
        // greeting read while idle is an unexpected message, not a hang-up.
        poll_fn(|cx| {
            let failed = self.drive(cx);
            match (failed, self.sender.poll_ready(cx)) {
                (Some(e), Poll::Pending | Poll::Ready(Err(_))) => Poll::Ready(Err(e)),
                (_, ready) => ready,
            }
        })
        .await?;
        let mut answer = pin!(self.sender.send_request(request));
        poll_fn(|cx| {
            let failed = self.drive(cx);
            match (failed, answer.as_mut().poll(cx)) {
                (Some(e), Poll::Pending | Poll::Ready(Err(_))) => Poll::Ready(Err(e)),
                (_, ready) => ready,
            }
        })
        .await
    }

    /// The next frame of `body`, the answer's, driving the connection meanwhile.
    pub(crate) async fn frame(
        &mut self,
        body: &mut Incoming,
    ) -> Option<Result<Frame<Bytes>, hyper::Error>> {
        poll_fn(|cx| {
            // What the connection read last time first; then read more, and look again.
            if let Poll::Ready(frame) = Pin::new(&mut *body).poll_frame(cx) {
                return Poll::Ready(frame);
            }
            let failed = self.drive(cx);
            match (failed, Pin::new(&mut *body).poll_frame(cx)) {
                (Some(e), Poll::Pending | Poll::Ready(Some(Err(_)))) => Poll::Ready(Some(Err(e))),
                (_, ready) => ready,
            }
        })
        .await
    }

    /// Polls the connection once (it reads, writes, and notices a close); its error, if it
    /// failed.
    fn drive(&mut self, cx: &mut Context<'_>) -> Option<hyper::Error> {
        if self.ended {
            return None;
        }
        match self.driver.poll_without_shutdown(cx) {
            Poll::Pending => None,
            Poll::Ready(Ok(())) => {
                self.ended = true;
                None
            }
            Poll::Ready(Err(e)) => {
                self.ended = true;
                Some(e)
            }
        }
    }

    /// Whether an idle connection can take a request now: one poll reads the end of a
    /// connection the server closed meanwhile.
    async fn still_open(&mut self) -> bool {
        poll_fn(|cx| {
            let failed = self.drive(cx).is_some();
            let ready = matches!(self.sender.poll_ready(cx), Poll::Ready(Ok(())));
            Poll::Ready(!failed && !self.ended && ready)
        })
        .await
    }
}
