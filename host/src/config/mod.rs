//! The host's YAML configuration: parsing, defaults, and validation whose every error names
//! `file:line:column`.

mod alerts;
mod de;
mod locate;
mod model;
mod secrets;
mod syntax;
mod tree;

use crate::plugins::TrustPolicy;
pub use alerts::{AlertTarget, Alerts};
use dbmon_connector_api::{AuthConfig, ClusterConfig, TlsConfig};
pub use locate::{Locations, Position};
use model::DEFAULT_PLUGINS_DIR;
pub use model::{ClientAuth, Role};
pub use model::{DEFAULT_LISTEN, Isolation, StoreKind};

use model::{ClusterEntry, DEFAULT_INTERVAL, DEFAULT_TIMEOUT, FileConfig};
use std::{
    collections::HashMap,
    fmt,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};
use tree::{Kind, Node, Problem};

/// A problem in the config file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// Where in it; [`Position::OUTSIDE`] for a value given by a flag or the environment,
    /// which the message then names.
    pub position: Position,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Position { line, column } = self.position;
        if self.position == Position::OUTSIDE {
            return write!(f, "{}", self.message);
        }
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
    /// `host:port` of the HTTP listener (`/metrics`), when set.
    pub metrics_listen: Option<String>,
    /// Folder of connector libraries (absolute or relative to the working directory).
    pub plugins_dir: PathBuf,
    /// Which plugin files load.
    pub trust: TrustPolicy,
    /// Where reports are kept.
    pub store_kind: StoreKind,
    /// Reports kept per cluster.
    pub history: usize,
    /// The file store's folder (resolved against the config file's), with `StoreKind::File`.
    pub store_path: Option<PathBuf>,
    /// Reports older than this are dropped.
    pub retention: Option<std::time::Duration>,
    /// Limits of the client API.
    pub api: Api,
    /// The clusters, in file order.
    pub clusters: Vec<Cluster>,
    /// `tls:` of the gRPC listener, paths resolved.
    pub tls: Option<crate::security::TlsSettings>,
    /// `auth:` of the gRPC listener (the entries without errors).
    pub auth: Option<crate::security::AuthSettings>,
    /// `insecure:`: serve beyond loopback without TLS and authentication.
    pub insecure: bool,
    /// `collector:` with paths resolved against the file's folder.
    pub collector: Collector,
    /// `watch_config:`: reload when the file changes.
    pub watch_config: bool,
    /// `log_level:`, checked.
    pub log_level: Option<String>,
    /// `store:` with `kind: redis`, resolved (secrets read), when valid.
    pub shared_store: Option<crate::store::SharedOptions>,
    /// `coordination:` resolved (secrets read), when set and valid.
    pub coordination: Option<Coordination>,
    /// `alerts:`, when set and valid.
    pub alerts: Option<Alerts>,
    /// Whether the file has a `coordination:` section (valid or not), for the pins' check.
    coordination_section: bool,
    locations: Locations,
}

/// `coordination:`: collectors that share the file share its clusters through etcd
/// (`crate::coordination`).
#[derive(Debug, Clone)]
pub struct Coordination {
    /// etcd's client URLs, `http://` or `https://`, without a trailing `/`.
    pub endpoints: Vec<String>,
    /// TLS to etcd (paths resolved).
    pub tls: Option<TlsConfig>,
    /// etcd user and password (resolved; its `Debug` never prints the password).
    pub auth: Option<AuthConfig>,
    /// The lease's time to live, whole seconds, at least 2 s.
    pub lease_ttl: Duration,
    /// Key prefix, starting with `/`, without a trailing `/`.
    pub prefix: String,
}

/// `collector:`: where a collector pushes and as whom (paths resolved).
#[derive(Debug, Clone, Default)]
pub struct Collector {
    /// Its id on the server, when set.
    pub id: Option<String>,
    /// The servers' URLs, when set.
    pub upstream: Option<Vec<String>>,
    /// CA certificate of the server's certificate.
    pub ca: Option<PathBuf>,
    /// Client certificate.
    pub cert: Option<PathBuf>,
    /// Its key.
    pub key: Option<PathBuf>,
    /// File holding the bearer token.
    pub token_file: Option<PathBuf>,
    /// Bytes of unacknowledged reports kept at most.
    pub buffer_bytes: usize,
    /// Its share of the clusters relative to the other collectors' (with coordination).
    pub weight: u32,
}

