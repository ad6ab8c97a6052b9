//! `options:` of a NATS cluster, its endpoints and credentials, checked once at startup.

use dbmon_connector_api::{ClusterConfig, ConfigError, Login};
use dbmon_scrape::same_listener;
use serde::Deserialize;

/// Default of [`Options::consumer_pending_degraded`].
pub const DEFAULT_CONSUMER_PENDING_DEGRADED: u64 = 10_000;

/// The connector's options. Every one is optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The cluster is DEGRADED when a JetStream consumer has more than this many messages of
    /// its stream not delivered yet (`num_pending`: its lag). By default, this is 10000.
    #[serde(default = "default_pending")]
    pub consumer_pending_degraded: u64,
    /// Whether JetStream must run: `auto` expects it on every node once one node runs it,
    /// `required` expects it on every node, `off` neither checks nor reads `/jsz`. By default,
    /// this is `auto`.
    #[serde(default)]
    pub jetstream: JetStream,
}

/// [`Options::jetstream`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JetStream {
    /// Expected on every node when one answering node runs it.
    #[default]
    Auto,
    /// Expected on every node.
    Required,
    /// Not read.
    Off,
}

fn default_pending() -> u64 {
    DEFAULT_CONSUMER_PENDING_DEGRADED
}

impl Default for Options {
    fn default() -> Self {
        Options {
            consumer_pending_degraded: DEFAULT_CONSUMER_PENDING_DEGRADED,
            jetstream: JetStream::default(),
        }
    }
}

/// The validated settings of one cluster.
#[derive(Debug)]
pub struct Settings {
    /// Monitoring URLs of the servers, without a trailing `/` (`http://10.0.0.1:8222`).
    pub endpoints: Vec<String>,
    /// See [`Options::consumer_pending_degraded`].
    pub consumer_pending_degraded: u64,
    /// See [`Options::jetstream`].
    pub jetstream: JetStream,
    /// HTTP basic authentication (a proxy in front of the monitoring port), when `auth:` is set.
    pub credentials: Option<Login>,
}

/// Checks the endpoints, options and credentials of a cluster.
pub fn settings(config: &ClusterConfig<Options>) -> Result<Settings, ConfigError> {
    if config.endpoints.is_empty() {
        return Err(ConfigError::at(
            "endpoints",
            "list the monitoring URL of at least one server (http://127.0.0.1:8222)",
        ));
    }
    let endpoints = config
        .endpoints
        .iter()
        .enumerate()
        .map(|(i, e)| endpoint(&format!("endpoints[{i}]"), e))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, url) in endpoints.iter().enumerate() {
        if let Some(first) = endpoints[..i].iter().position(|u| same_listener(u, url)) {
            return Err(ConfigError::at(
                format!("endpoints[{i}]"),
                format!("'{url}' is listed twice (also endpoints[{first}])"),
            ));
        }
    }
    if config.options.consumer_pending_degraded == 0 {
        return Err(ConfigError::at(
            "options.consumer_pending_degraded",
            "must be at least 1 (a consumer with more messages pending is DEGRADED); got 0",
        ));
    }
    Ok(Settings {
        endpoints,
        consumer_pending_degraded: config.options.consumer_pending_degraded,
        jetstream: config.options.jetstream,
        credentials: config.login("HTTP basic authentication")?,
    })
}

/// A monitoring URL: http(s), a host, no path beyond `/` (the endpoint paths are appended).
fn endpoint(path: &str, url: &str) -> Result<String, ConfigError> {
    let parsed = dbmon_scrape::endpoint_url(path, url, "a server's monitoring URL, -m/http_port")?;
    if parsed.path() != "/" || parsed.query().is_some() {
        return Err(ConfigError::at(
            path,
            format!(
                "'{url}' has a path: give the monitoring URL only (the connector asks /varz, /jsz, ...)"
            ),
        ));
    }
    Ok(url.trim_end_matches('/').to_string())
}
