//! The host's YAML configuration: parsing, defaults, and validation whose every error names
//! `file:line:column`.

mod locate;
mod model;
mod secrets;

use crate::plugins::TrustPolicy;
pub use locate::{Locations, Position};
use model::DEFAULT_PLUGINS_DIR;
pub use model::{DEFAULT_LISTEN, Isolation, StoreKind, TlsEntry};

use model::{ClusterEntry, DEFAULT_INTERVAL, DEFAULT_TIMEOUT, FileConfig};
use std::{
    collections::HashMap,
    fmt,
    path::{Path, PathBuf},
    time::Duration,
};

/// A problem in the config file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// Where in it.
    pub position: Position,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Position { line, column } = self.position;
        write!(
            f,
            "{}:{line}:{column}: {}",
            self.file.display(),
            self.message
        )
    }
}

impl std::error::Error for ConfigError {}

/// Several problems, one per line.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// The validated configuration.
#[derive(Debug)]
pub struct Config {
    /// The file it came from.
    pub file: PathBuf,
    /// `host:port` to serve gRPC on.
    pub listen: String,
    /// Folder of connector libraries (absolute or relative to the working directory).
    pub plugins_dir: PathBuf,
    /// Which plugin files load.
    pub trust: TrustPolicy,
    /// Where reports are kept.
    pub store_kind: StoreKind,
    /// Reports kept per cluster.
    pub history: usize,
    /// The clusters, in file order.
    pub clusters: Vec<Cluster>,
    locations: Locations,
}

/// One cluster with every default applied and every secret resolved.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// Its position in `clusters:`, for error locations.
    pub index: usize,
    /// Unique id.
    pub id: String,
    /// Connector name.
    pub connector: String,
    /// Addresses of the cluster.
    pub endpoints: Vec<String>,
    /// Time between collections.
    pub interval: Duration,
    /// Time one collection may take.
    pub timeout: Duration,
    /// The first collection starts after an offset in `[0, jitter)` derived from the cluster's
    /// id (at most the interval).
    pub jitter: Duration,
    /// Fixed delay before the first collection.
    pub initial_delay: Duration,
    /// Where the connector runs.
    pub isolation: Isolation,
    tls: Option<TlsEntry>,
    auth: Option<secrets::Auth>,
    options: serde_json::Value,
}

impl Cluster {
    /// The configuration as the connector receives it (JSON of `ClusterConfig`). It holds the
    /// resolved password: never log it.
    pub fn connector_json(&self) -> String {
        serde_json::json!({
            "id": self.id,
            "endpoints": self.endpoints,
            "interval_ms": self.interval.as_millis() as u64,
            "timeout_ms": self.timeout.as_millis() as u64,
            "tls": self.tls.as_ref().map(|t| serde_json::json!({
                "ca": t.ca, "cert": t.cert, "key": t.key,
                "insecure_skip_verify": t.insecure_skip_verify,
            })),
            "auth": self.auth.as_ref().map(|a| serde_json::json!({
                "username": a.username, "password": a.password,
            })),
            "options": self.options,
        })
        .to_string()
    }
}

