//! The listeners a reload moves, opens or closes (`listen:`, `metrics_listen:`). A reload
//! binds every new address first, under the same safe-default rule as at the start, and
//! refuses the whole file when one cannot be bound; the sockets change only once the rest
//! of the reload holds. A moved listener accepts on its new address from then on and closes
//! the old socket; connections accepted before (open Watch streams, pushing collectors) go on.
//! The other listeners are not touched.

use super::{Role, bind};
use crate::{
    config::{Config, ConfigError},
    listener::{Greeting, Rebind},
    security::ServerSecurity,
};
use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};
use tokio::net::TcpListener;

/// A listener that serves: where it accepts and what it serves with.
pub(super) struct Listening {
    pub rebind: Arc<Rebind>,
    pub security: ServerSecurity,
    pub address: SocketAddr,
}

/// Starts the HTTP listener on a socket, with its security (a reload's first
/// `metrics_listen:`).
pub(super) type StartMetrics =
    Box<dyn Fn(TcpListener, ServerSecurity) -> std::io::Result<Rebind> + Send + Sync>;

/// The host's listeners, as reloads change them.
pub(super) struct Listeners {
    /// The gRPC listener (client API, ingest, admin), once it serves; none on a collector.
    pub grpc: Mutex<Option<Listening>>,
    /// The HTTP listener (`/metrics`, the status page), while `metrics_listen:` is set.
    pub metrics: Mutex<Option<Listening>>,
    pub start_metrics: StartMetrics,
}

/// The sockets a reload has bound, not yet serving.
pub(super) struct Moves {
    grpc: Option<TcpListener>,
    metrics: MetricsMove,
}

enum MetricsMove {
    Keep,
    To(TcpListener),
    Open(TcpListener, ServerSecurity),
    Close,
}

