//! An endpoint that is another kind of server fails fast, and says what it looks like, instead
//! of waiting out the timeout or giving a garbled protocol error.

mod common;

use common::{collect_error, config, connector};
use dbmon_connector_postgres::Options;
use dbmon_test_support::HttpServer;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);

/// The error of a collection from `address`, which must come well before the timeout.
async fn fails_fast(address: &str) -> String {
    let pg = connector(config(&[address], Options::default()));
    let (error, took) = collect_error(&pg, TIMEOUT).await;
    assert!(
        took < Duration::from_secs(2),
        "{address}: {took:?}: {error}"
    );
    error
}

fn reachable(address: &str) -> bool {
    address
        .parse()
        .is_ok_and(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(1)).is_ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_server_is_named() {
    let server = HttpServer::start().await;
    let address = server.addr.to_string();
    let error = fails_fast(&address).await;
    assert!(
        error.contains(&format!(
            "{address} answered with something that is not the PostgreSQL protocol \
             (it looks like HTTP); is this the right port?"
        )),
        "{error}"
    );
}

/// The machine's Redis and MariaDB, when they run: one connection each, nothing written to them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_and_mariadb_are_named() {
    for (address, kind) in [
        ("127.0.0.1:6379", "Redis"),
        ("127.0.0.1:3306", "MySQL/MariaDB"),
    ] {
        if !reachable(address) {
            eprintln!("nothing listens on {address}: skipped");
            continue;
        }
        let error = fails_fast(address).await;
        eprintln!("{error}");
        assert!(
            error.contains("not the PostgreSQL protocol") && error.contains(kind),
            "{address}: {error}"
        );
    }
}
