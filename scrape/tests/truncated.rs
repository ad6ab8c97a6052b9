//! A body that ends early is an error, never a shorter body: `m 12` must not stand for `m 12345`.

mod common;

use common::{deadline, serve};
use dbmon_scrape::{DEFAULT_MAX_BODY_BYTES, FetchError, client, get};

async fn fetch(url: &str) -> Result<dbmon_scrape::Fetched, FetchError> {
    let client = client(None).expect("a client");
    get(&client, url, deadline(5), DEFAULT_MAX_BODY_BYTES).await
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_is_an_error() {
    let url = serve(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\nm 12",
        true,
    );
    let result = fetch(&url).await;
    let Err(FetchError::Transport {
        message, not_http, ..
    }) = &result
    else {
        panic!("a cut body was accepted: {result:?}");
    };
    assert!(
        message.contains("cut short") && message.contains("after 4 of 8 bytes"),
        "{message}"
    );
    assert!(!not_http);
}

#[tokio::test]
async fn a_cut_body_without_keep_alive_is_an_error_too() {
    let url = serve(
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 8\r\n\r\nm 12",
        true,
    );
    let result = fetch(&url).await;
    assert!(
        matches!(&result, Err(FetchError::Transport { message, .. }) if message.contains("4 of 8")),
        "{result:?}"
    );
    let url = serve(b"HTTP/1.0 200 OK\r\nContent-Length: 8\r\n\r\nm 12", true);
    let result = fetch(&url).await;
    assert!(
        matches!(&result, Err(FetchError::Transport { message, .. }) if message.contains("4 of 8")),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_chunked_body_cut_before_its_last_chunk_is_an_error() {
    let url = serve(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nm 12\r\n",
        true,
    );
    let result = fetch(&url).await;
    let Err(FetchError::Transport { message, .. }) = &result else {
        panic!("a cut chunked body was accepted: {result:?}");
    };
    assert!(
        message.contains("cut short") && message.contains("before its last chunk, after 4 bytes"),
        "{message}"
    );
    // Cut inside a chunk, too.
    let url = serve(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nm 12",
        true,
    );
    let result = fetch(&url).await;
    assert!(
        matches!(&result, Err(FetchError::Transport { message, .. }) if message.contains("cut short")),
        "{result:?}"
    );
}

#[tokio::test]
async fn complete_bodies_are_read_whole() {
    let url = serve(
        b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nm 12345\n",
        true,
    );
    let fetched = fetch(&url).await.expect("a body");
    assert_eq!(
        (fetched.body.as_str(), fetched.content_type.as_str()),
        ("m 12345\n", "")
    );
    let url = serve(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nm 12\r\n4\r\n345\n\r\n0\r\n\r\n",
        true,
    );
    assert_eq!(fetch(&url).await.expect("a body").body, "m 12345\n");
    // Without a length, the body ends where the connection does.
    let url = serve(b"HTTP/1.0 200 OK\r\n\r\nm 12345\n", true);
    assert_eq!(fetch(&url).await.expect("a body").body, "m 12345\n");
}
