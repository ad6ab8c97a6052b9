//! What the integration tests share: the connector built as the host builds it, collections
//! with a deadline, direct queries to a server (to compare with what the connector reports),
//! and MariaDB servers of the test's own ([`server`]).
#![allow(dead_code)] // each test file uses its own part of this module

pub mod server;

use dbmon_connector_api::{AuthConfig, ClusterConfig, ConfigError, Connector, Report};
use dbmon_connector_mysql::{Mysql, Options};
use dbmon_test_support::collect;
use mysql_async::{Conn, OptsBuilder, prelude::Queryable};
use std::{collections::BTreeMap, time::Duration};

/// The machine's own MariaDB: root with an empty password. Tests only read from it.
pub const MACHINE: &str = "127.0.0.1:3306";

/// The deadline the tests give a collection.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// A cluster entry with these endpoints and options, logging in as root without a password.
pub fn config<S: AsRef<str>>(endpoints: &[S], options: Options) -> ClusterConfig<Options> {
    ClusterConfig::new("mysql-test", options)
        .with_endpoints(endpoints.iter().map(|e| e.as_ref().to_string()))
}

/// The same entry with `auth:`.
pub fn with_auth(
    mut c: ClusterConfig<Options>,
    user: &str,
    password: Option<&str>,
) -> ClusterConfig<Options> {
    c.auth = Some(AuthConfig {
        username: Some(user.into()),
        password: password.map(String::from),
    });
    c
}

/// `Connector::new` as the host calls it.
pub fn build(config: ClusterConfig<Options>) -> Result<Mysql, ConfigError> {
    <Mysql as Connector>::new(config)
}

/// A connector the test expects to be valid.
pub fn connector(config: ClusterConfig<Options>) -> Mysql {
    build(config).unwrap_or_else(|e| panic!("config refused: {e}"))
}

/// A config the test expects to be refused.
pub fn refused(config: ClusterConfig<Options>) -> ConfigError {
    match build(config) {
        Ok(_) => panic!("config accepted"),
        Err(e) => e,
    }
}

/// A collection context with `timeout` left.
#[allow(unused_imports)] // the tests that only collect
pub use dbmon_test_support::collect::context as ctx_with;

/// One collection that must succeed.
pub async fn collect(connector: &Mysql) -> Report {
    collect::collect(connector, TIMEOUT).await
}

/// The error of a collection that must fail, and how long it took.
pub async fn collect_error(connector: &Mysql, timeout: Duration) -> (String, Duration) {
    collect::collect_error(connector, timeout).await
}

/// A port nothing listens on: bound, then released.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local addr").port()
}

/// A direct connection to `127.0.0.1:port` as root, for the test's own questions.
pub async fn direct(port: u16) -> Conn {
    let opts = OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some("root"))
        .prefer_socket(false);
    Conn::new(opts)
        .await
        .unwrap_or_else(|e| panic!("connect to 127.0.0.1:{port}: {e}"))
}

/// `SHOW GLOBAL STATUS` (or `VARIABLES`), by name.
pub async fn show(conn: &mut Conn, what: &str) -> BTreeMap<String, String> {
    let rows: Vec<(String, Option<String>)> = conn
        .query(format!("SHOW GLOBAL {what}"))
        .await
        .unwrap_or_else(|e| panic!("SHOW GLOBAL {what}: {e}"));
    rows.into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect()
}

/// A status or variable as a number.
pub fn number(map: &BTreeMap<String, String>, name: &str) -> f64 {
    map.get(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .parse()
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}
