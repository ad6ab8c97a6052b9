//! The YAML file as the operator writes it. Every field is documented here; the repository's
//! `dbmon.yaml` shows them in use. Each type's `expecting` says in words what it is, for error
//! messages; every struct denies unknown fields (`de` reports all of them).

use serde::{Deserialize, Deserializer, de};
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

/// Largest request message a client may send.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 4 << 20;
/// Concurrent calls (HTTP/2 streams) on one client connection.
pub const DEFAULT_MAX_STREAMS_PER_CONNECTION: u32 = 100;
/// Open Watch streams over all connections.
pub const DEFAULT_MAX_WATCHERS: usize = 4096;
/// A watcher behind by this many bytes of reports (as sent on the wire) is ended.
pub const DEFAULT_WATCH_MAX_LAG_BYTES: usize = 64 << 20;
/// A Watch client that reads nothing for this long while reports wait has its connection closed.
pub const DEFAULT_WATCH_STALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Time open connections get to finish after SIGTERM before they are closed.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping of settings (listen:, clusters:, ...)"
)]
pub struct FileConfig {
    /// `host:port` of the gRPC server. By default, this is `127.0.0.1:4000`.
    #[serde(default)]
    pub listen: Option<String>,
    /// `host:port` of the HTTP listener: `/metrics` for Prometheus (and the status page),
    /// served with the `tls:` and `auth:` of `listen:` (role `read`); port 0 picks a free
    /// port. By default, none: no HTTP listener.
    #[serde(default)]
    pub metrics_listen: Option<String>,
    /// Folder of connector `.so` files, relative to the config file. By default, `plugins.d`.
    #[serde(default)]
    pub plugins_dir: Option<PathBuf>,
    /// Which plugin files are trusted.
    #[serde(default)]
    pub plugins: PluginsConfig,
    /// The report store.
    #[serde(default)]
    pub store: StoreConfig,
    /// Limits of the gRPC client API.
    #[serde(default)]
    pub api: ApiConfig,
    /// Reload the configuration whenever this file changes (looked at every 2 s), as SIGHUP
    /// and `dbmon reload` do. By default, false.
    #[serde(default)]
    pub watch_config: bool,
    /// The log filter (EnvFilter syntax: `info`, `info,dbmon=debug`), applied at the start and
    /// by every reload; `--log-level` (`DBMON_LOG`) wins over it. By default, `info`.
    #[serde(default)]
    pub log_level: Option<String>,
    /// How this host pushes its reports to a server when it runs as a collector
    /// (`dbmon serve --role collector`); the other roles ignore it.
    #[serde(default)]
    pub collector: CollectorConfig,
    /// How collectors that share this file share its clusters (through etcd). By default,
    /// none: a collector collects every cluster.
    #[serde(default)]
    pub coordination: Option<CoordinationConfig>,
    /// Defaults for every cluster.
    #[serde(default)]
    pub defaults: Schedule,
    /// Defaults per connector, by connector name.
    #[serde(default)]
    pub connectors: std::collections::BTreeMap<String, ConnectorDefaults>,
    /// The clusters to monitor. Each entry is read on its own (`Config::parse_partial`).
    #[serde(default)]
    pub clusters: Vec<ClusterEntry>,
    /// TLS of the gRPC listener. By default, none: plaintext (allowed on loopback only, unless
    /// `insecure: true`).
    #[serde(default)]
    pub tls: Option<ListenerTls>,
    /// Who may call the gRPC API, by bearer token or client certificate. By default, anyone
    /// who can connect (allowed on loopback only, unless `insecure: true`).
    #[serde(default)]
    pub auth: Option<ListenerAuth>,
    /// Serve a non-loopback address without TLS and authentication (a warning is logged at
    /// every start). By default, this is false: such a listener is refused.
    #[serde(default)]
    pub insecure: bool,
    /// Alerts on verdict changes, to Alertmanager and webhooks (README, "Alerts"). By
    /// default, none. Sent by the roles that keep the reports (all-in-one and server).
    #[serde(default)]
    pub alerts: Option<AlertsConfig>,
}

