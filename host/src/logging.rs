//! The host's log: tracing to stderr, or to a file.

use std::{fs::OpenOptions, path::Path, sync::Mutex};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber with `filter`, writing to `file` when given.
pub fn init(filter: &str, file: Option<&Path>) -> Result<(), String> {
    let filter =
        EnvFilter::try_new(filter).map_err(|e| format!("bad log filter '{filter}': {e}"))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match file {
        Some(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("cannot open log file {}: {e}", path.display()))?;
            builder
                .with_ansi(false)
                .with_writer(Mutex::new(file))
                .init();
        }
        None => builder.with_writer(std::io::stderr).init(),
    }
    Ok(())
}

/// A worker's log: plain lines on stderr, which the host re-logs with the cluster's name.
pub fn init_worker(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .without_time()
        .with_writer(std::io::stderr)
        .init();
}
