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

/// A server that answers the first connection's startup with garbage, then accepts every other
/// connection and says nothing: the check on the side cannot tell what it is.
fn garbled_then_silent() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let address = listener.local_addr().expect("local addr").to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            if n == 0 {
                let mut startup = [0u8; 8];
                let _ = stream.read_exact(&mut startup);
                // A message of a kind PostgreSQL does not send, of length 4: no body.
                let _ = stream.write_all(b"q\0\0\0\x04");
            }
            held.push(stream);
        }
    });
    address
}

/// The check on the side stops at the deadline: the connection's own error comes back in time,
/// not "no answer".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_on_the_side_stops_at_the_deadline() {
    let address = garbled_then_silent();
    let pg = connector(config(&[&address], Options::default()));
    let timeout = Duration::from_millis(400);
    let (error, took) = collect_error(&pg, timeout).await;
    assert!(
        took < timeout + Duration::from_millis(200),
        "{took:?}: {error}"
    );
    assert!(
        error.contains("is a PostgreSQL server listening there?") && !error.contains("no answer"),
        "{error}"
    );
}