/// Reports in a row with the new verdict before an alert fires or resolves.
pub const DEFAULT_ALERT_FOR: usize = 2;
/// How often a firing alert is sent again.
pub const DEFAULT_ALERT_RESEND: Duration = Duration::from_secs(60);

/// `alerts:`: where alerts go and when they fire.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping (alertmanager:, webhook:, for:, resend:, external_url:)"
)]
pub struct AlertsConfig {
    /// Alertmanager base URLs (`http://am:9093`): alerts are posted to `/api/v2/alerts` of
    /// each. By default, none.
    #[serde(default)]
    pub alertmanager: Vec<String>,
    /// URLs that receive the same JSON body by POST. By default, none.
    #[serde(default)]
    pub webhook: Vec<String>,
    /// Reports in a row with a new verdict before its alert fires (or, healthy, resolves).
    /// By default, this is 2.
    #[serde(
        default = "default_alert_for",
        rename = "for",
        deserialize_with = "reports_in_a_row"
    )]
    pub for_reports: usize,
    /// How often a firing alert is sent again (Alertmanager resolves one it stops hearing
    /// of). By default, this is 1m.
    #[serde(default)]
    pub resend: Option<Period>,
    /// The URL this host's status page is reached at (`https://dbmon.example:9464`), for each
    /// alert's `generatorURL` (`.../cluster/ID`). By default, none.
    #[serde(default)]
    pub external_url: Option<String>,
}

fn default_alert_for() -> usize {
    DEFAULT_ALERT_FOR
}

fn reports_in_a_row<'de, D: Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    at_least_one(deserializer, "a whole number of reports (1 to 1000)", 1000)
}

/// `tls:` of the gRPC listener. The files are re-read when they change (certificate rotation).
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping (cert:, key:, client_ca:, client_auth:)"
)]
pub struct ListenerTls {
    /// The server's certificate chain (PEM), relative to the config file.
    pub cert: PathBuf,
    /// The server's private key (PEM: PKCS#8, PKCS#1 or SEC1), relative to the config file.
    pub key: PathBuf,
    /// CA certificates (PEM) that sign client certificates. By default, none: clients
    /// present no certificate.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// Whether clients must present a certificate signed by `client_ca`. By default,
    /// `required` when `client_ca` is set; it needs `client_ca`.
    #[serde(default)]
    pub client_auth: Option<ClientAuth>,
}

/// What the TLS handshake asks of a client's certificate.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case", expecting = "required, optional or none")]
pub enum ClientAuth {
    /// No connection without a certificate signed by `client_ca`.
    Required,
    /// A certificate, when presented, must be signed by `client_ca`; clients without one
    /// connect (and authenticate by token).
    Optional,
    /// Client certificates are not asked for.
    None,
}

/// `auth:` of the gRPC listener: every call but health and reflection needs a credential
/// with the role its method requires (README, "Security").
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping (tokens:, certificates:)")]
pub struct ListenerAuth {
    /// Bearer tokens (`authorization: Bearer TOKEN`), by the SHA-256 of each.
    #[serde(default)]
    pub tokens: Vec<TokenEntry>,
    /// Client certificates (with `tls.client_ca`), by subject.
    #[serde(default)]
    pub certificates: Vec<CertificateEntry>,
}

/// One entry of `auth.tokens:` (`dbmon token new NAME` prints one).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping (name:, sha256:, roles:)")]
pub struct TokenEntry {
    /// Unique name, used in logs and PERMISSION_DENIED messages (never the token).
    pub name: String,
    /// SHA-256 of the token, 64 hex digits.
    pub sha256: String,
    /// What the token may do.
    pub roles: Vec<Role>,
}

/// One entry of `auth.certificates:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping (subject:, roles:)")]
pub struct CertificateEntry {
    /// The client certificate's subject: its common name alone (`ops`), or its whole subject
    /// as RFC 4514 writes it (`CN=ops,O=example`: most specific first, no spaces).
    pub subject: String,
    /// What the certificate may do.
    pub roles: Vec<Role>,
}

