//! `options:` of a CockroachDB cluster, the endpoints and credentials, checked once at startup.

use dbmon_connector_api::{ClusterConfig, ConfigError, Login};
use dbmon_scrape::Url;
use serde::Deserialize;
use std::time::Duration;

/// CockroachDB's own default `--max-offset`.
pub const DEFAULT_MAX_OFFSET: &str = "500ms";
/// A node's |mean clock offset| at or above this share of `max_offset` makes the cluster
/// DEGRADED (CockroachDB stops a node at 80 %).
pub const DEFAULT_CLOCK_OFFSET_DEGRADED_PERCENT: f64 = 40.0;
/// Cluster capacity used at or above this makes the cluster DEGRADED.
pub const DEFAULT_CAPACITY_DEGRADED_PERCENT: f64 = 80.0;
/// Cluster capacity used at or above this makes the cluster UNHEALTHY.
pub const DEFAULT_CAPACITY_UNHEALTHY_PERCENT: f64 = 95.0;

/// The connector's options; every one is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The cluster's `--max-offset` (a duration: `500ms`, `1s`). By default, 500ms.
    #[serde(default)]
    pub max_offset: Option<String>,
    /// Percent of `max_offset` a node's |mean clock offset| may reach before the cluster is
    /// DEGRADED. By default, 40.
    #[serde(default)]
    pub clock_offset_degraded_percent: Option<f64>,
    /// Cluster capacity used (percent) that makes it DEGRADED. By default, 80.
    #[serde(default)]
    pub capacity_degraded_percent: Option<f64>,
    /// Cluster capacity used (percent) that makes it UNHEALTHY. By default, 95.
    #[serde(default)]
    pub capacity_unhealthy_percent: Option<f64>,
    /// Refuse `/_status/vars` and API bodies larger than this. By default, 64 MiB.
    #[serde(default)]
    pub max_body_bytes: Option<usize>,
}

/// One node's HTTP endpoint.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The base URL as configured, without a trailing `/`.
    pub url: String,
    /// `host:port` of the URL: the node's address until the node says its own.
    pub address: String,
}

impl Endpoint {
    /// The URL of `path` (which starts with `/`) on this endpoint.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

/// The validated settings of one cluster.
#[derive(Debug)]
pub struct Settings {
    /// The nodes' HTTP endpoints, in the configured order.
    pub endpoints: Vec<Endpoint>,
    /// Login for the nodes API, when `auth:` is set.
    pub credentials: Option<Login>,
    /// `max_offset`.
    pub max_offset: Duration,
    /// `clock_offset_degraded_percent`.
    pub clock_offset_degraded_percent: f64,
    /// `capacity_degraded_percent`.
    pub capacity_degraded_percent: f64,
    /// `capacity_unhealthy_percent`.
    pub capacity_unhealthy_percent: f64,
    /// `max_body_bytes`.
    pub max_body_bytes: usize,
}

fn endpoint(path: &str, url: &str) -> Result<Endpoint, ConfigError> {
    let parsed = Url::parse(url).map_err(|e| {
        ConfigError::at(
            path,
            format!("'{url}' is not a valid URL ({e}); write it as http://host:8080"),
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ConfigError::at(
            path,
            format!("'{url}' is not an http:// or https:// URL"),
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ConfigError::at(
            path,
            "put credentials in auth:, not in the URL (the URL is shown in every reason)",
        ));
    }
    let host = parsed.host_str().unwrap_or_default();
    if host.is_empty() {
        return Err(ConfigError::at(path, format!("'{url}' has no host")));
    }
    if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() {
        return Err(ConfigError::at(
            path,
            format!("'{url}': give the node's base URL (http://host:8080), without a path"),
        ));
    }
    let address = match parsed.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    Ok(Endpoint {
        url: url.trim_end_matches('/').to_string(),
        address,
    })
}

fn percent(path: &str, value: Option<f64>, default: f64) -> Result<f64, ConfigError> {
    let value = value.unwrap_or(default);
    if !(value.is_finite() && (0.0..=100.0).contains(&value)) {
        return Err(ConfigError::at(
            path,
            format!("must be a percentage from 0 to 100; got {value}"),
        ));
    }
    Ok(value)
}

/// Checks the endpoints, credentials and options of a cluster.
pub fn settings(config: &ClusterConfig<Options>) -> Result<Settings, ConfigError> {
    if config.endpoints.is_empty() {
        return Err(ConfigError::at(
            "endpoints",
            "list the HTTP endpoint of at least one node (http://host:8080)",
        ));
    }
    let endpoints = config
        .endpoints
        .iter()
        .enumerate()
        .map(|(i, url)| endpoint(&format!("endpoints[{i}]"), url))
        .collect::<Result<Vec<_>, _>>()?;
    let credentials = config.login("the nodes API login")?;
    let options = &config.options;
    let max_offset_text = options.max_offset.as_deref().unwrap_or(DEFAULT_MAX_OFFSET);
    let max_offset = humantime::parse_duration(max_offset_text)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            ConfigError::at(
                "options.max_offset",
                format!("'{max_offset_text}' is not a positive duration (write it as 500ms)"),
            )
        })?;
    let capacity_degraded_percent = percent(
        "options.capacity_degraded_percent",
        options.capacity_degraded_percent,
        DEFAULT_CAPACITY_DEGRADED_PERCENT,
    )?;
    let capacity_unhealthy_percent = percent(
        "options.capacity_unhealthy_percent",
        options.capacity_unhealthy_percent,
        DEFAULT_CAPACITY_UNHEALTHY_PERCENT,
    )?;
    if capacity_degraded_percent > capacity_unhealthy_percent {
        return Err(ConfigError::at(
            "options.capacity_degraded_percent",
            format!(
                "must not be above capacity_unhealthy_percent ({capacity_unhealthy_percent}); \
                 got {capacity_degraded_percent}"
            ),
        ));
    }
    let max_body_bytes = options
        .max_body_bytes
        .unwrap_or(dbmon_scrape::DEFAULT_MAX_BODY_BYTES);
    if max_body_bytes == 0 {
        return Err(ConfigError::at(
            "options.max_body_bytes",
            "must be more than 0",
        ));
    }
    Ok(Settings {
        endpoints,
        credentials,
        max_offset,
        clock_offset_degraded_percent: percent(
            "options.clock_offset_degraded_percent",
            options.clock_offset_degraded_percent,
            DEFAULT_CLOCK_OFFSET_DEGRADED_PERCENT,
        )?,
        capacity_degraded_percent,
        capacity_unhealthy_percent,
        max_body_bytes,
    })
}
