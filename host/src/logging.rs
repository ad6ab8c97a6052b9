//! The host's log: tracing to stderr, or to a file that SIGHUP reopens (for logrotate).

use std::{
    fs::{File, OpenOptions},
    io,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, MutexGuard, OnceLock},
};
use tracing_subscriber::{EnvFilter, fmt::MakeWriter};

/// The log file, shared with the subscriber so that it can be swapped for a new one.
#[derive(Debug, Clone)]
pub struct LogFile {
    path: PathBuf,
    file: Arc<Mutex<File>>,
}

impl LogFile {
    fn open(path: &Path) -> io::Result<File> {
        OpenOptions::new().create(true).append(true).open(path)
    }

    /// Opens `path` again (after a rotation moved the old file away) and writes there from now on.
    pub fn reopen(&self) -> io::Result<()> {
        let fresh = Self::open(&self.path)?;
        *self.lock() = fresh;
        Ok(())
    }

    /// Where the log goes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, File> {
        self.file.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One log line's hold on the file.
pub struct Locked<'a>(MutexGuard<'a, File>);

impl io::Write for Locked<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<'a> MakeWriter<'a> for LogFile {
    type Writer = Locked<'a>;

    fn make_writer(&'a self) -> Locked<'a> {
        Locked(self.lock())
    }
}

/// How log lines are written (`--log-format`, `DBMON_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `fields`, `target`, `span`, `spans`),
    /// for log shippers.
    Json,
}

/// Installs the global subscriber with `filter`, writing lines in `format` to `file` when given;
/// returns the file's handle for reopening it.
pub fn init(
    filter: &str,
    format: LogFormat,
    file: Option<&Path>,
) -> Result<Option<LogFile>, String> {
    let filter =
        EnvFilter::try_new(filter).map_err(|e| format!("bad log filter '{filter}': {e}"))?;
    match file {
        Some(path) => {
            let file = LogFile::open(path)
                .map_err(|e| format!("cannot open log file {}: {e}", path.display()))?;
            let log = LogFile {
                path: path.to_path_buf(),
                file: Arc::new(Mutex::new(file)),
            };
            install(filter, format, log.clone(), false);
            Ok(Some(log))
        }
        None => {
            install(filter, format, io::stderr, true);
            Ok(None)
        }
    }
}

/// Changes the filter of the subscriber [`init`] installed (a reload's `log_level:`).
type SetFilter = Box<dyn Fn(EnvFilter) -> Result<(), String> + Send + Sync>;
static SET_FILTER: OnceLock<SetFilter> = OnceLock::new();

/// Filters the log with `filter` from now on; an error when it is not a filter, or when no
/// log was installed.
pub fn set_filter(filter: &str) -> Result<(), String> {
    let parsed =
        EnvFilter::try_new(filter).map_err(|e| format!("bad log filter '{filter}': {e}"))?;
    match SET_FILTER.get() {
        Some(set) => set(parsed),
        None => Err("no log to filter".into()),
    }
}

/// Keeps the handle that changes an installed subscriber's filter.
macro_rules! reloadable {
    ($builder:expr) => {{
        let builder = $builder.with_filter_reloading();
        let handle = builder.reload_handle();
        let _ = SET_FILTER.set(Box::new(move |f| {
            handle.reload(f).map_err(|e| e.to_string())
        }));
        builder.init()
    }};
}

/// Sets the global subscriber: `format` lines to `writer`, in colour when `terminal` allows it
/// (never in JSON, whose readers are programs).
fn install<W>(filter: EnvFilter, format: LogFormat, writer: W, terminal: bool)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text if terminal => reloadable!(builder),
        LogFormat::Text => reloadable!(builder.with_ansi(false)),
        LogFormat::Json => reloadable!(builder.with_ansi(false).json()),
    }
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
