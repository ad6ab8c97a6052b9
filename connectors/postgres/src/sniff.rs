//! "Is this PostgreSQL at all?": a second, short connection that makes the server show what it
//! speaks. Asked only when a connection is slow to start or fails with garbage, so that a port
//! of another kind of server fails fast and says so, instead of waiting out the timeout.

use std::{net::SocketAddr, time::Duration};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::timeout,
};

/// PostgreSQL's SSLRequest. A PostgreSQL server answers it at once with one byte: `N` (no TLS),
/// after which the hang-up goes unlogged, or `S`, after which it logs "could not accept SSL
/// connection: EOF detected" (one line per sniff, only on a server with `ssl = on`).
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// How long each step waits for the server to say something.
const STEP: Duration = Duration::from_millis(300);

/// What kind of server listens at `address` when it is not PostgreSQL (`"MySQL/MariaDB"`);
/// `None` when it answers like PostgreSQL or does not answer at all. Takes up to four steps of
/// [`STEP`]: callers bound it by their deadline.
pub async fn foreign_protocol(address: SocketAddr) -> Option<&'static str> {
    // A server that speaks first (MySQL, SSH, SMTP) says it by now or next; the SSLRequest gets
    // a PostgreSQL server to answer.
    if let Some(answer) = exchange(address, &SSL_REQUEST).await {
        return classify(&answer);
    }
    // Line-based servers (HTTP, Redis) wait for a line, and one without NUL bytes (Redis looks
    // for its end with strchr). On a new connection, as the first still holds the SSLRequest.
    classify(&exchange(address, HTTP_REQUEST).await?)
}

/// What HTTP and Redis servers both answer at once: a response, or `-ERR unknown command`.
const HTTP_REQUEST: &[u8] = b"HEAD / HTTP/1.0\r\n\r\n";

/// Connects, sends `request` and returns the first bytes of the answer, if any comes soon.
async fn exchange(address: SocketAddr, request: &[u8]) -> Option<Vec<u8>> {
    let mut stream = timeout(STEP, TcpStream::connect(address))
        .await
        .ok()?
        .ok()?;
    stream.write_all(request).await.ok()?;
    read_some(&mut stream).await
}

async fn read_some(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buffer = vec![0u8; 256];
    match timeout(STEP, stream.read(&mut buffer)).await {
        Ok(Ok(n)) if n > 0 => {
            buffer.truncate(n);
            Some(buffer)
        }
        _ => None,
    }
}

/// The protocol the first bytes of an answer belong to; `None` for PostgreSQL's.
pub fn classify(answer: &[u8]) -> Option<&'static str> {
    let kind = match answer {
        [] => return None,
        // SSLRequest answers; an ErrorResponse or authentication request.
        [b'S' | b'N'] | [b'E' | b'R', 0, ..] => return None,
        [b'H', b'T', b'T', b'P', b'/', ..] => "HTTP",
        [_, _, _, 0, 10 | 0xff, ..] => "MySQL/MariaDB",
        [b'-' | b'+', ..] => "Redis",
        [b'S', b'S', b'H', b'-', ..] => "SSH",
        [0x15 | 0x16, 3, ..] => "a TLS server",
        [b'I', b'N', b'F', b'O', b' ', ..] => "NATS",
        [b'A', b'M', b'Q', b'P', ..] => "AMQP",
        [b'2', b'2', b'0', b' ' | b'-', ..] => "SMTP or FTP",
        _ => "a protocol the connector does not know",
    };
    Some(kind)
}

/// The message for an endpoint that answered with `kind`.
pub fn message(address: &str, kind: &str) -> String {
    format!(
        "{address} answered with something that is not the PostgreSQL protocol (it looks like \
         {kind}); is this the right port?"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_bytes_name_the_protocol() {
        assert_eq!(classify(b"N"), None);
        assert_eq!(classify(b"S"), None);
        assert_eq!(classify(b"E\0\0\0\x50SFATAL"), None);
        assert_eq!(classify(b"HTTP/1.1 400 Bad Request\r\n"), Some("HTTP"));
        assert_eq!(classify(b"-ERR unknown command"), Some("Redis"));
        assert_eq!(
            classify(b"\x56\0\0\0\x0a11.4.2-MariaDB\0"),
            Some("MySQL/MariaDB")
        );
        assert_eq!(classify(b"SSH-2.0-OpenSSH_9.6\r\n"), Some("SSH"));
        assert_eq!(
            classify(b"\x15\x03\x03\0\x02\x02\x46"),
            Some("a TLS server")
        );
    }
}