/// What a credential may do; every gRPC method requires one role.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(
    rename_all = "snake_case",
    expecting = "read, command, ingest or admin"
)]
pub enum Role {
    /// List connectors and clusters, read and watch reports, list collectors.
    Read,
    /// Run connector commands (`RunCommand`).
    Command,
    /// Push reports as a collector (`dbmon.ingest.v1.Ingest`).
    Ingest,
    /// Everything, including any other method.
    Admin,
}

impl Role {
    /// The name used in the YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Command => "command",
            Role::Ingest => "ingest",
            Role::Admin => "admin",
        }
    }
}

/// `plugins:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping (insecure:, allow:)")]
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
#[serde(deny_unknown_fields, expecting = "a mapping (isolation:, rules:)")]
pub struct ConnectorDefaults {
    /// How clusters of this connector run unless they say otherwise.
    #[serde(default)]
    pub isolation: Option<Isolation>,
    /// Verdict rules for every cluster of this connector (a cluster's rule of the same name
    /// replaces one).
    #[serde(default)]
    pub rules: Vec<crate::rules::RuleEntry>,
}

/// Where a cluster's connector runs.
#[derive(Debug, Default, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case", expecting = "in_process or process")]
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
#[serde(
    deny_unknown_fields,
    expecting = "a mapping (kind:, path:, url:, cluster:, tls:, auth:, history:, retention:)"
)]
pub struct StoreConfig {
    /// `memory` (the default), `file` or `redis`.
    #[serde(default = "memory")]
    pub kind: StoreKind,
    /// The file store's folder, relative to the config file. By default, `data` beside it.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// The shared store's server: `redis://HOST:PORT[/DB]` or `rediss://...` (TLS).
    #[serde(default)]
    pub url: Option<String>,
    /// The shared store is a Redis Cluster (`url` names one of its nodes).
    #[serde(default)]
    pub cluster: Option<bool>,
    /// TLS of the shared store's connections (as a cluster's `tls:`).
    #[serde(default)]
    pub tls: Option<TlsEntry>,
    /// Credentials of the shared store (as a cluster's `auth:`).
    #[serde(default)]
    pub auth: Option<AuthEntry>,
    /// Reports kept per cluster, at least 1. By default, this is 100.
    #[serde(default = "default_history", deserialize_with = "reports_kept")]
    pub history: usize,
    /// Reports collected longer ago than this are dropped (with `history`: whichever limit
    /// is reached first). By default, none: by count only.
    #[serde(default)]
    pub retention: Option<Period>,
}

/// The file store's folder when `store.path` is not set, beside the config file.
pub const DEFAULT_STORE_DIR: &str = "data";

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            kind: StoreKind::Memory,
            path: None,
            url: None,
            cluster: None,
            tls: None,
            auth: None,
            history: DEFAULT_HISTORY,
            retention: None,
        }
    }
}

fn memory() -> StoreKind {
    StoreKind::Memory
}

fn default_history() -> usize {
    DEFAULT_HISTORY
}

/// Unacknowledged reports a collector keeps for its server, in bytes.
pub const DEFAULT_COLLECTOR_BUFFER_BYTES: usize = 64 << 20;

/// `collector:`: where a collector pushes and as whom.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping (id:, upstream:, ca:, cert:, key:, token_file:, buffer_bytes:, \
                 weight:)"
)]
pub struct CollectorConfig {
    /// Names this collector on its server. By default, the machine's host name.
    #[serde(default)]
    pub id: Option<String>,
    /// The server's URL, `https://HOST:PORT` (or `http://` on loopback), or a list of them:
    /// the collector pushes to the first that answers and goes on to the next when one fails.
    /// `--upstream` overrides it.
    #[serde(default, deserialize_with = "urls")]
    pub upstream: Option<Vec<String>>,
    /// CA certificate (PEM) that signs the server's certificate, relative to this file. By
    /// default, the system's roots.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// The collector's client certificate (PEM), for a server that asks for one.
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// Its private key (PEM).
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// A file holding the bearer token the collector sends (a token with the `ingest` role).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// Bytes of unacknowledged reports kept while the server is away; when full, the oldest
    /// are dropped (counted and logged). By default, this is 67108864 (64 MiB).
    #[serde(default = "collector_buffer_bytes", deserialize_with = "bytes")]
    pub buffer_bytes: usize,
    /// This collector's share of the clusters relative to the others' (`coordination:`): a
    /// collector of weight 2 gets about twice the clusters of one of weight 1. By default, 1.
    #[serde(default = "collector_weight", deserialize_with = "weight")]
    pub weight: u32,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            id: None,
            upstream: None,
            ca: None,
            cert: None,
            key: None,
            token_file: None,
            buffer_bytes: DEFAULT_COLLECTOR_BUFFER_BYTES,
            weight: 1,
        }
    }
}

