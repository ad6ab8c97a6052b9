//! The host's HTTP listener (`metrics_listen:`): `/metrics` in Prometheus' text format, and
//! whatever other routes the host adds on the same port (the status page under `/`). It
//! serves HTTP/1.1 and HTTP/2 (h2c, or over TLS), with the `tls:` and `auth:` of the gRPC
//! listener: with `auth:` every request needs a credential with the role `read`
//! (`Authorization: Bearer TOKEN`, or a client certificate), as `ListClusters` does.
//!
//! How it plugs in: `serve.rs` builds one [`State`] and calls [`serve`] with the routes of
//! other modules as `extra` (an [`axum::Router`] with its state applied), merged with
//! [`metrics::router`]. Routes must not collide (`/metrics` is taken).

mod durations;
pub mod metrics;
pub mod naming;
pub mod text;

#[cfg(test)]
mod tests;

use crate::{
    api::Watchers,
    config::{Config, ConfigError},
    ingest::Collectors,
    listener::{self, ConnInfo, Connections, Greeting},
    live::Live,
    security::{Role, ServerSecurity, ServerTls, auth::bearer},
    store::Store,
};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use std::{net::SocketAddr, sync::Arc, time::Duration};
use tokio::{net::TcpListener, sync::watch};
use tokio_stream::StreamExt as _;

/// What the HTTP routes read: the host's state, the same objects the gRPC API serves. Built
/// once in `serve.rs`, in every role; what a role does not have is empty.
pub struct State {
    /// Every cluster's slot: `latest()`, `reports()`, `stats` (collections, failures,
    /// timeouts, panics) and `info` (connector, interval, timeout). A collector's store
    /// keeps only its last few reports.
    pub store: Arc<Store>,
    /// The collectors that push to this server, and which collector collects each remote
    /// cluster (`remote(id)`, with its worker restarts there); `list()` for each collector's
    /// counters. Empty on a collector and when none pushes.
    pub collectors: Arc<Collectors>,
    /// The connectors loaded now (`registry()`; none on a server), the libraries refused
    /// (`refusals()`) and the runner of each cluster this process collects (`runner(id)`:
    /// `isolation()`, `restarts()`), as reloads change them.
    pub live: Arc<Live>,
    /// Open Watch streams of the gRPC API (none on a collector, which serves no API).
    pub watchers: Arc<Watchers>,
    /// Collection durations by connector, recorded as reports are stored.
    pub durations: Arc<metrics::Durations>,
    /// Alert deliveries by result, and the alerts firing (none without `alerts:`).
    pub deliveries: Arc<crate::alerts::Deliveries>,
}

/// Time open HTTP connections get to finish after the stop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The security of the HTTP listener at `address`: the file's `tls:` and `auth:` (those of
/// the gRPC listener), and the same rule: beyond loopback, TLS and authentication unless
/// `insecure: true`. The error names `metrics_listen`.
pub fn security(
    config: &Config,
    base: &ServerSecurity,
    address: SocketAddr,
) -> Result<ServerSecurity, ConfigError> {
    may_listen_on(config, base, address)?;
    // The same files, offering HTTP/1.1 too (Prometheus scrapes with it).
    let tls = match &base.tls {
        Some(tls) => Some(Arc::new(
            ServerTls::with_alpn(tls.settings().clone(), &[b"h2", b"http/1.1"])
                .map_err(|e| config.error_at(&format!("tls.{}", e.field), e.message))?,
        )),
        None => None,
    };
    Ok(ServerSecurity {
        tls,
        auth: base.auth.clone(),
    })
}

/// Binds `metrics_listen`; the error names it.
pub async fn bind(config: &Config, address: &str) -> Result<TcpListener, ConfigError> {
    TcpListener::bind(address).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            "; another process has it: stop it or pick another port"
        } else {
            ""
        };
        config.error_at(
            "metrics_listen",
            format!("cannot listen on {address}: {e}{hint}"),
        )
    })
}

/// The safe-default rule for the HTTP listener at `address` with the security `base` (at
/// the start, and when a reload moves it). The error names `metrics_listen`.
pub fn may_listen_on(
    config: &Config,
    base: &ServerSecurity,
    address: SocketAddr,
) -> Result<(), ConfigError> {
    base.allowed_at(
        config,
        address,
        "metrics_listen",
        "it needs the file's `tls:` and `auth:` blocks (a token with the role read for \
         Prometheus' `authorization:`), or an address on 127.0.0.1",
        "reads /metrics",
    )
}

