//! A loopback HTTP/1.1 server that accepts every request, reads its body and throws it away:
//! the remote-write "storage" of a scraper that insists on having one (vmagent). Unlike
//! test-support's `HttpServer` it keeps nothing but counters, so a long run costs no memory.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// What the sink has received.
#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    body_bytes: AtomicU64,
}

/// A running sink; it stops accepting when dropped.
pub struct Sink {
    /// Where it listens.
    pub addr: SocketAddr,
    counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

impl Sink {
    /// Starts on a free loopback port, inside the current tokio runtime.
    pub async fn start() -> std::io::Result<Sink> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        let shared = Arc::clone(&counters);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(discard(stream, Arc::clone(&shared)));
            }
        });
        Ok(Sink {
            addr,
            counters,
            task,
        })
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Requests and body bytes received so far.
    pub fn received(&self) -> (u64, u64) {
        (
            self.counters.requests.load(Ordering::Relaxed),
            self.counters.body_bytes.load(Ordering::Relaxed),
        )
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Answers every request of one keep-alive connection with 204 after reading its
/// `Content-Length` body (or its chunked body), until the client closes it.
async fn discard(mut stream: TcpStream, counters: Arc<Counters>) {
    let mut buffer: Vec<u8> = Vec::with_capacity(64 * 1024);
    loop {
        let head_end = loop {
            if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if !fill(&mut stream, &mut buffer).await {
                return;
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
        buffer.drain(..head_end);
        let header = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(str::trim))
                .map(str::to_string)
        };
        let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            match chunked(&mut stream, &mut buffer).await {
                Some(n) => n,
                None => return,
            }
        } else {
            let length: usize = header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            while buffer.len() < length {
                if !fill(&mut stream, &mut buffer).await {
                    return;
                }
            }
            buffer.drain(..length);
            length
        };
        counters.requests.fetch_add(1, Ordering::Relaxed);
        counters
            .body_bytes
            .fetch_add(body as u64, Ordering::Relaxed);
        let reply = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n";
        if stream.write_all(reply).await.is_err() {
            return;
        }
    }
}

/// Reads a chunked body out of the stream; returns its length.
async fn chunked(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<usize> {
    let mut total = 0;
    loop {
        let line_end = loop {
            if let Some(at) = buffer.windows(2).position(|w| w == b"\r\n") {
                break at;
            }
            if !fill(stream, buffer).await {
                return None;
            }
        };
        let line = String::from_utf8_lossy(&buffer[..line_end]).to_string();
        let size = usize::from_str_radix(line.split(';').next()?.trim(), 16).ok()?;
        buffer.drain(..line_end + 2);
        // The chunk, then its CRLF (after the last, empty chunk: the trailer's end, assumed empty).
        while buffer.len() < size + 2 {
            if !fill(stream, buffer).await {
                return None;
            }
        }
        buffer.drain(..size + 2);
        total += size;
        if size == 0 {
            return Some(total);
        }
    }
}

/// Appends what the stream has; false at its end or on an error.
async fn fill(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 16 * 1024];
    match stream.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buffer.extend_from_slice(&chunk[..n]);
            true
        }
    }
}
