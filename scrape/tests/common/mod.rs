//! A raw loopback server for the client's tests: it sends exactly the bytes a test gives, so a
//! test can send what a well-behaved server never would (a cut body, another protocol).
#![allow(dead_code)] // each test file uses its own part of this module

use std::{
    io::{Read, Write},
    net::{Shutdown, TcpListener},
    thread,
    time::{Duration, Instant},
};

/// Starts a server that answers each connection's first request with `answer` and closes.
/// With `wait_for_request: false` it sends `answer` as soon as it accepts, as a server with a
/// greeting does. Returns `http://127.0.0.1:PORT/metrics`.
pub fn serve(answer: &'static [u8], wait_for_request: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("local addr").port();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            thread::spawn(move || {
                if wait_for_request {
                    read_head(&mut stream);
                }
                let _ = stream.write_all(answer);
                let _ = stream.flush();
                let _ = stream.shutdown(Shutdown::Write);
                // Drain what the client still sends, so the close is a clean FIN, not a reset.
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut sink = [0u8; 1024];
                while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
            });
        }
    });
    format!("http://127.0.0.1:{port}/metrics")
}

/// Reads until the blank line that ends a request's head (or the client gives up).
fn read_head(stream: &mut std::net::TcpStream) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
}

/// A deadline `seconds` from now.
pub fn deadline(seconds: u64) -> Instant {
    Instant::now() + Duration::from_secs(seconds)
}
