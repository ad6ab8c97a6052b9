//! Every TCP listener of the host: accepted sockets get TCP_NODELAY (gRPC writes a response as
//! a few small frames; with Nagle's algorithm on, the second waits for the client's delayed
//! ACK, ~40 ms per call), and a connection that opens with an HTTP/1.x request line (an operator
//! probing with curl) gets a short readable answer instead of HTTP/2 bytes.
//!
//! Connections are sorted in their own tasks, a bounded number at a time, so a client that
//! connects and sends nothing delays no one. Each connection handed on is registered in
//! [`Connections`], through which the host can close one whose client stopped reading.
//!
//! With TLS ([`ServerTls`]), a connection that is not an HTTP/1.x probe (a TLS ClientHello
//! starts with 0x16) does its handshake in its own task, within [`FIRST_BYTES_WITHIN`]; a
//! failed handshake is logged once with the peer and rustls' reason.

use crate::security::{PeerCertificate, ServerTls, tls::handshake_failure};
use futures::task::AtomicWaker;
use std::{
    collections::HashMap,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{Semaphore, mpsc},
};
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// Connections whose first bytes are still awaited.
const MAX_SORTING: usize = 1024;
/// Time a new connection has to send its first bytes, and then to finish its TLS handshake.
const FIRST_BYTES_WITHIN: Duration = Duration::from_secs(10);
/// Bytes that tell HTTP/1.x from HTTP/2's preface (`PRI * HTTP/2.0`) and TLS.
const SNIFF_BYTES: usize = 5;

/// What a listener serves, for the HTTP/1.x answer.
#[derive(Debug, Clone)]
pub struct Greeting {
    /// The body of the HTTP/1.x answer.
    pub text: String,
    /// Whether the server behind speaks HTTP/1.x itself (the metrics listener): then no
    /// connection is answered here, every one is handed on.
    pub serves_http1: bool,
}

impl Greeting {
    /// The answer of a gRPC listener at `address`, with TLS or without.
    pub fn grpc_at(address: SocketAddr, tls: bool) -> Greeting {
        if tls {
            Greeting::grpc_tls(address)
        } else {
            Greeting::grpc(address)
        }
    }

    /// The answer of a gRPC listener at `address`.
    pub fn grpc(address: SocketAddr) -> Greeting {
        Greeting {
            text: format!(
                "This is dbmon's gRPC endpoint: it speaks HTTP/2 (gRPC), not HTTP/1.1.\n\
                 Use the dbmon CLI:   dbmon --server http://{address} clusters\n\
                 or any gRPC client:  grpcurl -plaintext {address} list\n\
                 Health probes:       grpc_health_probe -addr={address}\n"
            ),
            serves_http1: false,
        }
    }

    /// The answer of a gRPC listener with TLS at `address`.
    pub fn grpc_tls(address: SocketAddr) -> Greeting {
        Greeting {
            text: format!(
                "This is dbmon's gRPC endpoint: it speaks gRPC over TLS, not plaintext HTTP/1.1.\n\
                 Use the dbmon CLI:   dbmon --server https://{address} --ca CA.pem clusters\n\
                 or any gRPC client:  grpcurl -cacert CA.pem {address} list\n\
                 Health probes:       grpc_health_probe -tls -tls-ca-cert CA.pem -addr={address}\n"
            ),
            serves_http1: false,
        }
    }

    /// A listener whose server speaks HTTP/1.1 and HTTP/2 (`/metrics` and the status page):
    /// connections are handed on as they come (after their TLS handshake).
    pub fn http() -> Greeting {
        Greeting {
            text: String::new(),
            serves_http1: true,
        }
    }
}

/// The open connections of a listener, by the client's address.
#[derive(Debug, Clone, Default)]
pub struct Connections(Arc<Mutex<HashMap<SocketAddr, Arc<Closer>>>>);

impl Connections {
    /// Closes the connection of `peer`: its next read or write fails, so the HTTP/2 server
    /// drops it with every call on it. False when there is no such connection.
    pub fn close(&self, peer: SocketAddr) -> bool {
        let closer = self.lock().get(&peer).cloned();
        closer.is_some_and(|c| {
            c.closed.store(true, Ordering::Release);
            c.read.wake();
            c.write.wake();
            true
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Arc<Closer>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn register(&self, stream: Stream, peer: SocketAddr) -> Conn {
        let closer = Arc::new(Closer::default());
        self.lock().insert(peer, Arc::clone(&closer));
        Conn {
            stream,
            peer,
            closer,
            connections: self.clone(),
        }
    }
}

/// A connection's bytes: plain TCP, or TLS over it.
#[derive(Debug)]
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => tls.get_ref().0,
        }
    }
}

