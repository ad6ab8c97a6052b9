//! One connection per endpoint, kept across collections: made when first needed, made again
//! when the server closed it, dropped when it did not answer in time. A collection costs one
//! round of queries, not a login, and a down server one connection attempt per collection.
//!
//! The connection is taken out of its slot while it is used and put back only after an
//! answer, so a query cut off (at the deadline, or by the host dropping the collection) never
//! leaves a connection with a reply still on its way for the next query to trip over: it is
//! closed instead, with a bounded goodbye (see [`Held`]).

use crate::endpoint::Endpoint;
use dbmon_connector_api::Login;
use futures::future::BoxFuture;
use mysql_async::{Conn, OptsBuilder, SslOpts};
use std::{
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};
use tokio::time::timeout_at;

/// How long a dropped connection may take to say goodbye (`COM_QUIT`) before its socket is
/// simply closed. A server that stopped answering never gets to hold a task longer.
const CLOSE_WITHIN: Duration = Duration::from_secs(1);

/// How to log in; the same for every endpoint of a cluster.
pub struct Connect {
    /// Who logs in.
    pub login: Login,
    /// TLS, when the cluster has a `tls:` block.
    pub ssl: Option<SslOpts>,
}

/// One endpoint and its kept connection.
pub struct Node {
    /// Where it is.
    pub endpoint: Endpoint,
    slot: Mutex<Option<Conn>>,
}

/// A connection in use. Dropped without being given back (an error, a timeout, the host
/// dropping the collection), it closes the connection on a task of its own, bounded by
/// [`CLOSE_WITHIN`], rather than leave mysql_async's cleanup waiting on a silent server.
struct Held(Option<Conn>);

impl Held {
    fn conn(&mut self) -> &mut Conn {
        self.0.as_mut().expect("a held connection")
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(conn) = self.0.take() else { return };
        // Without a runtime (never the case in the host), the socket closes with the value.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                // `disconnect` marks the connection closed before it waits, so when the
                // timeout drops it, nothing more is spawned.
                let _ = tokio::time::timeout(CLOSE_WITHIN, conn.disconnect()).await;
            });
        }
    }
}

impl Node {
    /// A node not connected yet.
    pub fn new(endpoint: Endpoint) -> Self {
        Node {
            endpoint,
            slot: Mutex::new(None),
        }
    }

    /// Runs `work` on this node's connection, connecting first when needed, all by `deadline`.
    /// A kept connection the server has closed since (a restart, `wait_timeout`, `KILL`) is
    /// replaced once and the work retried.
    pub async fn run<T, F>(
        &self,
        connect: &Connect,
        deadline: Instant,
        work: F,
    ) -> Result<T, String>
    where
        F: for<'c> Fn(&'c mut Conn) -> BoxFuture<'c, Result<T, mysql_async::Error>>,
    {
        let started = Instant::now();
        let late = || {
            let waited = deadline.saturating_duration_since(started);
            format!("no answer within {} ms", waited.as_millis())
        };
        let kept = self
            .slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(conn) = kept {
            let mut held = Held(Some(conn));
            match timeout_at(deadline.into(), work(held.conn())).await {
                Ok(Ok(value)) => {
                    self.give_back(held);
                    return Ok(value);
                }
                Ok(Err(e)) if e.is_fatal() => {
                    tracing::debug!(node = %self.endpoint.address, error = %describe(&e),
                        "kept connection lost; reconnecting");
                }
                Ok(Err(e)) => {
                    self.give_back(held);
                    return Err(format!("query failed: {}", describe(&e)));
                }
                Err(_) => return Err(late()),
            }
        }
        let mut held = match timeout_at(deadline.into(), self.connect(connect)).await {
            Ok(Ok(conn)) => Held(Some(conn)),
            Ok(Err(e)) => return Err(format!("cannot connect: {}", describe(&e))),
            Err(_) => return Err(late()),
        };
        match timeout_at(deadline.into(), work(held.conn())).await {
            Ok(Ok(value)) => {
                self.give_back(held);
                Ok(value)
            }
            Ok(Err(e)) => {
                if !e.is_fatal() {
                    self.give_back(held);
                }
                Err(format!("query failed: {}", describe(&e)))
            }
            Err(_) => Err(late()),
        }
    }

    /// Keeps the connection for the next use; a command that ran beside a collection may have
    /// put one back meanwhile, and then this one is closed.
    fn give_back(&self, mut held: Held) {
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = held.0.take();
        }
    }

    async fn connect(&self, connect: &Connect) -> Result<Conn, mysql_async::Error> {
        let password = Some(connect.login.password.clone()).filter(|p| !p.is_empty());
        let opts = OptsBuilder::default()
            .ip_or_hostname(self.endpoint.host.clone())
            .tcp_port(self.endpoint.port)
            .user(Some(connect.login.username.clone()))
            .pass(password)
            // The server asked is the one at the endpoint: never a local socket instead.
            .prefer_socket(false)
            .tcp_nodelay(true)
            // A kept connection to a server that vanished is found out.
            .tcp_keepalive(Some(Duration::from_secs(30)))
            .ssl_opts(connect.ssl.clone())
            .connect_attribute("program_name", "dbmon");
        let conn = Conn::new(opts).await?;
        tracing::debug!(node = %self.endpoint.address, "connected");
        Ok(conn)
    }
}

/// What went wrong, in the server's words where it said something.
pub fn describe(e: &mysql_async::Error) -> String {
    match e {
        mysql_async::Error::Server(s) => format!("ERROR {} ({}): {}", s.code, s.state, s.message),
        // rustls reports a failed handshake as an I/O error that carries its own.
        mysql_async::Error::Io(mysql_async::IoError::Io(io))
            if io
                .get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>()) =>
        {
            format!("TLS: {io}")
        }
        mysql_async::Error::Io(mysql_async::IoError::Io(io)) => io.to_string(),
        mysql_async::Error::Io(mysql_async::IoError::Tls(tls)) => format!("TLS: {tls}"),
        mysql_async::Error::Driver(d) => d.to_string(),
        other => dbmon_connector_api::error_chain(other),
    }
}
