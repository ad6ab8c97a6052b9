//! Forwards the connector's `tracing` events to the host's log. The library's copy of tracing
//! has its own global subscriber, invisible to the host's: this one hands every formatted line
//! to the host through the callback it passed to `init`.

use crate::ffi::{FfiHost, level};
use std::{io, sync::OnceLock};
use tracing::{Level, Metadata};
use tracing_subscriber::{
    Layer, filter::LevelFilter, fmt::MakeWriter, layer::SubscriberExt, util::SubscriberInitExt,
};

static HOST: OnceLock<FfiHost> = OnceLock::new();
static CONNECTOR: OnceLock<&'static str> = OnceLock::new();

/// Installs the forwarding subscriber and a panic hook that logs instead of printing.
pub(crate) fn init(host: FfiHost, connector: &'static str) {
    if HOST.set(host).is_err() {
        return;
    }
    let _ = CONNECTOR.set(connector);
    let max = match host.max_level {
        level::ERROR => LevelFilter::ERROR,
        level::WARN => LevelFilter::WARN,
        level::INFO => LevelFilter::INFO,
        level::DEBUG => LevelFilter::DEBUG,
        level::TRACE => LevelFilter::TRACE,
        _ => LevelFilter::OFF,
    };
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .without_time()
        .with_level(false)
        .with_target(false)
        .with_writer(HostWriter)
        .with_filter(max);
    // Fails only when the author installed a subscriber of their own; theirs wins.
    let _ = tracing_subscriber::registry().with(layer).try_init();
    // The host reports the panic as the collection's error; this keeps the library's default
    // hook from writing a second copy straight to the host's stderr.
    std::panic::set_hook(Box::new(|info| {
        tracing::error!(target: "panic", "{info}");
    }));
}

struct HostWriter;

impl<'a> MakeWriter<'a> for HostWriter {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        LineWriter {
            level: level::INFO,
            target: CONNECTOR.get().unwrap_or(&"?").to_string(),
            line: Vec::new(),
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> LineWriter {
        let level = match *meta.level() {
            Level::ERROR => level::ERROR,
            Level::WARN => level::WARN,
            Level::INFO => level::INFO,
            Level::DEBUG => level::DEBUG,
            Level::TRACE => level::TRACE,
        };
        LineWriter {
            level,
            target: format!("{}/{}", CONNECTOR.get().unwrap_or(&"?"), meta.target()),
            line: Vec::new(),
        }
    }
}

/// Collects one formatted event and sends it when dropped (the fmt layer writes each event
/// in one go, then drops the writer).
struct LineWriter {
    level: u8,
    target: String,
    line: Vec<u8>,
}

impl io::Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        let Some(host) = HOST.get() else { return };
        let line = String::from_utf8_lossy(&self.line);
        let line = line.trim_end_matches(['\n', '\r']);
        if !line.is_empty() {
            (host.log)(self.level, self.target.as_str().into(), line.into());
        }
    }
}
