//! A request to something that is not an HTTP server says so, rather than "connection closed
//! before message completed".

mod common;

use common::{deadline, serve};
use dbmon_scrape::{DEFAULT_MAX_BODY_BYTES, FetchError, client, get};
use std::{net::TcpStream, time::Duration};

/// The message of a fetch that must fail because the other end is not HTTP.
async fn not_http(url: &str) -> String {
    let client = client(None).expect("a client");
    match get(&client, url, deadline(5), DEFAULT_MAX_BODY_BYTES).await {
        Err(FetchError::Transport {
            message,
            not_http: true,
            ..
        }) => message,
        other => panic!("{url}: {other:?}"),
    }
}

#[tokio::test]
async fn a_server_that_closes_without_answering_is_not_http() {
    // What PostgreSQL does with a request: it reads "GET " as a length, and hangs up.
    let message = not_http(&serve(b"", true)).await;
    assert!(
        message.contains("did not answer with HTTP")
            && message.contains("closed a new connection without a response")
            && message.contains("right port"),
        "{message}"
    );
}

#[tokio::test]
async fn a_server_with_a_greeting_is_not_http() {
    // A MySQL-style greeting: length, sequence 0, protocol 10, version.
    let message = not_http(&serve(
        b"\x4a\x00\x00\x00\x0a5.5.5-10.11.6-MariaDB\x00",
        false,
    ))
    .await;
    assert!(
        message.contains("did not answer with HTTP (") && message.contains("right port"),
        "{message}"
    );
    let message = not_http(&serve(b"-ERR unknown command 'GET'\r\n", true)).await;
    assert!(message.contains("did not answer with HTTP"), "{message}");
}

#[tokio::test]
async fn http_answers_are_not_flagged() {
    let client = client(None).expect("a client");
    let url = serve(b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n", true);
    let fetched = get(&client, &url, deadline(5), DEFAULT_MAX_BODY_BYTES)
        .await
        .expect("an answer");
    assert_eq!(fetched.status, 500);
}

/// The machine's PostgreSQL and Redis, when they run (read-only use: one request each).
#[tokio::test]
async fn the_real_postgres_and_redis_ports_are_not_http() {
    for port in [5432, 6379] {
        let addr = format!("127.0.0.1:{port}");
        let Ok(parsed) = addr.parse() else { continue };
        if TcpStream::connect_timeout(&parsed, Duration::from_secs(1)).is_err() {
            eprintln!("nothing listens on {addr}: skipped");
            continue;
        }
        let message = not_http(&format!("http://{addr}/metrics")).await;
        eprintln!("{addr}: {message}");
        assert!(
            message.contains("did not answer with HTTP"),
            "{addr}: {message}"
        );
    }
}

#[tokio::test]
async fn a_server_that_resets_without_answering_is_not_http() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("local addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            // Reads a little of the request and closes with the rest unread: a reset.
            let mut start = [0u8; 4];
            let _ = std::io::Read::read_exact(&mut stream, &mut start);
        }
    });
    let message = not_http(&format!("http://127.0.0.1:{port}/metrics")).await;
    assert!(message.contains("without a response"), "{message}");
}

/// A server that greets and hangs up at once can close the connection between hyper's handshake
/// and the request: hyper then cancels the request ("connection was not ready") rather than
/// saying the connection closed. That too is a server that did not answer with HTTP. The race
/// is won only now and then, so the test makes many connections, some of them at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_greets_and_hangs_up_at_once_is_not_http_every_time() {
    let url = serve(b"SSH-2.0-OpenSSH_9.6\r\n", false);
    for _ in 0..50 {
        let fetches: Vec<_> = (0..8)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move { not_http(&url).await })
            })
            .collect();
        for fetch in fetches {
            let message = fetch.await.expect("no panic");
            assert!(message.contains("did not answer with HTTP"), "{message}");
        }
    }
}

#[tokio::test]
async fn a_head_larger_than_the_read_buffer_is_an_http_answer_too_large() {
    let head = format!(
        "HTTP/1.1 200 OK\r\nx-big: {}\r\ncontent-length: 0\r\n\r\n",
        "a".repeat(dbmon_scrape::READ_BUFFER_BYTES)
    );
    let url = serve(Box::leak(head.into_bytes().into_boxed_slice()), true);
    let client = client(None).expect("a client");
    match get(&client, &url, deadline(5), DEFAULT_MAX_BODY_BYTES).await {
        Err(FetchError::Transport {
            message,
            not_http: false,
            ..
        }) => assert_eq!(
            message,
            format!(
                "the answer's status line and headers are larger than {} KiB",
                dbmon_scrape::READ_BUFFER_BYTES >> 10
            )
        ),
        other => panic!("{other:?}"),
    }
}
