//! Connections to the nodes of one cluster, kept between collections: one multiplexed
//! connection per `host:port`, made on first use (TCP, TLS when configured, `AUTH`), dropped on
//! any error and made again on the next use. Every wait ends at the caller's deadline.

use crate::options::{Credentials, address};
use redis::{
    AsyncConnectionConfig, Cmd, ErrorKind, FromRedisValue, RedisConnectionInfo, RedisError,
    aio::MultiplexedConnection,
};
use rustls::{ClientConfig, pki_types::ServerName};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Instant,
};
use tokio::{net::TcpStream, task::JoinHandle, time::timeout_at};

/// A connection and the task that drives it; the task stops when the entry is dropped.
struct Live {
    conn: MultiplexedConnection,
    driver: JoinHandle<()>,
}

impl Drop for Live {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// The connections of one cluster.
pub struct Pool {
    info: RedisConnectionInfo,
    tls: Option<Arc<ClientConfig>>,
    live: Mutex<HashMap<String, Live>>,
}

impl Pool {
    /// A pool that authenticates with `credentials` and, with `tls`, speaks TLS.
    pub fn new(credentials: Option<&Credentials>, tls: Option<Arc<ClientConfig>>) -> Pool {
        let mut info =
            RedisConnectionInfo::default().set_lib_name("dbmon", env!("CARGO_PKG_VERSION"));
        if let Some(c) = credentials {
            info = info.set_password(&c.password);
            if let Some(user) = &c.username {
                info = info.set_username(user);
            }
        }
        Pool {
            info,
            tls,
            live: Mutex::new(HashMap::new()),
        }
    }

    /// Runs `cmd` on `host:port`, connecting first if needed. A kept connection that turns out
    /// to be closed (the server restarted, an idle timeout) is replaced once, at no cost to
    /// the report.
    pub async fn query<T: FromRedisValue>(
        &self,
        host: &str,
        port: u16,
        cmd: &Cmd,
        deadline: Instant,
    ) -> Result<T, String> {
        let started = Instant::now();
        let key = address(host, port);
        let kept = self.live.lock().unwrap().get(&key).map(|l| l.conn.clone());
        if let Some(mut conn) = kept {
            match run(&mut conn, cmd, deadline).await {
                Ok(value) => return Ok(value),
                Err(Failure::Redis(e)) if e.is_io_error() || e.is_connection_dropped() => {
                    self.forget(&key);
                    tracing::debug!(node = %key, error = %e, "kept connection closed; reconnecting");
                }
                Err(e) => {
                    self.forget(&key);
                    return Err(e.describe(started));
                }
            }
        }
        let mut live = self
            .connect(host, port, deadline)
            .await
            .map_err(|e| e.describe(started))?;
        let result = run(&mut live.conn, cmd, deadline).await;
        if result.is_ok() {
            // Another task (a command during a collection) may have kept one meanwhile: keep
            // that one, whose requests may still be in flight, and close this one.
            self.live.lock().unwrap().entry(key).or_insert(live);
        }
        result.map_err(|e| e.describe(started))
    }

    fn forget(&self, key: &str) {
        self.live.lock().unwrap().remove(key);
    }

    async fn connect(&self, host: &str, port: u16, deadline: Instant) -> Result<Live, Failure> {
        let tcp = timeout_at(deadline.into(), TcpStream::connect((host, port)))
            .await
            .map_err(|_| Failure::Timeout)?
            .map_err(|e| Failure::Connect(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        // Timeouts are the deadline's job: a request left without an answer is dropped with
        // its collection, and the connection with it.
        let config = AsyncConnectionConfig::new()
            .set_response_timeout(None)
            .set_connection_timeout(None);
        let setup = async {
            match &self.tls {
                None => {
                    let (conn, driver) =
                        MultiplexedConnection::new_with_config(&self.info, tcp, config).await?;
                    let driver = tokio::spawn(driver);
                    Ok(Live { conn, driver })
                }
                Some(tls) => {
                    let name = ServerName::try_from(host.to_string())
                        .map_err(|e| Failure::Tls(format!("'{host}': {e}")))?;
                    let connector = tokio_rustls::TlsConnector::from(Arc::clone(tls));
                    let stream = connector
                        .connect(name, tcp)
                        .await
                        .map_err(|e| Failure::Tls(e.to_string()))?;
                    let (conn, driver) =
                        MultiplexedConnection::new_with_config(&self.info, stream, config).await?;
                    let driver = tokio::spawn(driver);
                    Ok(Live { conn, driver })
                }
            }
        };
        timeout_at(deadline.into(), setup)
            .await
            .map_err(|_| Failure::Timeout)?
    }
}

async fn run<T: FromRedisValue>(
    conn: &mut MultiplexedConnection,
    cmd: &Cmd,
    deadline: Instant,
) -> Result<T, Failure> {
    timeout_at(deadline.into(), cmd.query_async::<T>(conn))
        .await
        .map_err(|_| Failure::Timeout)?
        .map_err(Failure::Redis)
}

/// Why a node did not answer.
enum Failure {
    Connect(String),
    Tls(String),
    Timeout,
    Redis(RedisError),
}

impl From<RedisError> for Failure {
    fn from(e: RedisError) -> Self {
        Failure::Redis(e)
    }
}

impl Failure {
    /// In words an operator reads. No password is ever part of it: the server's own error
    /// texts do not echo it, and the connector never puts it in one.
    fn describe(self, started: Instant) -> String {
        match self {
            Failure::Connect(e) => format!("cannot connect: {e}"),
            Failure::Tls(e) => format!("TLS handshake failed: {e}"),
            Failure::Timeout => format!(
                "no answer within {} ms (the collection's deadline)",
                started.elapsed().as_millis()
            ),
            Failure::Redis(e) => describe_redis(&e),
        }
    }
}

fn describe_redis(e: &RedisError) -> String {
    match (e.kind(), e.code()) {
        (_, Some("NOAUTH")) => {
            "the server requires a password: set auth.password in the cluster's configuration"
                .into()
        }
        (_, Some("WRONGPASS")) | (ErrorKind::AuthenticationFailed, _) => {
            "authentication failed: the server refused the username or password".into()
        }
        (_, Some("NOPERM")) => format!("the user lacks a permission the connector needs: {e}"),
        (ErrorKind::Parse, _) => format!(
            "the answer is not the Redis protocol (another kind of server on this port?): {e}"
        ),
        (ErrorKind::Io, _) if e.to_string().contains("alert") => {
            format!("the server ended the TLS session: {e}")
        }
        (ErrorKind::Io, _) if e.is_connection_dropped() => {
            format!("the server closed the connection (another kind of server on this port?): {e}")
        }
        _ => e.to_string(),
    }
}