/// `api:` with every default applied.
#[derive(Debug, Clone)]
pub struct Api {
    /// Largest request message, in bytes.
    pub max_message_bytes: usize,
    /// Concurrent calls on one connection.
    pub max_streams_per_connection: u32,
    /// Open Watch streams over all connections.
    pub max_watchers: usize,
    /// Bytes of unread reports after which a Watch stream is ended.
    pub watch_max_lag_bytes: usize,
    /// Time a Watch client may read nothing while reports wait, before its connection closes.
    pub watch_stall_timeout: Duration,
    /// Time open calls get after SIGTERM.
    pub shutdown_grace: Duration,
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
    /// With coordination, the only collector that may collect it (`collector:`).
    pub collector: Option<String>,
    /// Its verdict rules (the connector's defaults and its own), compiled.
    pub rules: Arc<crate::rules::Rules>,
    tls: Option<TlsConfig>,
    auth: Option<AuthConfig>,
    options: serde_json::Value,
}

impl Cluster {
    /// The configuration as the connector receives it (JSON of `ClusterConfig`). It holds the
    /// resolved password: never log it.
    pub fn connector_json(&self) -> String {
        // The SDK's type is the contract: the host fills it in and serializes it.
        let config = ClusterConfig {
            id: self.id.clone(),
            endpoints: self.endpoints.clone(),
            interval_ms: self.interval.as_millis() as u64,
            timeout_ms: self.timeout.as_millis() as u64,
            tls: self.tls.clone(),
            auth: self.auth.clone(),
            options: &self.options,
        };
        serde_json::to_string(&config).expect("a cluster's configuration serializes")
    }
}

impl Config {
    /// Reads and validates `file`.
    pub fn load(file: &Path) -> Result<Config, ConfigErrors> {
        checked(Self::load_partial(file))
    }

    /// Validates `text` as if read from `file`.
    pub fn parse(file: &Path, text: &str) -> Result<Config, ConfigErrors> {
        checked(Self::parse_partial(file, text))
    }

    /// Reads `file` and returns every error in it, with the configuration of what is valid:
    /// the clusters without errors, and the settings (or their defaults where they are wrong),
    /// so that connectors can still check those clusters.
    pub fn load_partial(file: &Path) -> (Config, Vec<ConfigError>) {
        match std::fs::read_to_string(file) {
            Ok(text) => Self::parse_partial(file, &text),
            Err(e) => {
                let config = Config::new(file, &FileConfig::default(), Locations::default());
                let error = config.error_at("", format!("cannot read the config file: {e}"));
                (config, vec![error])
            }
        }
    }

    /// As [`Config::load_partial`], for `text` as if read from `file`.
    pub fn parse_partial(file: &Path, text: &str) -> (Config, Vec<ConfigError>) {
        let parsed = tree::parse(text);
        let mut problems = parsed.problems;
        let (raw, locations) = match &parsed.root {
            Some(root) if !root.is_null() => (sections(root, &mut problems), Locations::of(root)),
            _ => {
                if problems.is_empty() {
                    problems.push(Problem {
                        position: Position { line: 1, column: 1 },
                        message: EMPTY_FILE.into(),
                    });
                }
                (FileConfig::default(), Locations::default())
            }
        };
        let mut config = Config::new(file, &raw, locations);
        let mut errors: Vec<ConfigError> = problems
            .into_iter()
            .map(|p| ConfigError {
                file: file.to_path_buf(),
                position: p.position,
                message: p.message,
            })
            .collect();
        config.check_settings(&raw, &mut errors);
        config.add_coordination(&raw, &mut errors);
        config.add_alerts(&raw, &mut errors);
        config.add_shared_store(&raw, &mut errors);
        config.add_clusters(raw, &mut errors);
        errors.sort_by_key(|e| e.position);
        (config, errors)
    }