impl Listeners {
    /// Binds what `config` changes against the addresses in force (`listen`,
    /// `metrics_listen`); every error names its field.
    pub async fn bind(
        &self,
        config: &Config,
        role: Role,
        listen: &str,
        metrics_listen: Option<&str>,
    ) -> Result<Moves, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut moves = Moves {
            grpc: None,
            metrics: MetricsMove::Keep,
        };
        if role.serves() && config.listen != listen {
            let security = lock(&self.grpc).as_ref().map(|l| l.security.clone());
            match (security, bind(config, false).await) {
                (Some(security), Ok(socket)) => {
                    match allowed(&socket, |address| security.may_listen_on(config, address)) {
                        Ok(()) => moves.grpc = Some(socket),
                        Err(e) => errors.push(e),
                    }
                }
                (None, Ok(_)) => errors.push(config.error_at(
                    "listen",
                    "the gRPC listener has not started yet: reload again in a moment",
                )),
                (_, Err(e)) => errors.push(e),
            }
        }
        match (metrics_listen, config.metrics_listen.as_deref()) {
            (Some(was), Some(now)) if was != now => {
                let security = lock(&self.metrics).as_ref().map(|l| l.security.clone());
                match crate::http::bind(config, now).await {
                    Ok(socket) => {
                        let checked = allowed(&socket, |address| {
                            let security = security.clone().unwrap_or_default();
                            crate::http::may_listen_on(config, &security, address)
                        });
                        match checked {
                            Ok(()) => moves.metrics = MetricsMove::To(socket),
                            Err(e) => errors.push(e),
                        }
                    }
                    Err(e) => errors.push(e),
                }
            }
            (None, Some(now)) => match crate::http::bind(config, now).await {
                Ok(socket) => {
                    // The settings the other listeners serve with (as a reload leaves them),
                    // or, on a collector, the file's.
                    let running = lock(&self.grpc).as_ref().map(|l| l.security.clone());
                    let base = running.map_or_else(|| ServerSecurity::settings(config), Ok);
                    let security = base.and_then(|base| {
                        let address = socket.local_addr().map_err(|e| {
                            config.error_at("metrics_listen", format!("{now}: {e}"))
                        })?;
                        crate::http::security(config, &base, address)
                    });
                    match security {
                        Ok(security) => moves.metrics = MetricsMove::Open(socket, security),
                        Err(e) => errors.push(e),
                    }
                }
                Err(e) => errors.push(e),
            },
            (Some(_), None) => moves.metrics = MetricsMove::Close,
            _ => {}
        }
        if errors.is_empty() {
            Ok(moves)
        } else {
            Err(errors)
        }
    }

    /// Puts the bound sockets to work; returns what changed, one line each.
    pub async fn apply(&self, moves: Moves) -> Vec<String> {
        let mut changed = Vec::new();
        if let Some(socket) = moves.grpc {
            changed.extend(self.move_grpc(socket).await);
        }
        match moves.metrics {
            MetricsMove::Keep => {}
            MetricsMove::To(socket) => changed.extend(self.move_metrics(socket).await),
            MetricsMove::Open(socket, security) => {
                let address = socket.local_addr();
                match (address, (self.start_metrics)(socket, security.clone())) {
                    (Ok(address), Ok(rebind)) => {
                        changed.push(format!("metrics_listen: opened on {address}"));
                        *lock(&self.metrics) = Some(Listening {
                            rebind: Arc::new(rebind),
                            security,
                            address,
                        });
                    }
                    (Err(e), _) | (_, Err(e)) => {
                        tracing::error!("metrics_listen: the HTTP listener did not start: {e}");
                        changed.push(format!("metrics_listen: not opened: {e}"));
                    }
                }
            }
            MetricsMove::Close => {
                if let Some(closed) = lock(&self.metrics).take() {
                    changed.push(format!("metrics_listen: closed (was {})", closed.address));
                    tracing::info!("HTTP listener on {} closed", closed.address);
                }
            }
        }
        changed
    }

    /// Whether the HTTP listener serves (after a reload: whether it opened).
    pub fn metrics_open(&self) -> bool {
        lock(&self.metrics).is_some()
    }

    /// Moves the gRPC listener to `socket`; the line saying so.
    async fn move_grpc(&self, socket: TcpListener) -> Option<String> {
        let address = socket.local_addr().ok()?;
        let (rebind, was, tls, scheme) = {
            let mut grpc = lock(&self.grpc);
            let grpc = grpc.as_mut()?;
            let was = std::mem::replace(&mut grpc.address, address);
            let security = &grpc.security;
            let tls = security.tls.is_some();
            (Arc::clone(&grpc.rebind), was, tls, security.scheme())
        };
        rebind.to(socket, Greeting::grpc_at(address, tls)).await;
        tracing::info!("gRPC listener moved from {was} to {address}");
        println!("dbmon serving on {scheme}://{address}");
        Some(format!("listen: {was} -> {address}"))
    }

    /// Moves the HTTP listener to `socket`; the line saying so.
    async fn move_metrics(&self, socket: TcpListener) -> Option<String> {
        let address = socket.local_addr().ok()?;
        let (rebind, was, scheme) = {
            let mut metrics = lock(&self.metrics);
            let listening = metrics.as_mut()?;
            let was = std::mem::replace(&mut listening.address, address);
            let scheme = listening.security.scheme();
            (Arc::clone(&listening.rebind), was, scheme)
        };
        rebind.to(socket, Greeting::http()).await;
        tracing::info!("HTTP listener moved from {was} to {address}");
        println!("dbmon metrics on {scheme}://{address}/metrics");
        Some(format!("metrics_listen: {was} -> {address}"))
    }
}

/// Applies `rule` to the address `socket` is bound to.
fn allowed(
    socket: &TcpListener,
    rule: impl FnOnce(SocketAddr) -> Result<(), ConfigError>,
) -> Result<(), ConfigError> {
    match socket.local_addr() {
        Ok(address) => rule(address),
        // A socket bound a moment ago has an address; let the rule see the unspecified one.
        Err(_) => rule(SocketAddr::from(([0, 0, 0, 0], 0))),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