/// One URL or a list of them.
fn urls<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<String>>, D::Error> {
    struct Urls;
    impl<'de> de::Visitor<'de> for Urls {
        type Value = Option<Vec<String>>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a server URL like https://server:4000, or a list of them")
        }
        fn visit_str<E: de::Error>(self, url: &str) -> Result<Self::Value, E> {
            Ok(Some(vec![url.to_string()]))
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut urls = Vec::new();
            while let Some(url) = seq.next_element::<String>()? {
                urls.push(url);
            }
            if urls.is_empty() {
                return Err(de::Error::invalid_length(0, &self));
            }
            Ok(Some(urls))
        }
    }
    deserializer.deserialize_any(Urls)
}

fn collector_buffer_bytes() -> usize {
    DEFAULT_COLLECTOR_BUFFER_BYTES
}

fn collector_weight() -> u32 {
    1
}

/// A collector's weight: 1 to 10000 (a bound that keeps every share meaningful).
fn weight<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    at_least_one(deserializer, "a whole number from 1 to 10000", 10_000).map(|n| n as u32)
}

/// Time a collector's etcd lease lives without a keep-alive, unless `lease_ttl:` says.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(10);
/// The keys of the collectors sharing a file live under this, unless `prefix:` says.
pub const DEFAULT_COORDINATION_PREFIX: &str = "/dbmon";

/// `coordination:`: collectors with the same file share its clusters through etcd (README,
/// "Sharding collectors (etcd)").
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping (kind:, endpoints:, tls:, auth:, lease_ttl:, prefix:)"
)]
pub struct CoordinationConfig {
    /// `etcd`, the only kind.
    pub kind: CoordinationKind,
    /// etcd's client URLs (`http://HOST:2379` or `https://`), at least one.
    pub endpoints: Vec<String>,
    /// TLS to etcd, as a cluster's `tls:` (paths relative to this file).
    #[serde(default)]
    pub tls: Option<TlsEntry>,
    /// etcd user and password, as a cluster's `auth:` (`${env:VAR}` or `password_file`).
    #[serde(default)]
    pub auth: Option<AuthEntry>,
    /// A collector that has not renewed its lease for this long has left: its clusters go to
    /// the others; renewed every third of it. Whole seconds, at least 2s (etcd grants no
    /// shorter lease). By default, 10s.
    #[serde(default)]
    pub lease_ttl: Option<Period>,
    /// The key prefix under which the collectors register (`PREFIX/collectors/ID`). By
    /// default, `/dbmon`.
    #[serde(default)]
    pub prefix: Option<String>,
}

/// What coordinates collectors.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case", expecting = "etcd")]
pub enum CoordinationKind {
    /// An etcd v3 cluster, through its JSON gateway.
    Etcd,
}