    /// An error about the node at `path` (`clusters[0].options.url`).
    pub fn error_at(&self, path: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            position: self.locations.get(path),
            message: message.into(),
        }
    }

    /// The settings of `raw`, without clusters.
    fn new(file: &Path, raw: &FileConfig, locations: Locations) -> Config {
        let base = file.parent().unwrap_or(Path::new("."));
        Config {
            file: file.to_path_buf(),
            listen: raw.listen.clone().unwrap_or_else(|| DEFAULT_LISTEN.into()),
            metrics_listen: raw.metrics_listen.clone(),
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
            store_path: (raw.store.kind == StoreKind::File).then(|| {
                base.join(
                    raw.store
                        .path
                        .as_deref()
                        .unwrap_or(Path::new(model::DEFAULT_STORE_DIR)),
                )
            }),
            retention: raw.store.retention.map(|p| p.0),
            api: Api {
                max_message_bytes: raw.api.max_message_bytes,
                max_streams_per_connection: u32::try_from(raw.api.max_streams_per_connection)
                    .unwrap_or(u32::MAX),
                max_watchers: raw.api.max_watchers,
                watch_max_lag_bytes: raw.api.watch_max_lag_bytes,
                watch_stall_timeout: raw
                    .api
                    .watch_stall_timeout
                    .map_or(model::DEFAULT_WATCH_STALL_TIMEOUT, |p| p.0),
                shutdown_grace: raw
                    .api
                    .shutdown_grace
                    .map_or(model::DEFAULT_SHUTDOWN_GRACE, |d| d.0),
            },
            clusters: Vec::new(),
            tls: raw.tls.as_ref().map(|t| crate::security::TlsSettings {
                cert: base.join(&t.cert),
                key: base.join(&t.key),
                client_ca: t.client_ca.as_ref().map(|p| base.join(p)),
                client_auth: t.client_auth.unwrap_or(if t.client_ca.is_some() {
                    ClientAuth::Required
                } else {
                    ClientAuth::None
                }),
            }),
            auth: raw.auth.as_ref().map(security_auth),
            insecure: raw.insecure,
            watch_config: raw.watch_config,
            log_level: raw.log_level.clone(),
            collector: Collector {
                id: raw.collector.id.clone(),
                upstream: raw.collector.upstream.clone(),
                ca: raw.collector.ca.as_ref().map(|p| base.join(p)),
                cert: raw.collector.cert.as_ref().map(|p| base.join(p)),
                key: raw.collector.key.as_ref().map(|p| base.join(p)),
                token_file: raw.collector.token_file.as_ref().map(|p| base.join(p)),
                buffer_bytes: raw.collector.buffer_bytes,
                weight: raw.collector.weight,
            },
            shared_store: None,
            coordination: None,
            alerts: None,
            coordination_section: raw.coordination.is_some(),
            locations,
        }
    }

    /// The checks of settings that their types do not make.
    fn check_settings(&self, raw: &FileConfig, errors: &mut Vec<ConfigError>) {
        if let Some(level) = &raw.log_level
            && let Err(e) = tracing_subscriber::EnvFilter::try_new(level)
        {
            let message = format!("'{level}' is not a log filter (info, debug, dbmon=debug): {e}");
            errors.push(self.error_at("log_level", message));
        }
        for (i, digest) in raw.plugins.allow.iter().enumerate() {
            if digest.len() != 64 || !digest.chars().all(|c| c.is_ascii_hexdigit()) {
                let message = format!("'{digest}' is not a SHA-256 digest (64 hex digits)");
                errors.push(self.error_at(&format!("plugins.allow[{i}]"), message));
            }
        }
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            let message = format!(
                "listen: '{}' is not a host:port address like 127.0.0.1:4000",
                self.listen
            );
            errors.push(self.error_at("listen", message));
        }
        if let Some(address) = &self.metrics_listen
            && address.parse::<std::net::SocketAddr>().is_err()
        {
            let message = format!(
                "metrics_listen: '{address}' is not a host:port address like 127.0.0.1:9464"
            );
            errors.push(self.error_at("metrics_listen", message));
        }
        self.check_security(raw, errors);
        self.check_store(raw, errors);
    }

    /// `store.path` without the file store, or naming a file rather than a folder; the shared
    /// store's settings in another kind of store.
    fn check_store(&self, raw: &FileConfig, errors: &mut Vec<ConfigError>) {
        if raw.store.kind != StoreKind::File && raw.store.path.is_some() {
            let message = "store.path is for the file store: add kind: file, or remove path";
            errors.push(self.error_at("store.path", message));
        }
        if raw.store.kind != StoreKind::Redis {
            let store = &raw.store;
            let set = [
                ("url", store.url.is_some()),
                ("cluster", store.cluster.is_some()),
                ("tls", store.tls.is_some()),
                ("auth", store.auth.is_some()),
            ];
            for (field, _) in set.iter().filter(|(_, set)| *set) {
                let message = format!(
                    "store.{field} is for the shared store: add kind: redis, or remove {field}"
                );
                errors.push(self.error_at(&format!("store.{field}"), message));
            }
        }
        if let Some(path) = &self.store_path
            && path.exists()
            && !path.is_dir()
        {
            let message = format!(
                "store.path '{}' is a file; the file store needs a folder",
                path.display()
            );
            errors.push(self.error_at("store.path", message));
        }
    }

    /// `tls:` files that cannot serve, and `auth:` entries that cannot match.
    fn check_security(&self, raw: &FileConfig, errors: &mut Vec<ConfigError>) {
        if let Some(tls) = &raw.tls
            && tls.client_ca.is_none()
            && tls.client_auth.is_some_and(|a| a != ClientAuth::None)
        {
            let message = "tls.client_auth needs tls.client_ca: the CA that signs client \
                           certificates";
            errors.push(self.error_at("tls.client_auth", message));
        } else if let Some(settings) = &self.tls
            && let Err(e) = crate::security::tls::server_config(settings)
        {
            errors.push(self.error_at(&format!("tls.{}", e.field), e.message));
        }
        let Some(auth) = &raw.auth else { return };
        let mut names: HashMap<&str, usize> = HashMap::new();
        for (i, token) in auth.tokens.iter().enumerate() {
            let at = |field: &str| format!("auth.tokens[{i}].{field}");
            if let Some(first) = names.insert(&token.name, i) {
                let message = format!(
                    "duplicate token name '{}' (first at auth.tokens[{first}])",
                    token.name
                );
                errors.push(self.error_at(&at("name"), message));
            }
            if sha256_digest(&token.sha256).is_none() {
                let message = format!(
                    "'{}' is not a SHA-256 digest (64 hex digits; `dbmon token new` prints one)",
                    token.sha256
                );
                errors.push(self.error_at(&at("sha256"), message));
            }
            if token.roles.is_empty() {
                errors.push(self.error_at(
                    &at("roles"),
                    "roles: name at least one of read, command, ingest, admin",
                ));
            }
        }
        for (i, cert) in auth.certificates.iter().enumerate() {
            if cert.subject.trim().is_empty() {
                let message = "subject: the client certificate's common name or whole subject";
                errors.push(self.error_at(&format!("auth.certificates[{i}].subject"), message));
            }
        }
        let asks_certificates = raw.tls.as_ref().is_some_and(|t| t.client_ca.is_some());
        if !auth.certificates.is_empty() && !asks_certificates {
            let message = "auth.certificates needs tls.client_ca (and tls.client_auth: required \
                           or optional): without it no client presents a certificate";
            errors.push(self.error_at("auth.certificates", message));
        }
    }

    /// Resolves `store:` of `kind: redis` into `self.shared_store`; with an error it stays
    /// unset.
    fn add_shared_store(&mut self, raw: &FileConfig, errors: &mut Vec<ConfigError>) {
        let store = &raw.store;
        if store.kind != StoreKind::Redis {
            return;
        }
        let before = errors.len();
        let base = self.file.parent().unwrap_or(Path::new(".")).to_path_buf();
        let url = store.url.as_deref().map(str::trim).unwrap_or_default();
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            _ if url.is_empty() => {
                let message = "store.url: the shared store needs the address of its Redis, \
                               like redis://127.0.0.1:6379 (or rediss:// for TLS)";
                errors.push(self.error_at("store", message));
            }
            Some("redis" | "rediss") if redis_url_host(url).is_some() => {}
            _ => {
                let message = format!(
                    "store.url '{url}' is not a Redis URL like redis://HOST:PORT[/DB] or \
                     rediss://HOST:PORT[/DB]"
                );
                errors.push(self.error_at("store.url", message));
            }
        }
        if store.tls.is_some() && scheme.as_deref() == Some("redis") {
            let message = "store.tls: a tls: block needs a rediss:// url (redis:// is plaintext)";
            errors.push(self.error_at("store.tls", message));
        }
        if store.cluster == Some(true) && url.contains("://") {
            let path = url.split_once("://").map_or("", |(_, rest)| rest);
            if path
                .split_once('/')
                .is_some_and(|(_, db)| !db.is_empty() && db != "0")
            {
                let message = "store.url: a Redis Cluster has only database 0";
                errors.push(self.error_at("store.url", message));
            }
        }
        let tls = store.tls.clone().map(|t| TlsConfig {
            ca: t.ca.map(|p| base.join(p)),
            cert: t.cert.map(|p| base.join(p)),
            key: t.key.map(|p| base.join(p)),
            insecure_skip_verify: t.insecure_skip_verify,
        });
        if let Some(t) = &tls
            && t.cert.is_some() != t.key.is_some()
        {
            let message = "store.tls: a client certificate needs both cert and key";
            errors.push(self.error_at("store.tls", message));
        }
        let auth = match store.auth.clone().map(|a| secrets::resolve(a, &base)) {
            Some(Ok(auth)) if auth.password.is_none() => {
                let message = "store.auth needs a password (or password_file); the username \
                               is optional (Redis ACL users)";
                errors.push(self.error_at("store.auth", message));
                None
            }
            Some(Ok(auth)) => Some(auth),
            Some(Err((field, message))) => {
                errors.push(self.error_at(&format!("store.auth.{field}"), message));
                None
            }
            None => None,
        };
        if errors.len() == before {
            self.shared_store = Some(crate::store::SharedOptions {
                url: url.to_string(),
                cluster: store.cluster.unwrap_or(false),
                tls,
                auth,
            });
        }
    }

    /// Resolves `coordination:` into `self.coordination`; with an error it stays unset.
    fn add_coordination(&mut self, raw: &FileConfig, errors: &mut Vec<ConfigError>) {
        let Some(c) = &raw.coordination else { return };
        // The only kind, for now.
        let model::CoordinationKind::Etcd = c.kind;
        let base = self.file.parent().unwrap_or(Path::new(".")).to_path_buf();
        let before = errors.len();
        let mut endpoints = Vec::new();
        if c.endpoints.is_empty() {
            let message = "coordination.endpoints: name at least one etcd client URL, like \
                           http://127.0.0.1:2379";
            errors.push(self.error_at("coordination.endpoints", message));
        }
        for (i, url) in c.endpoints.iter().enumerate() {
            let trimmed = url.trim().trim_end_matches('/');
            let rest = trimmed
                .strip_prefix("http://")
                .or_else(|| trimmed.strip_prefix("https://"));
            if rest.is_none_or(|r| r.is_empty() || r.contains('/')) {
                let message = format!(
                    "'{url}' is not an etcd client URL like http://127.0.0.1:2379 or \
                     https://etcd-1:2379"
                );
                errors.push(self.error_at(&format!("coordination.endpoints[{i}]"), message));
            }
            endpoints.push(trimmed.to_string());
        }
        let lease_ttl = c.lease_ttl.map_or(model::DEFAULT_LEASE_TTL, |p| p.0);
        if lease_ttl < Duration::from_secs(2) || lease_ttl.subsec_nanos() != 0 {
            let message = format!(
                "lease_ttl {} must be whole seconds, at least 2s (etcd grants leases in \
                 seconds)",
                humantime::format_duration(lease_ttl)
            );
            errors.push(self.error_at("coordination.lease_ttl", message));
        }
        let prefix = c
            .prefix
            .as_deref()
            .unwrap_or(model::DEFAULT_COORDINATION_PREFIX)
            .trim_end_matches('/');
        if !c.prefix.as_deref().unwrap_or("/").starts_with('/') || prefix.contains("//") {
            let message = "prefix: a key prefix like /dbmon (starting with /)";
            errors.push(self.error_at("coordination.prefix", message));
        }
        let tls = c.tls.clone().map(|t| TlsConfig {
            ca: t.ca.map(|p| base.join(p)),
            cert: t.cert.map(|p| base.join(p)),
            key: t.key.map(|p| base.join(p)),
            insecure_skip_verify: t.insecure_skip_verify,
        });
        let auth = match c.auth.clone().map(|a| secrets::resolve(a, &base)) {
            Some(Ok(auth)) if auth.username.is_some() != auth.password.is_some() => {
                let message = "coordination.auth needs both username and password (or \
                               password_file)";
                errors.push(self.error_at("coordination.auth", message));
                None
            }
            Some(Ok(auth)) => Some(auth),
            Some(Err((field, message))) => {
                errors.push(self.error_at(&format!("coordination.auth.{field}"), message));
                None
            }
            None => None,
        };
        if errors.len() == before {
            self.coordination = Some(Coordination {
                endpoints,
                tls,
                auth,
                lease_ttl,
                prefix: prefix.to_string(),
            });
        }
    }

    /// Resolves every cluster entry; those with an error stay out.
    fn add_clusters(&mut self, mut raw: FileConfig, errors: &mut Vec<ConfigError>) {
        let base = self.file.parent().unwrap_or(Path::new(".")).to_path_buf();
        // A connector's default rules are checked once, where they are written.
        for (name, defaults) in &raw.connectors {
            if let Err(problems) = crate::rules::Rules::compile(&defaults.rules, &[]) {
                for (_, i, e) in problems {
                    let at = format!("connectors.{name}.rules[{i}].{}", e.field);
                    errors.push(self.error_at(&at, e.message));
                }
            }
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        for entry in std::mem::take(&mut raw.clusters) {
            let index = entry.index;
            if let Some(first) = seen.insert(entry.id.clone(), index) {
                let first_at = self.locations.get(&format!("clusters[{first}].id"));
                let message = format!(
                    "duplicate cluster id '{}' (first defined at line {})",
                    entry.id, first_at.line
                );
                errors.push(self.error_at(&format!("clusters[{index}].id"), message));
                continue;
            }
            let connector = raw.connectors.get(&entry.connector);
            let default_isolation = connector.and_then(|c| c.isolation);
            let default_rules = connector.map_or(&[][..], |c| &c.rules[..]);
            let resolved = self.resolve(
                entry,
                &raw.defaults,
                (default_isolation, default_rules),
                &base,
            );
            match resolved {
                Ok(cluster) => self.clusters.push(cluster),
                Err(e) => errors.extend(e),
            }
        }
    }

    fn resolve(
        &self,
        entry: ClusterEntry,
        defaults: &model::Schedule,
        (default_isolation, default_rules): (Option<Isolation>, &[crate::rules::RuleEntry]),
        base: &Path,
    ) -> Result<Cluster, Vec<ConfigError>> {
        let index = entry.index;
        let at = |field: &str| format!("clusters[{index}].{field}");
        let mut errors = Vec::new();
        if let Some(problem) = crate::names::cluster_id_problem(&entry.id) {
            errors.push(self.error_at(&at("id"), problem));
        }
        let interval = entry
            .interval
            .or(defaults.interval)
            .map_or(DEFAULT_INTERVAL, |p| p.0);
        let timeout = entry
            .timeout
            .or(defaults.timeout)
            .map_or(DEFAULT_TIMEOUT.min(interval), |p| p.0);
        // By default collections are spread over the whole interval, as Prometheus spreads its
        // targets: a thousand clusters do not all fetch in the same millisecond.
        let jitter = entry
            .jitter
            .or(defaults.jitter)
            .map_or(interval, |d| d.0)
            .min(interval);
        let initial_delay = entry
            .initial_delay
            .or(defaults.initial_delay)
            .map(|d| d.0)
            .unwrap_or_default();
        if let Some(pin) = &entry.collector {
            if let Some(problem) = crate::names::collector_id_problem(pin) {
                errors.push(self.error_at(&at("collector"), problem));
            } else if !self.coordination_section {
                let message = format!(
                    "collector: '{pin}' pins the cluster to one collector, which needs a \
                     coordination: section (without it every collector collects every cluster)"
                );
                errors.push(self.error_at(&at("collector"), message));
            }
        }
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
            errors.push(self.error_at(&field, message));
        }
        // The file's form, with paths relative to the file, becomes the connector's.
        let tls = entry.tls.map(|t| TlsConfig {
            ca: t.ca.map(|p| base.join(p)),
            cert: t.cert.map(|p| base.join(p)),
            key: t.key.map(|p| base.join(p)),
            insecure_skip_verify: t.insecure_skip_verify,
        });
        let auth = match entry.auth.map(|a| secrets::resolve(a, base)) {
            Some(Ok(auth)) => Some(auth),
            Some(Err((field, message))) => {
                errors.push(self.error_at(&at(&format!("auth.{field}")), message));
                None
            }
            None => None,
        };
        let rules = match crate::rules::Rules::compile(default_rules, &entry.rules) {
            Ok(rules) => Arc::new(rules),
            Err(problems) => {
                // The defaults' own errors are reported where they are written.
                let own = problems
                    .into_iter()
                    .filter(|(list, ..)| *list == crate::rules::List::Own);
                for (_, i, e) in own {
                    errors.push(self.error_at(&at(&format!("rules[{i}].{}", e.field)), e.message));
                }
                Arc::default()
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
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
            collector: entry.collector,
            rules,
            tls,
            auth,
            options,
        })
    }
}

