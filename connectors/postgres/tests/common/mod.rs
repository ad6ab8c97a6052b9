//! What the integration tests share: the connector built as the host builds it, collections
//! with a deadline, and PostgreSQL servers (test-support's, which the demo runs too).
#![allow(dead_code)] // each test file uses its own part of this module

#[allow(unused_imports)] // not every test file starts a server
pub use dbmon_test_support::postgres as server;

use dbmon_connector_api::{AuthConfig, ClusterConfig, ConfigError, Connector, Report, TlsConfig};
use dbmon_connector_postgres::{Options, Postgres};
use dbmon_test_support::collect;
use std::time::Duration;

/// The machine's own PostgreSQL (trust authentication on loopback).
pub const MACHINE: &str = "127.0.0.1:5432";

/// The deadline the host would give with `timeout: 5s`.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// A cluster entry as the host would pass it.
pub fn config<S: AsRef<str>>(endpoints: &[S], options: Options) -> ClusterConfig<Options> {
    ClusterConfig::new("pg", options)
        .with_endpoints(endpoints.iter().map(|e| e.as_ref().to_string()))
}

/// The same entry with `auth:`.
pub fn with_auth(
    mut c: ClusterConfig<Options>,
    user: &str,
    password: &str,
) -> ClusterConfig<Options> {
    c.auth = Some(AuthConfig {
        username: Some(user.into()),
        password: Some(password.into()),
    });
    c
}

/// The same entry with `tls:`.
pub fn with_tls(mut c: ClusterConfig<Options>, tls: TlsConfig) -> ClusterConfig<Options> {
    c.tls = Some(tls);
    c
}

/// `Connector::new` for a config the test expects to be valid.
pub fn connector(config: ClusterConfig<Options>) -> Postgres {
    match <Postgres as Connector>::new(config) {
        Ok(connector) => connector,
        Err(e) => panic!("config refused: {e}"),
    }
}

/// `Connector::new` for a config the test expects to be refused.
pub fn refused(config: ClusterConfig<Options>) -> ConfigError {
    match <Postgres as Connector>::new(config) {
        Ok(_) => panic!("config accepted"),
        Err(e) => e,
    }
}

/// A collection context with `timeout` left.
#[allow(unused_imports)] // the tests that only collect
pub use dbmon_test_support::collect::context as ctx_with;

/// One collection that must succeed.
pub async fn collect(connector: &Postgres) -> Report {
    collect::collect(connector, TIMEOUT).await
}

/// The error of a collection that must fail, and how long it took.
pub async fn collect_error(connector: &Postgres, timeout: Duration) -> (String, Duration) {
    collect::collect_error(connector, timeout).await
}

/// A port nothing listens on: bound, then released.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local addr").port()
}