/// `api:`: what one client may ask of the gRPC API, and how long a stop waits for clients.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping (max_message_bytes:, max_streams_per_connection:, max_watchers:, \
                 watch_max_lag_bytes:, watch_stall_timeout:, shutdown_grace:)"
)]
pub struct ApiConfig {
    /// Largest request message, in bytes; a larger one is refused with RESOURCE_EXHAUSTED.
    /// By default, this is 4194304 (4 MiB).
    #[serde(default = "max_message_bytes", deserialize_with = "bytes")]
    pub max_message_bytes: usize,
    /// Concurrent calls on one connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS); more wait
    /// for one to end. By default, this is 100.
    #[serde(default = "max_streams", deserialize_with = "streams")]
    pub max_streams_per_connection: usize,
    /// Open Watch streams over all connections; one more is refused with RESOURCE_EXHAUSTED.
    /// By default, this is 4096.
    #[serde(default = "max_watchers", deserialize_with = "watchers")]
    pub max_watchers: usize,
    /// A Watch stream whose client has not read this many bytes of reports is ended with
    /// ABORTED (it resumes with `since`). By default, this is 67108864 (64 MiB).
    #[serde(default = "watch_max_lag_bytes", deserialize_with = "bytes")]
    pub watch_max_lag_bytes: usize,
    /// A Watch client that reads nothing for this long while reports wait for it has its
    /// connection closed (its stream cannot even be told it fell behind). By default, 30s.
    #[serde(default)]
    pub watch_stall_timeout: Option<Period>,
    /// After SIGTERM, open calls get this long to end before their connections are closed.
    /// By default, this is 5s.
    #[serde(default)]
    pub shutdown_grace: Option<Delay>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_streams_per_connection: DEFAULT_MAX_STREAMS_PER_CONNECTION as usize,
            max_watchers: DEFAULT_MAX_WATCHERS,
            watch_max_lag_bytes: DEFAULT_WATCH_MAX_LAG_BYTES,
            watch_stall_timeout: None,
            shutdown_grace: None,
        }
    }
}

fn max_message_bytes() -> usize {
    DEFAULT_MAX_MESSAGE_BYTES
}

fn max_streams() -> usize {
    DEFAULT_MAX_STREAMS_PER_CONNECTION as usize
}

fn max_watchers() -> usize {
    DEFAULT_MAX_WATCHERS
}

fn watch_max_lag_bytes() -> usize {
    DEFAULT_WATCH_MAX_LAG_BYTES
}

fn bytes<'de, D: Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    at_least_one(
        deserializer,
        "a whole number of bytes (1 or more)",
        usize::MAX,
    )
}

fn streams<'de, D: Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    at_least_one(
        deserializer,
        "a whole number of streams (1 or more)",
        u32::MAX as usize,
    )
}

fn watchers<'de, D: Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    at_least_one(
        deserializer,
        "a whole number of watchers (1 or more)",
        usize::MAX,
    )
}

/// A count of reports, 1 or more.
fn reports_kept<'de, D: Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    at_least_one(
        deserializer,
        "a whole number of reports (1 or more)",
        usize::MAX,
    )
}

/// A whole number from 1 to `max`; `what` says so in words.
fn at_least_one<'de, D: Deserializer<'de>>(
    deserializer: D,
    what: &'static str,
    max: usize,
) -> Result<usize, D::Error> {
    struct Count {
        what: &'static str,
        max: usize,
    }
    impl de::Visitor<'_> for Count {
        type Value = usize;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.what)
        }
        fn visit_u64<E: de::Error>(self, n: u64) -> Result<usize, E> {
            match usize::try_from(n) {
                Ok(n) if n >= 1 && n <= self.max => Ok(n),
                _ => Err(E::invalid_value(de::Unexpected::Unsigned(n), &self)),
            }
        }
        fn visit_i64<E: de::Error>(self, n: i64) -> Result<usize, E> {
            match u64::try_from(n) {
                Ok(n) => self.visit_u64(n),
                Err(_) => Err(E::invalid_value(de::Unexpected::Signed(n), &self)),
            }
        }
    }
    deserializer.deserialize_u64(Count { what, max })
}

/// Where reports are kept.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case", expecting = "memory, file or redis")]
pub enum StoreKind {
    /// In the host's memory, lost on restart.
    Memory,
    /// In memory, and durably in a database in `store.path` (survives kill -9).
    File,
    /// In memory, and in a Redis (or Redis Cluster) that several servers share.
    Redis,
}

