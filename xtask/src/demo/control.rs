//! The running demo's control socket (`control.sock` in the state folder): one request line
//! per connection (`fault NAME` or `stop`), answered with text; an answer that starts with
//! `error:` is a refusal, and the client exits 1.

use super::{
    clusters::Clusters,
    faults::{FAULTS, Fault},
};
use anyhow::{Context, Result};
use std::{
    io::{Read, Write},
    path::Path,
    sync::{Arc, Mutex},
};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::UnixListener,
    sync::watch,
};

/// Serves the socket until the demo stops; `stop` sets `stopping`.
pub fn serve(
    listener: UnixListener,
    clusters: Arc<Mutex<Clusters>>,
    stopping: watch::Sender<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let clusters = Arc::clone(&clusters);
            let stopping = stopping.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut line = String::new();
                if BufReader::new(read).read_line(&mut line).await.is_err() {
                    return;
                }
                let answer = answer(line.trim(), clusters, &stopping).await;
                let _ = write.write_all(answer.as_bytes()).await;
                let _ = write.shutdown().await;
            });
        }
    })
}

async fn answer(
    request: &str,
    clusters: Arc<Mutex<Clusters>>,
    stopping: &watch::Sender<bool>,
) -> String {
    let mut words = request.split_whitespace();
    match (words.next(), words.next()) {
        (Some("stop"), None) => {
            let _ = stopping.send(true);
            "the demo is stopping.\n".into()
        }
        (Some("fault"), Some(name)) => {
            let Some(fault) = Fault::from_name(name) else {
                return format!("error: unknown fault '{name}'; {}\n", fault_names());
            };
            let rt = tokio::runtime::Handle::current();
            // Stopping and starting servers blocks; one fault at a time (the lock).
            let done = tokio::task::spawn_blocking(move || {
                let mut clusters = clusters.lock().unwrap_or_else(|p| p.into_inner());
                clusters.inject(fault, &rt)
            })
            .await;
            match done {
                Ok(text) => text + "\n",
                Err(e) => format!("error: the fault failed: {e}\n"),
            }
        }
        _ => format!("error: unknown request '{request}'\n"),
    }
}

/// `faults: etcd-member-down, ...`.
pub fn fault_names() -> String {
    let names: Vec<&str> = FAULTS.iter().map(|(_, name, _)| *name).collect();
    format!("faults: {}", names.join(", "))
}

/// Sends `request` to the demo behind `socket`; its answer and whether it is a refusal.
pub fn send(socket: &Path, request: &str) -> Result<(String, bool)> {
    let mut stream = std::os::unix::net::UnixStream::connect(socket)
        .with_context(|| format!("connecting to the demo at {}", socket.display()))?;
    stream.write_all(format!("{request}\n").as_bytes())?;
    stream.shutdown(std::net::Shutdown::Write)?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let refused = answer.starts_with("error:");
    Ok((answer, refused))
}