impl Config {
    /// Reads and validates `file`.
    pub fn load(file: &Path) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(file).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                file: file.to_path_buf(),
                position: Position { line: 1, column: 1 },
                message: format!("cannot read the config file: {e}"),
            }])
        })?;
        Self::parse(file, &text)
    }

    /// Validates `text` as if read from `file`.
    pub fn parse(file: &Path, text: &str) -> Result<Config, ConfigErrors> {
        let raw: FileConfig = match serde_yaml_ng::from_str(text) {
            Ok(raw) => raw,
            // An empty file is a config with no clusters.
            Err(_) if text.trim().is_empty() => serde_yaml_ng::from_str("{}").expect("empty"),
            Err(e) => return Err(ConfigErrors(vec![syntax_error(file, &e)])),
        };
        let base = file.parent().unwrap_or(Path::new("."));
        let mut config = Config {
            file: file.to_path_buf(),
            listen: raw.listen.clone().unwrap_or_else(|| DEFAULT_LISTEN.into()),
            plugins_dir: base.join(
                raw.plugins_dir
                    .as_deref()
                    .unwrap_or(Path::new(DEFAULT_PLUGINS_DIR)),
            ),
            trust: TrustPolicy {
                insecure: raw.plugins.insecure,
                allow: raw.plugins.allow.clone(),
            },
            store_kind: raw.store.kind,
            history: raw.store.history,
            clusters: Vec::new(),
            locations: Locations::index(text),
        };
        let mut errors = Vec::new();
        for (i, digest) in raw.plugins.allow.iter().enumerate() {
            if digest.len() != 64 || !digest.chars().all(|c| c.is_ascii_hexdigit()) {
                let message = format!("'{digest}' is not a SHA-256 digest (64 hex digits)");
                errors.push(config.error_at(&format!("plugins.allow[{i}]"), message));
            }
        }
        if config.history == 0 {
            errors.push(config.error_at("store.history", "must be at least 1"));
        }
        if config.listen.parse::<std::net::SocketAddr>().is_err() {
            let message = format!(
                "listen: '{}' is not a host:port address like 127.0.0.1:4000",
                config.listen
            );
            errors.push(config.error_at("listen", message));
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (index, entry) in raw.clusters.into_iter().enumerate() {
            if let Some(first) = seen.insert(entry.id.clone(), index) {
                let first_at = config.locations.get(&format!("clusters[{first}].id"));
                let message = format!(
                    "duplicate cluster id '{}' (first defined at line {})",
                    entry.id, first_at.line
                );
                errors.push(config.error_at(&format!("clusters[{index}].id"), message));
                continue;
            }
            let default_isolation = raw
                .connectors
                .get(&entry.connector)
                .and_then(|c| c.isolation);
            match config.resolve(index, entry, &raw.defaults, default_isolation, base) {
                Ok(cluster) => config.clusters.push(cluster),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// An error about the node at `path` (`clusters[0].options.url`).
    pub fn error_at(&self, path: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            position: self.locations.get(path),
            message: message.into(),
        }
    }

    fn resolve(
        &self,
        index: usize,
        entry: ClusterEntry,
        defaults: &model::Schedule,
        default_isolation: Option<Isolation>,
        base: &Path,
    ) -> Result<Cluster, ConfigError> {
        let at = |field: &str| format!("clusters[{index}].{field}");
        let id_ok = !entry.id.is_empty()
            && entry
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !id_ok {
            let message = format!(
                "cluster id '{}' must be non-empty and use only letters, digits, '-', '_' and '.'",
                entry.id
            );
            return Err(self.error_at(&at("id"), message));
        }
        let pick = |field: &str, own: &Option<model::Dur>, default: &Option<model::Dur>| {
            let (path, dur) = match (own, default) {
                (Some(d), _) => (at(field), d),
                (None, Some(d)) => (format!("defaults.{field}"), d),
                (None, None) => return Ok(None),
            };
            dur.parse(matches!(field, "jitter" | "initial_delay"))
                .map(Some)
                .map_err(|m| self.error_at(&path, m))
        };
        let interval =
            pick("interval", &entry.interval, &defaults.interval)?.unwrap_or(DEFAULT_INTERVAL);
        let timeout = pick("timeout", &entry.timeout, &defaults.timeout)?
            .unwrap_or(DEFAULT_TIMEOUT.min(interval));
        // By default collections are spread over the whole interval, as Prometheus spreads its
        // targets: a thousand clusters do not all fetch in the same millisecond.
        let jitter = pick("jitter", &entry.jitter, &defaults.jitter)?
            .unwrap_or(interval)
            .min(interval);
        let initial_delay = pick(
            "initial_delay",
            &entry.initial_delay,
            &defaults.initial_delay,
        )?
        .unwrap_or_default();
        if timeout > interval {
            let field = if entry.timeout.is_some() {
                at("timeout")
            } else {
                "defaults.timeout".into()
            };
            let message = format!(
                "timeout {} is longer than the interval {} of cluster '{}'",
                humantime::format_duration(timeout),
                humantime::format_duration(interval),
                entry.id
            );
            return Err(self.error_at(&field, message));
        }
        let tls = entry.tls.map(|mut t| {
            for path in [&mut t.ca, &mut t.cert, &mut t.key].into_iter().flatten() {
                *path = base.join(&*path);
            }
            t
        });
        let auth = match entry.auth {
            Some(a) => Some(secrets::resolve(a, base).map_err(|(field, message)| {
                self.error_at(&at(&format!("auth.{field}")), message)
            })?),
            None => None,
        };
        let options = match entry.options {
            serde_json::Value::Null => serde_json::Value::Object(Default::default()),
            other => other,
        };
        Ok(Cluster {
            index,
            id: entry.id,
            connector: entry.connector,
            endpoints: entry.endpoints,
            interval,
            timeout,
            jitter,
            initial_delay,
            isolation: entry.isolation.or(default_isolation).unwrap_or_default(),
            tls,
            auth,
            options,
        })
    }
}

fn syntax_error(file: &Path, e: &serde_yaml_ng::Error) -> ConfigError {
    let position = e
        .location()
        .map(|l| Position {
            line: l.line(),
            column: l.column(),
        })
        .unwrap_or(Position { line: 1, column: 1 });
    let mut message = e.to_string();
    // The position is already in front of the message.
    if let Some(cut) = message.find(" at line ") {
        message.truncate(cut);
    }
    ConfigError {
        file: file.to_path_buf(),
        position,
        message,
    }
}

#[cfg(test)]
mod tests;
