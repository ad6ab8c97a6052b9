//! A request the server hung up on is sent again only when that is safe (GET, HEAD), and over a
//! new connection; only a new connection's hang-up is taken for "not HTTP".

mod common;

use common::deadline;
use dbmon_scrape::{DEFAULT_MAX_BODY_BYTES, FetchError, client, get, send};
use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    thread,
    time::Duration,
};

/// Reads one request's head; `false` when the client closed first.
fn read_head(stream: &mut TcpStream) -> bool {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return false,
        }
    }
    true
}

/// A server that counts the requests it reads and closes each connection without answering.
fn hangs_up(requests: Arc<AtomicUsize>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("local addr").port();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            if read_head(&mut stream) {
                requests.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    format!("http://127.0.0.1:{port}/login")
}

#[tokio::test]
async fn a_post_the_server_hung_up_on_is_not_sent_again() {
    let requests = Arc::new(AtomicUsize::new(0));
    let url = hangs_up(requests.clone());
    let client = client(None).expect("a client");
    let request = client.post(&url).body("user=monitor");
    let result = send(request, &url, deadline(5), DEFAULT_MAX_BODY_BYTES).await;
    // The server reads the request before it closes, so a second request would be counted.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(requests.load(Ordering::SeqCst), 1, "{result:?}");
    match result {
        Err(FetchError::Transport {
            message,
            not_http: false,
            ..
        }) => assert!(!message.contains("did not answer with HTTP"), "{message}"),
        other => panic!("{other:?}"),
    }
}

/// An HTTP server that answers the first request of each connection (slowly, so that two
/// requests open two connections) and hangs up on every later one: two keep-alive connections
/// that go stale at once, as when a server restarts.
fn answers_once_per_connection() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("local addr").port();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            thread::spawn(move || {
                if !read_head(&mut stream) {
                    return;
                }
                thread::sleep(Duration::from_millis(200));
                let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                if stream.write_all(answer).is_err() {
                    return;
                }
                // The next request on this connection gets no answer.
                read_head(&mut stream);
            });
        }
    });
    format!("http://127.0.0.1:{port}/metrics")
}

#[tokio::test]
async fn a_get_after_two_stale_connections_goes_over_a_new_one() {
    let url = answers_once_per_connection();
    let client = client(None).expect("a client");
    let (a, b) = tokio::join!(
        get(&client, &url, deadline(5), DEFAULT_MAX_BODY_BYTES),
        get(&client, &url, deadline(5), DEFAULT_MAX_BODY_BYTES),
    );
    assert_eq!(
        (a.expect("first").status, b.expect("second").status),
        (200, 200)
    );
    // Both pooled connections now fail; the retry must not take the second one.
    let fetched = get(&client, &url, deadline(5), DEFAULT_MAX_BODY_BYTES).await;
    match fetched {
        Ok(fetched) => assert_eq!((fetched.status, fetched.body.as_str()), (200, "ok")),
        Err(e) => panic!("a real HTTP server was taken for something else: {e}"),
    }
}
