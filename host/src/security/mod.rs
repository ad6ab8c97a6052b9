//! Security of the host's listeners and of its clients: TLS (with certificate rotation),
//! role-based bearer tokens and client certificates, the rule that refuses an exposed
//! listener without them, the client's side of all that, and the commands that make
//! certificates and tokens (`dbmon certs init`, `dbmon token new`).
//!
//! How it flows: config (`tls:`, `auth:`, `insecure:`) → [`ServerSecurity`] → the listener's
//! handshake ([`crate::listener::incoming`]) → [`AuthLayer`] on the gRPC server → the handlers
//! ([`Identity`] in the request's extensions). [`client::connect`] is the other end.

pub mod auth;
pub mod certs;
pub mod client;
pub mod tls;

pub use crate::config::{ClientAuth, Role};
pub use auth::{AuthLayer, AuthSettings, Identity, PeerCertificate, Roles};
pub use tls::{ServerTls, TlsSettings};

use crate::config::{Config, ConfigError};
use std::{net::SocketAddr, sync::Arc};

/// What one listener serves with: TLS and the auth check, each optional. Built once from the
/// config, shared by every listener that serves the same settings.
#[derive(Debug, Clone, Default)]
pub struct ServerSecurity {
    /// The handshake's configuration, re-read when its files change.
    pub tls: Option<Arc<ServerTls>>,
    /// The credentials and their roles; `None` lets every call through.
    pub auth: Option<Arc<AuthSettings>>,
}

impl ServerSecurity {
    /// The settings of `config`, after the safe-default rule on `config.listen`: a listener
    /// beyond loopback needs TLS and authentication unless `insecure: true` (then a warning is
    /// logged, here, at every start).
    pub fn from_config(config: &Config) -> Result<ServerSecurity, ConfigError> {
        let security = ServerSecurity::settings(config)?;
        if let Ok(address) = config.listen.parse::<SocketAddr>() {
            security.may_listen_on(config, address)?;
        }
        Ok(security)
    }

    /// The safe-default rule for the gRPC listener at `address` (at the start, and when a
    /// reload moves it). The error names `listen`.
    pub fn may_listen_on(&self, config: &Config, address: SocketAddr) -> Result<(), ConfigError> {
        self.allowed_at(
            config,
            address,
            "listen",
            "run `dbmon certs init DIR` and add its `tls:` block, and an `auth:` block (tokens \
             from `dbmon token new NAME --roles read`), or listen on 127.0.0.1",
            "is trusted",
        )
    }

    /// The one safe-default rule, for any listener at `address` serving with these settings:
    /// beyond loopback, TLS and authentication, unless `insecure: true` (then a warning says
    /// that anyone who reaches it `trusted`). The error names `field` and gives `advice`.
    pub fn allowed_at(
        &self,
        config: &Config,
        address: SocketAddr,
        field: &str,
        advice: &str,
        trusted: &str,
    ) -> Result<(), ConfigError> {
        if let Some(problem) = self.exposure(address) {
            if !config.insecure {
                return Err(config.error_at(
                    field,
                    format!("{problem}; {advice}; `insecure: true` serves it anyway"),
                ));
            }
            tracing::warn!("insecure: true: {problem}; anyone who reaches {address} {trusted}");
        }
        Ok(())
    }

    /// The `tls:` and `auth:` of `config`, without the rule on `listen` (for a listener
    /// that applies it to its own address: the HTTP listener of a collector).
    pub fn settings(config: &Config) -> Result<ServerSecurity, ConfigError> {
        let tls = match &config.tls {
            Some(settings) => {
                Some(Arc::new(ServerTls::new(settings.clone()).map_err(|e| {
                    config.error_at(&format!("tls.{}", e.field), e.message)
                })?))
            }
            None => None,
        };
        Ok(ServerSecurity {
            tls,
            auth: config.auth.clone().map(Arc::new),
        })
    }

    /// Why serving `address` with these settings would expose the API; `None` when it is
    /// safe (loopback, or TLS with authentication).
    pub fn exposure(&self, address: SocketAddr) -> Option<String> {
        if address.ip().is_loopback() {
            return None;
        }
        let authenticated = self.auth.as_ref().is_some_and(|auth| {
            let certificates = !auth.certificates.is_empty()
                && self
                    .tls
                    .as_ref()
                    .is_some_and(|t| t.settings().client_auth == ClientAuth::Required);
            !auth.tokens.is_empty() || certificates
        });
        match (self.tls.is_some(), authenticated) {
            (true, true) => None,
            (false, false) => Some(format!(
                "{address} is not a loopback address and is served without TLS and without \
                 authentication"
            )),
            (false, true) => Some(format!(
                "{address} is not a loopback address and is served without TLS: tokens would \
                 travel in clear"
            )),
            (true, false) => Some(format!(
                "{address} is not a loopback address and is served without authentication \
                 (no auth.tokens, nor auth.certificates with tls.client_auth: required)"
            )),
        }
    }

    /// The layer that checks calls (and provides the connection's addresses to handlers on
    /// every service): wrap the whole gRPC server with it.
    pub fn layer(&self) -> AuthLayer {
        AuthLayer::new(self.auth.clone())
    }

    /// `https` with TLS, else `http`: for the URL the host prints.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }
}
