//! A loopback HTTP/1.1 server with replies the test sets and changes while it runs. Small on
//! purpose: keep-alive, Content-Length bodies, and a record of what was asked.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::TcpListener,
};

/// What the server answers on one path.
#[derive(Clone, Debug)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// Content-Type.
    pub content_type: String,
    /// Body.
    pub body: Arc<Vec<u8>>,
    /// Wait this long before answering.
    pub delay: Duration,
}

impl Reply {
    /// 200 with a text body.
    pub fn text(body: impl Into<String>) -> Reply {
        Reply {
            status: 200,
            content_type: "text/plain; version=0.0.4".into(),
            body: Arc::new(body.into().into_bytes()),
            delay: Duration::ZERO,
        }
    }

    /// 200 with a JSON body.
    pub fn json(body: impl Into<String>) -> Reply {
        Reply {
            content_type: "application/json".into(),
            ..Reply::text(body)
        }
    }

    /// The same reply with another status.
    pub fn with_status(mut self, status: u16) -> Reply {
        self.status = status;
        self
    }

    /// The same reply after a delay.
    pub fn with_delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// One request the server received.
#[derive(Clone, Debug)]
pub struct Request {
    /// GET, POST, ...
    pub method: String,
    /// Path with query.
    pub path: String,
    /// Header names lowercased.
    pub headers: HashMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
}

type Handler = Arc<dyn Fn(&Request) -> Option<Reply> + Send + Sync>;

#[derive(Default)]
pub(crate) struct State {
    replies: HashMap<String, Reply>,
    handler: Option<Handler>,
    requests: Vec<Request>,
    /// Open connections, closed when the server is dropped (a client's pooled keep-alive
    /// connection must not outlive the server).
    connections: Vec<tokio::task::AbortHandle>,
}

/// Runs one connection's task and remembers it, so that dropping the server closes it.
pub(crate) fn track(state: &Mutex<State>, connection: impl Future<Output = ()> + Send + 'static) {
    let handle = tokio::spawn(connection).abort_handle();
    let mut state = state.lock().unwrap();
    state.connections.retain(|c| !c.is_finished());
    state.connections.push(handle);
}

/// A running server; it stops when dropped.
pub struct HttpServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http` or `https`.
    pub(crate) scheme: &'static str,
    pub(crate) state: Arc<Mutex<State>>,
    pub(crate) task: tokio::task::JoinHandle<()>,
}

impl HttpServer {
    /// Starts on a free loopback port, inside the current tokio runtime.
    pub async fn start() -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                track(&shared, serve_connection(stream, Arc::clone(&shared)));
            }
        });
        HttpServer {
            addr,
            scheme: "http",
            state,
            task,
        }
    }

    /// `http://127.0.0.1:PORT` + `path` (`https://` for a server started with
    /// [`start_tls`](HttpServer::start_tls)).
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.addr)
    }

    /// Answers requests for `path` (without query) with `reply` from now on.
    pub fn set(&self, path: &str, reply: Reply) {
        self.state
            .lock()
            .unwrap()
            .replies
            .insert(path.to_string(), reply);
    }

    /// Answers with `handler` first; when it returns `None`, the fixed replies apply.
    pub fn set_handler(&self, handler: impl Fn(&Request) -> Option<Reply> + Send + Sync + 'static) {
        self.state.lock().unwrap().handler = Some(Arc::new(handler));
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    /// How many requests asked for `path` (without query).
    pub fn hits(&self, path: &str) -> usize {
        let state = self.state.lock().unwrap();
        state
            .requests
            .iter()
            .filter(|r| r.path.split('?').next() == Some(path))
            .count()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
        if let Ok(state) = self.state.lock() {
            for connection in &state.connections {
                connection.abort();
            }
        }
    }
}

/// Serves one connection, plain or TLS, until the client closes it.
pub(crate) async fn serve_connection<S>(mut stream: S, state: Arc<Mutex<State>>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buffer = Vec::with_capacity(4096);
    loop {
        let Some(request) = read_request(&mut stream, &mut buffer).await else {
            return;
        };
        let reply = {
            let mut state = state.lock().unwrap();
            state.requests.push(request.clone());
            let path = request.path.split('?').next().unwrap_or("");
            state
                .handler
                .as_ref()
                .and_then(|h| h(&request))
                .or_else(|| state.replies.get(path).cloned())
        };
        let reply = reply.unwrap_or_else(|| Reply::text("not found\n").with_status(404));
        if !reply.delay.is_zero() {
            tokio::time::sleep(reply.delay).await;
        }
        let head = format!(
            "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
            reply.status,
            reply.content_type,
            reply.body.len()
        );
        // A TLS stream holds records until flushed.
        if stream.write_all(head.as_bytes()).await.is_err()
            || stream.write_all(&reply.body).await.is_err()
            || stream.flush().await.is_err()
        {
            return;
        }
    }
}

async fn read_request<S>(stream: &mut S, buffer: &mut Vec<u8>) -> Option<Request>
where
    S: AsyncRead + Unpin,
{
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = buffer[head_end..head_end + length].to_vec();
    buffer.drain(..head_end + length);
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}
