//! A loopback HTTP/1.1 server with replies the test sets and changes while it runs. Small on
//! purpose: keep-alive, Content-Length bodies, and a record of what was asked.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
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
struct State {
    replies: HashMap<String, Reply>,
    handler: Option<Handler>,
    requests: Vec<Request>,
}

/// A running server; it stops when dropped.
pub struct HttpServer {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
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
                tokio::spawn(serve_connection(stream, Arc::clone(&shared)));
            }
        });
        HttpServer { addr, state, task }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
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
    }
}

async fn serve_connection(mut stream: TcpStream, state: Arc<Mutex<State>>) {
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
        if stream.write_all(head.as_bytes()).await.is_err()
            || stream.write_all(&reply.body).await.is_err()
        {
            return;
        }
    }
}

async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Request> {
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
