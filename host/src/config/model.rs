//! The YAML file as the operator writes it. Every field is documented here; the repository's
//! `dbmon.yaml` shows them in use.

use serde::Deserialize;
use std::{path::PathBuf, time::Duration};

/// Where the host listens unless `listen:` or `--listen` says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:4000";
/// Folder of connector libraries, relative to the config file.
pub const DEFAULT_PLUGINS_DIR: &str = "plugins.d";
/// Reports kept per cluster.
pub const DEFAULT_HISTORY: usize = 100;
/// Time between two collections of a cluster.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
/// Time one collection may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `host:port` of the gRPC server. By default, this is `127.0.0.1:4000`.
    #[serde(default)]
    pub listen: Option<String>,
    /// Folder of connector `.so` files, relative to the config file. By default, `plugins.d`.
    #[serde(default)]
    pub plugins_dir: Option<PathBuf>,
    /// Which plugin files are trusted.
    #[serde(default)]
    pub plugins: PluginsConfig,
    /// The report store.
    #[serde(default)]
    pub store: StoreConfig,
    /// Defaults for every cluster.
    #[serde(default)]
    pub defaults: Schedule,
    /// Defaults per connector, by connector name.
    #[serde(default)]
    pub connectors: std::collections::BTreeMap<String, ConnectorDefaults>,
    /// The clusters to monitor.
    #[serde(default)]
    pub clusters: Vec<ClusterEntry>,
}

/// `plugins:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginsConfig {
    /// Load plugin files and folders writable by group or others, or owned by another user.
    /// By default, this is false.
    #[serde(default)]
    pub insecure: bool,
    /// When set, only libraries with one of these SHA-256 digests load. By default, any.
    #[serde(default)]
    pub allow: Vec<String>,
}

/// One entry of `connectors:`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorDefaults {
    /// How clusters of this connector run unless they say otherwise.
    #[serde(default)]
    pub isolation: Option<Isolation>,
}

/// Where a cluster's connector runs.
#[derive(Debug, Default, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// In the host's process: fastest; a crash in the connector takes the host down.
    #[default]
    InProcess,
    /// In a `dbmon worker` child process per cluster: a crash kills only the worker, which
    /// the host restarts with capped exponential backoff.
    Process,
}

impl Isolation {
    /// The name used in the YAML and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Isolation::InProcess => "in_process",
            Isolation::Process => "process",
        }
    }
}

/// `store:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Only `memory` for now.
    #[serde(default = "memory")]
    pub kind: StoreKind,
    /// Reports kept per cluster. By default, this is 100.
    #[serde(default = "default_history")]
    pub history: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            kind: StoreKind::Memory,
            history: DEFAULT_HISTORY,
        }
    }
}

fn memory() -> StoreKind {
    StoreKind::Memory
}

fn default_history() -> usize {
    DEFAULT_HISTORY
}

/// Where reports are kept.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    /// In the host's memory, lost on restart.
    Memory,
}

/// When a cluster is collected; every field may be set in `defaults:` or per cluster.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Time between collections. By default, 10s.
    #[serde(default)]
    pub interval: Option<Dur>,
    /// Time one collection may take, at most `interval`. By default, 5s (or `interval`).
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// Each agent starts after an offset up to this, derived from its cluster id, spreading
    /// collections over time. By default, the interval.
    #[serde(default)]
    pub jitter: Option<Dur>,
    /// Fixed delay before the first collection. By default, 0.
    #[serde(default)]
    pub initial_delay: Option<Dur>,
}

/// One entry of `clusters:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterEntry {
    /// Unique id, used by clients (`dbmon reports ID`).
    pub id: String,
    /// Name of the connector (as `dbmon connectors` lists it).
    pub connector: String,
    /// Addresses of the cluster's nodes or API.
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// Time between collections, overriding `defaults.interval`.
    #[serde(default)]
    pub interval: Option<Dur>,
    /// Time one collection may take, overriding `defaults.timeout`.
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// Bound of the start offset, overriding `defaults.jitter`.
    #[serde(default)]
    pub jitter: Option<Dur>,
    /// Delay before the first collection, overriding `defaults.initial_delay`.
    #[serde(default)]
    pub initial_delay: Option<Dur>,
    /// TLS settings handed to the connector.
    #[serde(default)]
    pub tls: Option<TlsEntry>,
    /// Credentials handed to the connector.
    #[serde(default)]
    pub auth: Option<AuthEntry>,
    /// Where the connector runs, overriding `connectors.NAME.isolation`. By default, in the
    /// host's process.
    #[serde(default)]
    pub isolation: Option<Isolation>,
    /// Connector-specific options; the connector validates them.
    #[serde(default)]
    pub options: serde_json::Value,
}

/// `tls:` of a cluster.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct TlsEntry {
    /// CA certificate (PEM), relative to the config file.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM).
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// Client key (PEM).
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// Accept any server certificate.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

/// `auth:` of a cluster. Secrets come from `${env:VAR}` or `password_file`.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct AuthEntry {
    /// User name.
    #[serde(default)]
    pub username: Option<String>,
    /// Password, literally or as `${env:VAR}`.
    #[serde(default)]
    pub password: Option<String>,
    /// File whose first line is the password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

impl std::fmt::Debug for AuthEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthEntry")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("password_file", &self.password_file)
            .finish()
    }
}

/// A duration as written (`10s`, `1m30s`, `500ms`); checked after parsing so that a bad one
/// is reported at its own line and column.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Dur(pub String);

impl Dur {
    /// The duration, or what is wrong with it.
    pub fn parse(&self, allow_zero: bool) -> Result<Duration, String> {
        let text = &self.0;
        let parsed = humantime::parse_duration(text.trim()).map_err(|e| {
            format!("invalid duration '{text}': {e} (write it as 500ms, 10s, 1m30s)")
        })?;
        if parsed.is_zero() && !allow_zero {
            return Err(format!("invalid duration '{text}': must be more than zero"));
        }
        Ok(parsed)
    }
}
