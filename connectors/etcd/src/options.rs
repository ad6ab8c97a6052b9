//! `options:` of an etcd cluster, its endpoints and credentials, checked once at startup.

use dbmon_connector_api::{ClusterConfig, ConfigError, Login};
use serde::Deserialize;

/// Default of [`Options::raft_index_spread_degraded`].
pub const DEFAULT_RAFT_INDEX_SPREAD_DEGRADED: u64 = 5000;
/// Default of [`Options::db_quota_used_degraded_percent`].
pub const DEFAULT_DB_QUOTA_USED_DEGRADED_PERCENT: f64 = 80.0;

/// The connector's options. Every one is optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The cluster is DEGRADED when the raft applied indexes of the answering members differ by
    /// more than this many entries (a member falling behind). By default, this is 5000.
    #[serde(default = "default_spread")]
    pub raft_index_spread_degraded: u64,
    /// The cluster is DEGRADED when a member's database file uses more than this percentage of
    /// its space quota (`--quota-backend-bytes`); at 100 % etcd raises the NOSPACE alarm and
    /// refuses writes. By default, this is 80.
    #[serde(default = "default_quota_percent")]
    pub db_quota_used_degraded_percent: f64,
}

fn default_spread() -> u64 {
    DEFAULT_RAFT_INDEX_SPREAD_DEGRADED
}

fn default_quota_percent() -> f64 {
    DEFAULT_DB_QUOTA_USED_DEGRADED_PERCENT
}

impl Default for Options {
    fn default() -> Self {
        Options {
            raft_index_spread_degraded: DEFAULT_RAFT_INDEX_SPREAD_DEGRADED,
            db_quota_used_degraded_percent: DEFAULT_DB_QUOTA_USED_DEGRADED_PERCENT,
        }
    }
}

/// The validated settings of one cluster.
#[derive(Debug)]
pub struct Settings {
    /// Client URLs of members, without a trailing `/` (`http://10.0.0.1:2379`).
    pub endpoints: Vec<String>,
    /// See [`Options::raft_index_spread_degraded`].
    pub raft_index_spread_degraded: u64,
    /// See [`Options::db_quota_used_degraded_percent`].
    pub db_quota_used_degraded_percent: f64,
    /// etcd authentication, when `auth:` is set.
    pub credentials: Option<Login>,
}

/// Checks the endpoints, options and credentials of a cluster.
pub fn settings(config: &ClusterConfig<Options>) -> Result<Settings, ConfigError> {
    if config.endpoints.is_empty() {
        return Err(ConfigError::at(
            "endpoints",
            "list the client URL of at least one member (http://127.0.0.1:2379)",
        ));
    }
    let endpoints = config
        .endpoints
        .iter()
        .enumerate()
        .map(|(i, e)| endpoint(&format!("endpoints[{i}]"), e))
        .collect::<Result<Vec<_>, _>>()?;
    let percent = config.options.db_quota_used_degraded_percent;
    if !(percent > 0.0 && percent <= 100.0) {
        return Err(ConfigError::at(
            "options.db_quota_used_degraded_percent",
            format!("must be a percentage above 0 and at most 100; got {percent}"),
        ));
    }
    Ok(Settings {
        endpoints,
        raft_index_spread_degraded: config.options.raft_index_spread_degraded,
        db_quota_used_degraded_percent: percent,
        credentials: config.login("etcd authentication")?,
    })
}

/// A client URL: http(s), a host, no path beyond `/` (the API paths are appended to it).
fn endpoint(path: &str, url: &str) -> Result<String, ConfigError> {
    let parsed = dbmon_scrape::endpoint_url(path, url, "a member's client URL")?;
    if parsed.path() != "/" || parsed.query().is_some() {
        return Err(ConfigError::at(
            path,
            format!("'{url}' has a path: give the client URL only, as in --advertise-client-urls"),
        ));
    }
    Ok(url.trim_end_matches('/').to_string())
}
