//! One connection per endpoint, kept across collections: made when first needed, made again
//! when the server closed it or did not answer in time. So a collection costs one round of
//! queries, not a login, and a down server costs at most one connection attempt per collection.

use crate::{endpoint::Endpoint, probe::Statements, sniff};
use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::{
    net::{TcpSocket, TcpStream, lookup_host},
    sync::Mutex,
    time::timeout_at,
};
use tokio_postgres::{Client, NoTls, config::SslMode, tls::MakeTlsConnect};
use tokio_postgres_rustls::MakeRustlsConnect;

/// How to log in; the same for every endpoint of a cluster.
pub struct Login {
    /// User name.
    pub user: String,
    /// Password, if any.
    pub password: Option<String>,
    /// TLS, when the cluster has a `tls:` block.
    pub tls: Option<MakeRustlsConnect>,
    /// `statement_timeout` set on every connection, in milliseconds.
    pub statement_timeout_ms: u64,
}

/// A logged-in connection with the connector's statements prepared on it.
pub struct Session {
    /// The client; queries from several tasks are pipelined on its one connection.
    pub client: Client,
    /// Statements prepared once per connection.
    pub statements: Statements,
}

/// One endpoint and its kept connection.
pub struct Node {
    /// Where it is.
    pub endpoint: Endpoint,
    slot: Mutex<Option<Arc<Session>>>,
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
    /// A kept connection the server has closed since (a restart) is replaced once and the work
    /// retried. A connection that did not answer in time is dropped: the next call starts anew
    /// rather than queueing behind a query that may never end.
    pub async fn run<T, F, Fut>(
        &self,
        login: &Login,
        deadline: Instant,
        work: F,
    ) -> Result<T, String>
    where
        F: Fn(Arc<Session>) -> Fut,
        Fut: Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let started = Instant::now();
        let late = || {
            let waited = deadline.saturating_duration_since(started);
            format!("no answer within {} ms", waited.as_millis())
        };
        for attempt in 0..2 {
            let (session, reused) = timeout_at(deadline.into(), self.session(login, deadline))
                .await
                .map_err(|_| late())??;
            match timeout_at(deadline.into(), work(session.clone())).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e)) => {
                    let lost = connection_lost(&e, &session);
                    if lost {
                        self.forget(&session).await;
                    }
                    if !(lost && reused && attempt == 0) {
                        return Err(format!("query failed: {}", error_chain(&e)));
                    }
                }
                Err(_) => {
                    self.forget(&session).await;
                    return Err(late());
                }
            }
        }
        unreachable!("the second attempt always returns")
    }

    /// The kept session, or a new one; `true` when it was kept from before.
    async fn session(
        &self,
        login: &Login,
        deadline: Instant,
    ) -> Result<(Arc<Session>, bool), String> {
        let mut slot = self.slot.lock().await;
        if let Some(session) = slot.as_ref().filter(|s| !s.client.is_closed()) {
            return Ok((session.clone(), true));
        }
        *slot = None;
        let session = Arc::new(connect(&self.endpoint, login, deadline).await?);
        *slot = Some(session.clone());
        Ok((session, false))
    }

    async fn forget(&self, session: &Arc<Session>) {
        let mut slot = self.slot.lock().await;
        if slot.as_ref().is_some_and(|kept| Arc::ptr_eq(kept, session)) {
            *slot = None;
        }
    }
}

/// How long a new connection may take to start before the connector checks, on the side,
/// that the port is PostgreSQL's at all. A PostgreSQL server answers well within it.
const SNIFF_AFTER: Duration = Duration::from_millis(200);