/// What the HTTP/2 server learns of a connection (tonic's `Connected::ConnectInfo`): its
/// addresses and, with TLS, the client's certificate. The auth layer
/// ([`crate::security::AuthLayer`]) turns it into the extensions handlers read.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// Local and remote addresses.
    pub tcp: TcpConnectInfo,
    /// The verified client certificate, when the client presented one.
    pub client: Option<Arc<PeerCertificate>>,
}

#[derive(Debug, Default)]
struct Closer {
    closed: AtomicBool,
    read: AtomicWaker,
    write: AtomicWaker,
}

/// An accepted connection that [`Connections::close`] can end.
#[derive(Debug)]
pub struct Conn {
    stream: Stream,
    peer: SocketAddr,
    closer: Arc<Closer>,
    connections: Connections,
}

impl Conn {
    fn check(&self, waker: &AtomicWaker, cx: &Context<'_>) -> io::Result<()> {
        // Registered before the check, so that a close in between still wakes this task.
        waker.register(cx.waker());
        if self.closer.closed.load(Ordering::Acquire) {
            Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "closed by the host: its client stopped reading",
            ))
        } else {
            Ok(())
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let mut open = self.connections.lock();
        if open
            .get(&self.peer)
            .is_some_and(|c| Arc::ptr_eq(c, &self.closer))
        {
            open.remove(&self.peer);
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check(&this.closer.read, cx)?;
        match &mut this.stream {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check(&this.closer.write, cx)?;
        match &mut this.stream {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check(&this.closer.write, cx)?;
        match &mut this.stream {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.stream {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check(&this.closer.write, cx)?;
        match &mut this.stream {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl Connected for Conn {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> ConnInfo {
        let client = match &self.stream {
            Stream::Plain(_) => None,
            Stream::Tls(tls) => tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(|leaf| PeerCertificate::from_der(leaf))
                .map(Arc::new),
        };
        ConnInfo {
            tcp: self.stream.tcp().connect_info(),
            client,
        }
    }
}

/// Accepted connections ready for an HTTP/2 server (after their TLS handshake with `tls`),
/// registered in `connections`, until the stream is dropped or the [`Rebind`] (which moves
/// the listener to another socket) is dropped.
pub fn incoming(
    listener: TcpListener,
    greeting: Greeting,
    connections: Connections,
    tls: Option<Arc<ServerTls>>,
) -> (ReceiverStream<io::Result<Conn>>, Rebind) {
    let (tx, rx) = mpsc::channel(64);
    let accepting = tokio::spawn(accept_loop(
        listener,
        Arc::new(greeting),
        connections.clone(),
        tls.clone(),
        tx.clone(),
    ));
    let rebind = Rebind {
        tx,
        connections,
        tls,
        accepting: Mutex::new(accepting),
    };
    (ReceiverStream::new(rx), rebind)
}

/// Where a listener accepts, movable while it serves (a reload's new `listen:`): the
/// connections accepted on the old socket go on, new ones come from the new socket. Dropping
/// it stops the accepting; the stream of connections ends once the last one is handed on.
#[derive(Debug)]
pub struct Rebind {
    tx: mpsc::Sender<io::Result<Conn>>,
    connections: Connections,
    tls: Option<Arc<ServerTls>>,
    accepting: Mutex<tokio::task::JoinHandle<()>>,
}

impl Rebind {
    /// Accepts on `listener` from now on (greeting HTTP/1.x probes with `greeting`), and no
    /// longer on the socket before, which is closed when this returns (so that a next move
    /// may take its address again).
    pub async fn to(&self, listener: TcpListener, greeting: Greeting) {
        let accepting = tokio::spawn(accept_loop(
            listener,
            Arc::new(greeting),
            self.connections.clone(),
            self.tls.clone(),
            self.tx.clone(),
        ));
        let old = {
            let mut current = self.accepting.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::replace(&mut *current, accepting)
        };
        old.abort();
        // The aborted task drops its socket as it ends.
        let _ = old.await;
    }
}

impl Drop for Rebind {
    fn drop(&mut self) {
        self.accepting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    greeting: Arc<Greeting>,
    connections: Connections,
    tls: Option<Arc<ServerTls>>,
    tx: mpsc::Sender<io::Result<Conn>>,
) {
    let sorting = Arc::new(Semaphore::new(MAX_SORTING));
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = tx.closed() => return,
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY on the connection of {peer}: {e}");
        }
        let Ok(permit) = Arc::clone(&sorting).try_acquire_owned() else {
            // Many silent connections: the HTTP/2 server takes this one as it comes, unsorted,
            // rather than refusing anyone (after its handshake, bounded in time, with TLS).
            match &tls {
                None => {
                    let _ = tx
                        .send(Ok(connections.register(Stream::Plain(stream), peer)))
                        .await;
                }
                Some(tls) => {
                    let (tx, tls, connections) = (tx.clone(), Arc::clone(tls), connections.clone());
                    tokio::spawn(async move {
                        if let Some(stream) = handshake(&tls, stream, peer).await {
                            let _ = tx.send(Ok(connections.register(stream, peer))).await;
                        }
                    });
                }
            }
            continue;
        };
        let tx = tx.clone();
        let greeting = Arc::clone(&greeting);
        let connections = connections.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let kind = if greeting.serves_http1 {
                Ok(Ok(Opening::Other))
            } else {
                tokio::time::timeout(FIRST_BYTES_WITHIN, sniff(&stream)).await
            };
            match kind {
                Ok(Ok(Opening::Http1)) => {
                    drop(permit);
                    answer_http1(stream, &greeting, peer).await
                }
                Ok(Ok(Opening::Other)) => {
                    let stream = match &tls {
                        None => Some(Stream::Plain(stream)),
                        Some(tls) => handshake(tls, stream, peer).await,
                    };
                    drop(permit);
                    if let Some(stream) = stream {
                        let _ = tx.send(Ok(connections.register(stream, peer))).await;
                    }
                }
                Ok(Err(e)) => tracing::debug!("connection of {peer}: {e}"),
                Err(_) => tracing::debug!(
                    "connection of {peer} sent nothing within {FIRST_BYTES_WITHIN:?}"
                ),
            }
        });
    }
}

/// The TLS handshake of `stream`, within [`FIRST_BYTES_WITHIN`]; `None` (logged) when it
/// fails.
async fn handshake(tls: &ServerTls, stream: TcpStream, peer: SocketAddr) -> Option<Stream> {
    let mut first = [0u8; 1];
    if matches!(stream.peek(&mut first).await, Ok(1)) && first[0] != 0x16 {
        tracing::info!(
            "connection of {peer}: not TLS (plaintext gRPC to a TLS listener? use https://)"
        );
        return None;
    }
    let accept = tls.acceptor().accept(stream);
    match tokio::time::timeout(FIRST_BYTES_WITHIN, accept).await {
        Ok(Ok(stream)) => Some(Stream::Tls(Box::new(stream))),
        Ok(Err(e)) => {
            tracing::info!(
                "TLS handshake with {peer} failed: {}",
                handshake_failure(&e)
            );
            None
        }
        Err(_) => {
            tracing::info!("TLS handshake with {peer} unfinished within {FIRST_BYTES_WITHIN:?}");
            None
        }
    }
}

enum Opening {
    Http1,
    /// HTTP/2, or anything the HTTP/2 server should answer itself.
    Other,
}

async fn sniff(stream: &TcpStream) -> io::Result<Opening> {
    let mut buf = [0u8; SNIFF_BYTES];
    loop {
        let n = stream.peek(&mut buf).await?;
        if n == 0 {
            return Ok(Opening::Other);
        }
        let head = &buf[..n];
        let is_token = |b: &u8| b.is_ascii_uppercase();
        // An HTTP/1.x request line starts with a method in capitals and a space; HTTP/2's
        // preface is `PRI * HTTP/2.0`.
        if head.starts_with(b"PRI ") || !head.iter().take_while(|b| **b != b' ').all(is_token) {
            return Ok(Opening::Other);
        }
        if let Some(space) = head.iter().position(|b| *b == b' ') {
            return Ok(if space > 0 {
                Opening::Http1
            } else {
                Opening::Other
            });
        }
        if n == SNIFF_BYTES {
            // A long method name: still HTTP/1.x-shaped.
            return Ok(Opening::Http1);
        }
        // Only part of the first packet: wait for the rest.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn answer_http1(mut stream: TcpStream, greeting: &Greeting, peer: SocketAddr) {
    tracing::debug!("answered an HTTP/1.x request of {peer} with a pointer to gRPC");
    let body = &greeting.text;
    let response = format!(
        "HTTP/1.1 426 Upgrade Required\r\nUpgrade: h2c\r\nConnection: close\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let answer = async {
        // Read what was sent first: closing with unread bytes would reset the connection and
        // the client might not see the answer.
        let mut request = [0u8; 8192];
        let _ = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut request)).await;
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), answer).await;
}
