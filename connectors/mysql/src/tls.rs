//! TLS from a cluster's `tls:` block. mysql_async takes file paths (it builds its own rustls
//! configuration, with ring), so the block becomes its `SslOpts`; the files are read once in
//! `new` by the settings every dbmon connector shares, so that a bad one is refused at startup.

use dbmon_connector_api::{ConfigError, TlsConfig};
use mysql_async::{ClientIdentity, SslOpts};

/// The TLS options of one cluster, `None` when it has no `tls:` block (plain connections).
pub fn ssl_opts(tls: Option<&TlsConfig>) -> Result<Option<SslOpts>, ConfigError> {
    let Some(tls) = tls else { return Ok(None) };
    // Refuses unreadable files, a cert without a key and a key that does not fit, at the field.
    dbmon_scrape::client_config(Some(tls))?;
    let mut opts = SslOpts::default();
    if let Some(ca) = &tls.ca {
        opts = opts
            .with_root_certs(vec![ca.clone().into()])
            .with_disable_built_in_roots(true);
    }
    if let (Some(cert), Some(key)) = (&tls.cert, &tls.key) {
        opts = opts.with_client_identity(Some(ClientIdentity::new(
            cert.clone().into(),
            key.clone().into(),
        )));
    }
    if tls.insecure_skip_verify {
        opts = opts
            .with_danger_accept_invalid_certs(true)
            .with_danger_skip_domain_validation(true);
    }
    Ok(Some(opts))
}