/// `auth:` resolved: the entries whose digest reads.
fn security_auth(raw: &model::ListenerAuth) -> crate::security::AuthSettings {
    use crate::security::{
        Roles,
        auth::{CertificateRule, TokenRule},
    };
    crate::security::AuthSettings {
        tokens: raw
            .tokens
            .iter()
            .filter_map(|t| {
                Some(TokenRule {
                    name: t.name.clone(),
                    sha256: sha256_digest(&t.sha256)?,
                    roles: Roles::of(&t.roles),
                })
            })
            .collect(),
        certificates: raw
            .certificates
            .iter()
            .map(|c| CertificateRule {
                subject: c.subject.clone(),
                roles: Roles::of(&c.roles),
            })
            .collect(),
    }
}

/// The 32 bytes of a digest written as 64 hex digits.
fn sha256_digest(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 || !text.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut digest = [0u8; 32];
    for (i, byte) in digest.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(digest)
}

/// What an empty file is told.
const EMPTY_FILE: &str = "the file is empty: add the clusters to monitor, for example \
                          `clusters: [{id: local, connector: system}]` (`dbmon connectors` lists \
                          the connector names)";

/// The configuration when there are no errors.
fn checked((config, errors): (Config, Vec<ConfigError>)) -> Result<Config, ConfigErrors> {
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(errors))
    }
}

