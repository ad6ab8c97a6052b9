//! rustls client configuration from a cluster's `tls:` block. With a `tls:` block every
//! connection requires TLS (`sslmode=require`, with the server's certificate verified unless
//! `insecure_skip_verify`); without one, connections are plain.

use dbmon_connector_api::{ConfigError, TlsConfig};
use tokio_postgres_rustls::MakeRustlsConnect;

/// The TLS connector of one cluster, `None` when it has no `tls:` block.
pub fn connector(tls: Option<&TlsConfig>) -> Result<Option<MakeRustlsConnect>, ConfigError> {
    let Some(tls) = tls else { return Ok(None) };
    Ok(Some(MakeRustlsConnect::new(dbmon_scrape::client_config(
        Some(tls),
    )?)))
}
