//! Redirects are followed as browsers and reqwest follow them: the method and body kept on a
//! 307 or 308, a GET after a 303 (and after a 301 or 302 to a POST), credentials kept only
//! within the origin, and ten at most.

mod common;

use common::deadline;
use dbmon_scrape::{DEFAULT_MAX_BODY_BYTES, FetchError, client, get, send};
use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpListener,
    sync::{Arc, Mutex},
    thread,
};

/// What a server saw of one request: method, path, its `authorization` header, its body.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    method: String,
    path: String,
    authorization: Option<String>,
    body: String,
}

/// A server that answers each request with `answer(path)` (status, extra header lines, body)
/// and records what it saw. Returns its base URL and the record.
fn server(
    answer: impl Fn(&str) -> (u16, String) + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (record, answer) = (Arc::clone(&seen), Arc::new(answer));
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let (record, answer) = (Arc::clone(&record), Arc::clone(&answer));
            thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut stream = stream;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let method = parts.next().unwrap_or("").to_string();
                    let path = parts.next().unwrap_or("").to_string();
                    let (mut length, mut authorization) = (0, None);
                    loop {
                        let mut header = String::new();
                        reader.read_line(&mut header).unwrap_or(0);
                        let header = header.trim_end();
                        if header.is_empty() {
                            break;
                        }
                        let (name, value) = header.split_once(':').unwrap_or((header, ""));
                        match name.to_ascii_lowercase().as_str() {
                            "content-length" => length = value.trim().parse().unwrap_or(0),
                            "authorization" => authorization = Some(value.trim().to_string()),
                            _ => {}
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap_or(());
                    record.lock().unwrap().push(Seen {
                        method,
                        path: path.clone(),
                        authorization,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                    let (status, rest) = answer(&path);
                    let reply = format!("HTTP/1.1 {status} X\r\n{rest}");
                    if stream.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (base, seen)
}

fn redirect_to(status: u16, location: &str) -> (u16, String) {
    (
        status,
        format!("location: {location}\r\ncontent-length: 0\r\n\r\n"),
    )
}

fn ok(body: &str) -> (u16, String) {
    (200, format!("content-length: {}\r\n\r\n{body}", body.len()))
}

#[tokio::test]
async fn a_get_follows_redirects_to_the_answer() {
    let (base, seen) = server(|path| match path {
        "/a" => redirect_to(301, "/b"),
        "/b" => redirect_to(302, "c"),
        "/c" => redirect_to(308, "/metrics?x=1"),
        _ => ok("up 1\n"),
    });
    let client = client(None).unwrap();
    let url = format!("{base}/a");
    let fetched = get(&client, &url, deadline(5), DEFAULT_MAX_BODY_BYTES)
        .await
        .expect("the answer at the end");
    assert_eq!((fetched.status, fetched.body.as_str()), (200, "up 1\n"));
    let paths: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.path.clone())
        .collect();
    assert_eq!(paths, ["/a", "/b", "/c", "/metrics?x=1"]);
}

#[tokio::test]
async fn a_post_keeps_its_body_on_307_and_becomes_a_get_on_303() {
    let (base, seen) = server(|path| match path {
        "/keep" => redirect_to(307, "/kept"),
        "/see" => redirect_to(303, "/seen"),
        _ => ok("done"),
    });
    let client = client(None).unwrap();
    for path in ["/keep", "/see"] {
        let url = format!("{base}{path}");
        let request = client.post(&url).body("user=monitor");
        send(request, &url, deadline(5), DEFAULT_MAX_BODY_BYTES)
            .await
            .expect("the answer at the end");
    }
    let seen: Vec<(String, String, String)> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| (s.method.clone(), s.path.clone(), s.body.clone()))
        .collect();
    let seen: Vec<(&str, &str, &str)> = seen
        .iter()
        .map(|(m, p, b)| (m.as_str(), p.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("POST", "/keep", "user=monitor"),
            ("POST", "/kept", "user=monitor"),
            ("POST", "/see", "user=monitor"),
            ("GET", "/seen", ""),
        ]
    );
}

#[tokio::test]
async fn credentials_follow_a_redirect_within_the_origin_only() {
    let (elsewhere, elsewhere_seen) = server(|_| ok("elsewhere"));
    let target = format!("{elsewhere}/metrics");
    let (base, seen) = server(move |path| match path {
        "/a" => redirect_to(302, "/b"),
        "/b" => redirect_to(302, &target),
        _ => ok("?"),
    });
    let client = client(None).unwrap();
    let url = format!("{base}/a");
    let request = client.get(&url).basic_auth("monitor", Some("secret"));
    let fetched = send(request, &url, deadline(5), DEFAULT_MAX_BODY_BYTES)
        .await
        .expect("the answer at the end");
    assert_eq!(fetched.body, "elsewhere");
    let sent: Vec<Option<String>> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.authorization.clone())
        .collect();
    let basic = Some("Basic bW9uaXRvcjpzZWNyZXQ=".to_string());
    assert_eq!(sent, [basic.clone(), basic]);
    assert_eq!(elsewhere_seen.lock().unwrap()[0].authorization, None);
}

#[tokio::test]
async fn a_redirect_loop_is_given_up_after_ten() {
    let (base, seen) = server(|_| redirect_to(302, "/again"));
    let client = client(None).unwrap();
    let url = format!("{base}/again");
    match get(&client, &url, deadline(5), DEFAULT_MAX_BODY_BYTES).await {
        Err(FetchError::Transport { message, .. }) => {
            assert_eq!(message, "more than 10 redirects")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(seen.lock().unwrap().len(), 11);
}