/// Reads each top-level section and each cluster entry on its own, so that an error in one
/// does not hide those in the others.
fn sections(root: &Node, problems: &mut Vec<Problem>) -> FileConfig {
    let Kind::Map(entries) = &root.kind else {
        // Says what the file must be.
        de::from_node::<FileConfig>(root, "", problems);
        return FileConfig::default();
    };
    let mut valid = Vec::new();
    let mut clusters = Vec::new();
    let map = |entries| Node {
        position: root.position,
        kind: Kind::Map(entries),
    };
    for (key, value) in entries {
        if key.key_text() == Some("clusters") {
            clusters = cluster_entries(value, problems);
            continue;
        }
        let section = map(vec![(key.clone(), value.clone())]);
        if de::from_node::<FileConfig>(&section, "", problems).is_some() {
            valid.push((key.clone(), value.clone()));
        }
    }
    let raw = de::from_node(&map(valid), "", problems).unwrap_or_default();
    FileConfig { clusters, ..raw }
}

/// The entries of `clusters:` that are well-formed, with their index in the file.
fn cluster_entries(value: &Node, problems: &mut Vec<Problem>) -> Vec<ClusterEntry> {
    let Kind::Seq(items) = &value.kind else {
        problems.push(Problem {
            position: value.position,
            message: format!(
                "clusters: expected a list of clusters, each starting with '- id: NAME'; got {}",
                de::found(value, "clusters")
            ),
        });
        return Vec::new();
    };
    let entries = items.iter().enumerate().filter_map(|(i, item)| {
        let entry = de::from_node::<ClusterEntry>(item, &format!("clusters[{i}]"), problems);
        entry.map(|entry| ClusterEntry { index: i, ..entry })
    });
    entries.collect()
}

/// The host of a `redis://` or `rediss://` URL, when it names one.
fn redis_url_host(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.rsplit_once(':') {
        Some((h, port)) if !port.contains(']') => {
            port.parse::<u16>().ok()?;
            h
        }
        _ => host,
    };
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests;
