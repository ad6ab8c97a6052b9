//! Connections are kept between requests: a cluster's collections reuse them (over TLS a
//! handshake per request would cost more than the request), also after a body larger than a
//! connection's read buffer.

mod common;

use common::deadline;
use dbmon_scrape::{DEFAULT_MAX_BODY_BYTES, READ_BUFFER_BYTES, client, get};
use std::{
    io::{BufRead, BufReader, Write},
    net::TcpListener,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    thread,
};

/// A keep-alive server that answers every request with `body`; counts the connections it
/// accepted.
fn keep_alive(body: Arc<str>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!(
        "http://127.0.0.1:{}/metrics",
        listener.local_addr().unwrap().port()
    );
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            count.fetch_add(1, Ordering::SeqCst);
            let body = Arc::clone(&body);
            thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut stream = stream;
                loop {
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
                    if stream.write_all(head.as_bytes()).is_err()
                        || stream.write_all(body.as_bytes()).is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (url, accepted)
}

#[tokio::test]
async fn requests_one_after_another_share_one_connection() {
    let body: Arc<str> = "x".repeat(3 * READ_BUFFER_BYTES + 123).into();
    let (url, accepted) = keep_alive(Arc::clone(&body));
    let client = client(None).unwrap();
    for _ in 0..5 {
        let fetched = get(&client, &url, deadline(5), DEFAULT_MAX_BODY_BYTES)
            .await
            .expect("an answer");
        assert_eq!(fetched.body.len(), body.len());
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn requests_at_once_open_a_connection_each_and_keep_them() {
    let (url, accepted) = keep_alive("up 1\n".into());
    let client = client(None).unwrap();
    for _ in 0..3 {
        let (a, b) = tokio::join!(
            get(&client, &url, deadline(5), DEFAULT_MAX_BODY_BYTES),
            get(&client, &url, deadline(5), DEFAULT_MAX_BODY_BYTES),
        );
        assert_eq!(
            (a.unwrap().body, b.unwrap().body),
            ("up 1\n".into(), "up 1\n".into())
        );
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}