/// When a cluster is collected; every field may be set in `defaults:` or per cluster.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping (interval:, timeout:, jitter:, initial_delay:)"
)]
pub struct Schedule {
    /// Time between collections. By default, 10s.
    #[serde(default)]
    pub interval: Option<Period>,
    /// Time one collection may take, at most `interval`. By default, 5s (or `interval`).
    #[serde(default)]
    pub timeout: Option<Period>,
    /// Each agent starts after an offset up to this, derived from its cluster id, spreading
    /// collections over time. By default, the interval.
    #[serde(default)]
    pub jitter: Option<Delay>,
    /// Fixed delay before the first collection. By default, 0.
    #[serde(default)]
    pub initial_delay: Option<Delay>,
}

/// One entry of `clusters:`.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a cluster: a mapping with id:, connector: and its settings"
)]
pub struct ClusterEntry {
    /// Its position in `clusters:` (the entries with errors are left out of the list).
    #[serde(skip)]
    pub index: usize,
    /// Unique id, used by clients (`dbmon reports ID`).
    pub id: String,
    /// Name of the connector (as `dbmon connectors` lists it).
    pub connector: String,
    /// Addresses of the cluster's nodes or API.
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// Time between collections, overriding `defaults.interval`.
    #[serde(default)]
    pub interval: Option<Period>,
    /// Time one collection may take, overriding `defaults.timeout`.
    #[serde(default)]
    pub timeout: Option<Period>,
    /// Bound of the start offset, overriding `defaults.jitter`.
    #[serde(default)]
    pub jitter: Option<Delay>,
    /// Delay before the first collection, overriding `defaults.initial_delay`.
    #[serde(default)]
    pub initial_delay: Option<Delay>,
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
    /// With `coordination:`, the id of the only collector that collects this cluster
    /// (nobody collects it while that collector is away). By default, any.
    #[serde(default)]
    pub collector: Option<String>,
    /// Connector-specific options; the connector validates them.
    #[serde(default)]
    pub options: serde_json::Value,
    /// Verdict rules over the cluster's reports, after the connector's own verdict.
    #[serde(default)]
    pub rules: Vec<crate::rules::RuleEntry>,
}

/// `tls:` of a cluster.
#[derive(Debug, Deserialize, Clone)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping (ca:, cert:, key:, insecure_skip_verify:)"
)]
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
#[serde(
    deny_unknown_fields,
    expecting = "a mapping (username:, password: or password_file:)"
)]
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

/// A duration as written (`10s`, `1m30s`, `500ms`), more than zero; checked as it is read so
/// that a bad one is reported at its own line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period(pub Duration);

/// A duration that may be zero (`0s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delay(pub Duration);

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_duration(&text, false)
            .map(Period)
            .map_err(de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Delay {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_duration(&text, true)
            .map(Delay)
            .map_err(de::Error::custom)
    }
}

const DURATION_EXAMPLES: &str = "like 500ms, 10s, 1m30s";

/// The duration `text` says, or what is wrong with it in words.
pub fn parse_duration(text: &str, allow_zero: bool) -> Result<Duration, String> {
    let trimmed = text.trim();
    let invalid = |why: String| format!("invalid duration '{text}': {why}");
    if trimmed.starts_with('-') {
        return Err(invalid(format!(
            "durations are positive, {DURATION_EXAMPLES}"
        )));
    }
    let parsed = humantime::parse_duration(trimmed).map_err(|e| {
        invalid(match e {
            humantime::DurationError::UnknownUnit { unit, .. } if unit.is_empty() => {
                format!("a number needs a unit, {DURATION_EXAMPLES}")
            }
            humantime::DurationError::UnknownUnit { unit, .. } => {
                format!("unknown unit '{unit}'; use ms, s, m, h or d, {DURATION_EXAMPLES}")
            }
            humantime::DurationError::NumberOverflow => "too long".into(),
            _ => format!("write a number and a unit, {DURATION_EXAMPLES}"),
        })
    })?;
    if parsed.is_zero() && !allow_zero {
        return Err(invalid(format!(
            "must be more than zero, {DURATION_EXAMPLES}"
        )));
    }
    if parsed > MAX_DURATION {
        return Err(invalid("at most 365d".into()));
    }
    Ok(parsed)
}

/// Longest duration a setting takes: far beyond any interval or grace period, and far from
/// where adding it to a clock overflows.
const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);
