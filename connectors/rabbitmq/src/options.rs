//! `options:` of a RabbitMQ cluster, its endpoints and login, checked once at startup.

use dbmon_connector_api::{ClusterConfig, ConfigError, Login};
use serde::Deserialize;

/// Default of [`Options::ready_without_consumers_degraded`].
pub const DEFAULT_READY_WITHOUT_CONSUMERS_DEGRADED: u64 = 1000;
/// Default of [`Options::max_queues`].
pub const DEFAULT_MAX_QUEUES: usize = 50;
/// The largest page the management API serves (`page_size` above it is a 400).
pub const MAX_QUEUES_LIMIT: usize = 500;

/// The connector's options. Every one is optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The cluster is DEGRADED when a queue has more than this many messages ready and no
    /// consumer: nothing is taking them. By default, this is 1000.
    #[serde(default = "default_ready")]
    pub ready_without_consumers_degraded: u64,
    /// At most this many queues are reported one by one (and checked against
    /// `ready_without_consumers_degraded`), the largest by messages first; `queues_not_reported`
    /// says how many were left out. From 1 to 500 (the management API's largest page). By
    /// default, this is 50.
    #[serde(default = "default_max_queues")]
    pub max_queues: usize,
}

fn default_ready() -> u64 {
    DEFAULT_READY_WITHOUT_CONSUMERS_DEGRADED
}

fn default_max_queues() -> usize {
    DEFAULT_MAX_QUEUES
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ready_without_consumers_degraded: DEFAULT_READY_WITHOUT_CONSUMERS_DEGRADED,
            max_queues: DEFAULT_MAX_QUEUES,
        }
    }
}

/// The validated settings of one cluster.
#[derive(Debug)]
pub struct Settings {
    /// Management API base URLs, without a trailing `/` (`http://10.0.0.1:15672`).
    pub endpoints: Vec<String>,
    /// See [`Options::ready_without_consumers_degraded`].
    pub ready_without_consumers_degraded: u64,
    /// See [`Options::max_queues`].
    pub max_queues: usize,
    /// The management API user.
    pub login: Login,
}

/// Checks the endpoints, options and login of a cluster.
pub fn settings(config: &ClusterConfig<Options>) -> Result<Settings, ConfigError> {
    if config.endpoints.is_empty() {
        return Err(ConfigError::at(
            "endpoints",
            "list the management API URL of at least one node (http://127.0.0.1:15672)",
        ));
    }
    let endpoints = config
        .endpoints
        .iter()
        .enumerate()
        .map(|(i, e)| endpoint(&format!("endpoints[{i}]"), e))
        .collect::<Result<Vec<_>, _>>()?;
    let max_queues = config.options.max_queues;
    if !(1..=MAX_QUEUES_LIMIT).contains(&max_queues) {
        return Err(ConfigError::at(
            "options.max_queues",
            format!(
                "must be from 1 to {MAX_QUEUES_LIMIT} (the management API's largest page); got {max_queues}"
            ),
        ));
    }
    let login = config.login("the RabbitMQ management API")?.ok_or_else(|| {
        ConfigError::at(
            "auth",
            "the RabbitMQ management API needs a user: add auth: {username: ..., password: ...} \
             (a user with the monitoring tag)",
        )
    })?;
    Ok(Settings {
        endpoints,
        ready_without_consumers_degraded: config.options.ready_without_consumers_degraded,
        max_queues,
        login,
    })
}

/// A management API base URL: http(s), a host, perhaps a path prefix
/// (`management.path_prefix`), no query; `/api/...` is appended to it.
fn endpoint(path: &str, url: &str) -> Result<String, ConfigError> {
    let parsed = dbmon_scrape::endpoint_url(path, url, "a node's management API")?;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(ConfigError::at(
            path,
            format!("'{url}' has a query or fragment: give the management API's base URL only"),
        ));
    }
    if parsed.path().trim_end_matches('/').ends_with("/api") {
        return Err(ConfigError::at(
            path,
            format!("'{url}' ends in /api: give the base URL, the connector adds /api/..."),
        ));
    }
    Ok(url.trim_end_matches('/').to_string())
}
