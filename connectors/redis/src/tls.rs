//! The rustls client configuration of a cluster that uses TLS, built once from its `tls:` block
//! (by the settings every dbmon connector shares) so that a bad certificate file is refused at
//! startup, not at every collection.

use dbmon_connector_api::{ConfigError, TlsConfig};
use rustls::ClientConfig;
use std::sync::Arc;

/// The client configuration for `tls` (no block: the system's roots, no client certificate).
pub fn client_config(tls: Option<&TlsConfig>) -> Result<Arc<ClientConfig>, ConfigError> {
    dbmon_scrape::client_config(tls).map(Arc::new)
}