/// Serves `/metrics` and `extra` on the connections of `incoming` until `stopped` turns true
/// (or the listener's [`listener::Rebind`] is dropped), then gives open connections
/// [`SHUTDOWN_GRACE`] to finish. Spawn it: it returns only at the stop.
pub async fn serve(
    mut incoming: impl futures::Stream<Item = std::io::Result<listener::Conn>> + Unpin,
    state: Arc<State>,
    security: ServerSecurity,
    extra: axum::Router,
    mut stopped: watch::Receiver<bool>,
) {
    let router = metrics::router(state).merge(extra);
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    let mut open = tokio::task::JoinSet::new();
    loop {
        let conn = tokio::select! {
            conn = incoming.next() => match conn {
                Some(Ok(conn)) => conn,
                Some(Err(e)) => {
                    tracing::debug!("HTTP listener: {e}");
                    continue;
                }
                None => break,
            },
            _ = stopped.wait_for(|stop| *stop) => break,
        };
        let info = tonic::transport::server::Connected::connect_info(&conn);
        let service = Checked {
            router: router.clone(),
            info,
            auth: security.auth.clone(),
        };
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(conn), TowerToHyperService::new(service))
            .into_owned();
        // Finished connections leave the set as new ones come.
        while open.try_join_next().is_some() {}
        open.spawn(graceful.watch(connection));
    }
    drop(incoming);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        // An event stream never finishes by itself: a closed listener ends its connections.
        tracing::debug!("HTTP connections still open {SHUTDOWN_GRACE:?} after the stop: closed");
        open.abort_all();
    }
}

/// The router behind the auth check, for one connection.
#[derive(Clone)]
struct Checked {
    router: axum::Router,
    info: ConnInfo,
    auth: Option<Arc<crate::security::AuthSettings>>,
}

impl tower::Service<hyper::Request<hyper::body::Incoming>> for Checked {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: hyper::Request<hyper::body::Incoming>) -> Self::Future {
        let mut request = request.map(axum::body::Body::new);
        if let Some(auth) = &self.auth
            && let Err(refused) = check(auth, &request, &self.info)
        {
            return Box::pin(std::future::ready(Ok(refused)));
        }
        request.extensions_mut().insert(self.info.clone());
        let mut router = self.router.clone();
        Box::pin(async move { tower::Service::call(&mut router, request).await })
    }
}

/// Whether `request` brings a credential with the role `read`; the 401 or 403 answer when not.
#[allow(clippy::result_large_err)]
fn check<B>(
    auth: &crate::security::AuthSettings,
    request: &hyper::Request<B>,
    info: &ConnInfo,
) -> Result<(), axum::response::Response> {
    use axum::response::IntoResponse as _;
    let path = request.uri().path();
    let from = info.tcp.remote_addr().map_or("?".into(), |a| a.to_string());
    match auth.authenticate(bearer(request), info.client.as_deref()) {
        Ok((identity, roles)) if roles.allow(Role::Read) => {
            tracing::debug!("{path}: {identity}");
            Ok(())
        }
        Ok((identity, roles)) => {
            tracing::info!("refused {path} from {from}: {identity} lacks the role read");
            let message = format!(
                "{identity} lacks the role 'read' that {path} requires (it has: {roles})\n"
            );
            Err((hyper::StatusCode::FORBIDDEN, message).into_response())
        }
        Err(status) => {
            tracing::info!("refused {path} from {from}: {}", status.message());
            let message = format!("{}\n", status.message());
            let challenge = [(hyper::header::WWW_AUTHENTICATE, "Bearer")];
            Err((hyper::StatusCode::UNAUTHORIZED, challenge, message).into_response())
        }
    }
}

/// Serves `state` on `listener` in a task of its own (see [`serve`]) and prints where, for
/// scripts and tests: `dbmon metrics on http://ADDR/metrics`. The listener serves as long as
/// the returned [`listener::Rebind`] lives, which can move it to another address.
pub fn spawn(
    listener: TcpListener,
    state: Arc<State>,
    security: ServerSecurity,
    extra: axum::Router,
    stopped: &watch::Receiver<bool>,
) -> std::io::Result<listener::Rebind> {
    let address = listener.local_addr()?;
    let scheme = security.scheme();
    let (incoming, rebind) = listener::incoming(
        listener,
        Greeting::http(),
        Connections::default(),
        security.tls.clone(),
    );
    tokio::spawn(serve(incoming, state, security, extra, stopped.clone()));
    tracing::info!("serving /metrics on {scheme}://{address}");
    println!("dbmon metrics on {scheme}://{address}/metrics");
    Ok(rebind)
}