/// Connects, and fails fast, saying so, when the port turns out to be another kind of server:
/// one that waits for a line (HTTP, Redis) would otherwise hold the connection until the
/// deadline, and one that speaks first (MySQL) gives a garbled error. The check goes to the
/// address the connection reached (a name may resolve elsewhere the second time), and gives up
/// at the deadline, leaving the connection's own error.
async fn connect(endpoint: &Endpoint, login: &Login, deadline: Instant) -> Result<Session, String> {
    let (stream, peer) = open(endpoint).await?;
    let connecting = connect_postgres(stream, endpoint, login);
    tokio::pin!(connecting);
    let foreign = || async {
        timeout_at(deadline.into(), sniff::foreign_protocol(peer))
            .await
            .ok()
            .flatten()
            .map(|kind| sniff::message(&endpoint.address, kind))
    };
    tokio::select! {
        result = &mut connecting => match result {
            Err(e) if e.ends_with(NOT_POSTGRES_HINT) => Err(foreign().await.unwrap_or(e)),
            other => other,
        },
        _ = tokio::time::sleep(SNIFF_AFTER) => {
            let sniffing = async {
                match foreign().await {
                    Some(message) => message,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                result = &mut connecting => result,
                message = sniffing => Err(message),
            }
        }
    }
}

/// What a connection error that may mean "not PostgreSQL" ends with.
const NOT_POSTGRES_HINT: &str = " (is a PostgreSQL server listening there?)";

/// The TCP connection, to the first of the host's addresses that accepts, as tokio-postgres
/// would make it; opened here so that the sniff knows which address it reached.
async fn open(endpoint: &Endpoint) -> Result<(TcpStream, SocketAddr), String> {
    let cannot = |e: std::io::Error| format!("cannot connect: error connecting to server: {e}");
    let addresses = lookup_host((endpoint.host.as_str(), endpoint.port))
        .await
        .map_err(cannot)?;
    let mut last = std::io::Error::other(format!("{} has no address", endpoint.host));
    for address in addresses {
        match tcp(address).await {
            Ok(stream) => return Ok((stream, address)),
            Err(e) => last = e,
        }
    }
    Err(cannot(last))
}

async fn tcp(address: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = match address {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // A kept connection to a server that vanished is found out, as tokio-postgres does.
    socket.set_keepalive(true)?;
    let stream = socket.connect(address).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

async fn connect_postgres(
    stream: TcpStream,
    endpoint: &Endpoint,
    login: &Login,
) -> Result<Session, String> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(&endpoint.host)
        .port(endpoint.port)
        .dbname(&endpoint.database)
        .user(&login.user)
        .application_name("dbmon");
    if let Some(password) = &login.password {
        config.password(password);
    }
    let cannot = |e: tokio_postgres::Error| {
        let text = error_chain(&e);
        // What tokio-postgres says when the other end is not PostgreSQL (HTTP, Redis, ...).
        let garbled = [
            "error communicating with the server",
            "unexpected message from server",
        ];
        let hint = match garbled.iter().any(|g| text.starts_with(g)) {
            true => NOT_POSTGRES_HINT,
            false => "",
        };
        format!("cannot connect: {text}{hint}")
    };
    let client = match &login.tls {
        Some(tls) => {
            config.ssl_mode(SslMode::Require);
            let tls = match MakeTlsConnect::<TcpStream>::make_tls_connect(
                &mut tls.clone(),
                &endpoint.host,
            ) {
                Ok(tls) => tls,
                Err(never) => match never {},
            };
            let (client, connection) = config.connect_raw(stream, tls).await.map_err(cannot)?;
            tokio::spawn(connection);
            client
        }
        None => {
            config.ssl_mode(SslMode::Disable);
            let (client, connection) = config.connect_raw(stream, NoTls).await.map_err(cannot)?;
            tokio::spawn(connection);
            client
        }
    };
    let setup = async {
        let timeout = format!("{}ms", login.statement_timeout_ms);
        client
            .execute(
                "SELECT set_config('statement_timeout', $1, false)",
                &[&timeout],
            )
            .await?;
        Statements::prepare(&client).await
    };
    let statements = setup.await.map_err(|e| {
        format!(
            "cannot prepare the connector's queries: {}",
            error_chain(&e)
        )
    })?;
    tracing::debug!(node = %endpoint.address, "connected");
    Ok(Session { client, statements })
}

/// Whether `e` ended the connection: it closed, the socket failed, or the server said FATAL
/// (`pg_terminate_backend`, a shutdown), which it sends in place of the next answer and then
/// closes.
fn connection_lost(e: &tokio_postgres::Error, session: &Session) -> bool {
    let io = std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>());
    let fatal = e
        .as_db_error()
        .is_some_and(|db| matches!(db.severity(), "FATAL" | "PANIC"));
    session.client.is_closed() || e.is_closed() || io || fatal
}

/// The error and its causes, each once (tokio-postgres prints its first cause itself).
pub use dbmon_connector_api::error_chain;
