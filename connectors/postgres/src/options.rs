//! `options:` of a postgres cluster, its endpoints, and what they resolve to.

use crate::endpoint::{Endpoint, parse_endpoint, redacted};
use dbmon_connector_api::{ClusterConfig, ConfigError};
use serde::Deserialize;
use std::fmt;

/// The database connected to when neither the endpoint nor `options.database` names one.
pub const DEFAULT_DATABASE: &str = "postgres";
/// The user when neither `auth.username` nor a `postgres://user@host` endpoint names one.
pub const DEFAULT_USER: &str = "postgres";
/// Default of [`Options::replication_lag_bytes_degraded`]: 64 MiB of WAL.
pub const DEFAULT_REPLICATION_LAG_BYTES_DEGRADED: f64 = 67_108_864.0;
/// Default of [`Options::replication_lag_seconds_degraded`].
pub const DEFAULT_REPLICATION_LAG_SECONDS_DEGRADED: f64 = 30.0;
/// Default of [`Options::connections_used_degraded_percent`].
pub const DEFAULT_CONNECTIONS_USED_DEGRADED_PERCENT: f64 = 80.0;
/// Default of [`Options::xid_wraparound_degraded_percent`].
pub const DEFAULT_XID_WRAPAROUND_DEGRADED_PERCENT: f64 = 50.0;

/// The connector's options. Every field is optional.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// The database to connect to on endpoints whose URL names none. By default, `postgres`.
    pub database: String,
    /// Replicas that must be streaming from one of the endpoints, each matched against the
    /// `application_name` or the client address of `pg_stat_replication`. By default, none.
    pub expected_replicas: Vec<String>,
    /// A replica further behind than this many bytes of WAL makes the cluster DEGRADED.
    /// By default, 67108864 (64 MiB).
    pub replication_lag_bytes_degraded: f64,
    /// A replica (`replication_lag_seconds`) or standby (`recovery_lag_seconds`) further behind
    /// than this many seconds makes the cluster DEGRADED. By default, 30.
    pub replication_lag_seconds_degraded: f64,
    /// A node using more than this percentage of `max_connections` makes the cluster DEGRADED.
    /// By default, 80.
    pub connections_used_degraded_percent: f64,
    /// A node whose oldest database is further than this percentage of the way to transaction
    /// ID wraparound makes the cluster DEGRADED. By default, 50.
    pub xid_wraparound_degraded_percent: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            database: DEFAULT_DATABASE.into(),
            expected_replicas: Vec::new(),
            replication_lag_bytes_degraded: DEFAULT_REPLICATION_LAG_BYTES_DEGRADED,
            replication_lag_seconds_degraded: DEFAULT_REPLICATION_LAG_SECONDS_DEGRADED,
            connections_used_degraded_percent: DEFAULT_CONNECTIONS_USED_DEGRADED_PERCENT,
            xid_wraparound_degraded_percent: DEFAULT_XID_WRAPAROUND_DEGRADED_PERCENT,
        }
    }
}

/// The validated settings of one cluster.
pub struct Settings {
    /// The servers, in the order configured.
    pub endpoints: Vec<Endpoint>,
    /// User name to log in as.
    pub user: String,
    /// Password, if any. Never printed: `Debug` shows `<redacted>`.
    pub password: Option<String>,
    /// The options, checked.
    pub options: Options,
    /// Server-side limit on each statement, so that a query abandoned at the deadline does not
    /// keep running: the cluster's timeout.
    pub statement_timeout_ms: u64,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("endpoints", &self.endpoints)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("options", &self.options)
            .finish()
    }
}

/// Checks the endpoints, credentials and options of a cluster.
pub fn settings(config: &ClusterConfig<Options>) -> Result<Settings, ConfigError> {
    let options = config.options.clone();
    if options.database.is_empty() {
        return Err(ConfigError::at("options.database", "must not be empty"));
    }
    if config.endpoints.is_empty() {
        return Err(ConfigError::at(
            "endpoints",
            "list at least one server, as host:port or postgres://host:port/database",
        ));
    }
    let mut endpoints: Vec<Endpoint> = Vec::new();
    for (i, text) in config.endpoints.iter().enumerate() {
        let path = format!("endpoints[{i}]");
        let endpoint = parse_endpoint(text, &options.database).map_err(|message| {
            ConfigError::at(&path, format!("'{}': {message}", redacted(text)))
        })?;
        if let Some(first) = endpoints.iter().position(|e| e.address == endpoint.address) {
            return Err(ConfigError::at(
                path,
                format!("{} is already endpoints[{first}]", endpoint.address),
            ));
        }
        endpoints.push(endpoint);
    }
    for (i, name) in options.expected_replicas.iter().enumerate() {
        if name.trim().is_empty() {
            return Err(ConfigError::at(
                format!("options.expected_replicas[{i}]"),
                "empty name",
            ));
        }
    }
    non_negative(
        "replication_lag_bytes_degraded",
        options.replication_lag_bytes_degraded,
    )?;
    non_negative(
        "replication_lag_seconds_degraded",
        options.replication_lag_seconds_degraded,
    )?;
    percentage(
        "connections_used_degraded_percent",
        options.connections_used_degraded_percent,
    )?;
    percentage(
        "xid_wraparound_degraded_percent",
        options.xid_wraparound_degraded_percent,
    )?;
    let auth = config.auth.clone().unwrap_or_default();
    let user = login_user(auth.username, &endpoints)?;
    Ok(Settings {
        endpoints,
        user,
        password: auth.password,
        options,
        statement_timeout_ms: config.timeout_ms.max(1),
    })
}

/// The one user the cluster logs in as: `auth.username`, else the user its `postgres://user@`
/// endpoints name (the same in all), else `postgres`.
fn login_user(configured: Option<String>, endpoints: &[Endpoint]) -> Result<String, ConfigError> {
    if configured.as_deref() == Some("") {
        return Err(ConfigError::at("auth.username", "must not be empty"));
    }
    let mut named: Option<(usize, &str)> = None;
    for (i, endpoint) in endpoints.iter().enumerate() {
        let Some(user) = endpoint.user.as_deref() else {
            continue;
        };
        let path = format!("endpoints[{i}]");
        if let Some(configured) = configured.as_deref()
            && configured != user
        {
            return Err(ConfigError::at(
                path,
                format!(
                    "names user '{user}' but auth.username is '{configured}': the cluster logs \
                     in as one user; drop one of the two or make them the same"
                ),
            ));
        }
        match named {
            Some((first, other)) if other != user => {
                return Err(ConfigError::at(
                    path,
                    format!(
                        "names user '{user}' but endpoints[{first}] names '{other}': the cluster \
                         logs in as one user"
                    ),
                ));
            }
            Some(_) => {}
            None => named = Some((i, user)),
        }
    }
    Ok(configured
        .or_else(|| named.map(|(_, user)| user.to_string()))
        .unwrap_or_else(|| DEFAULT_USER.into()))
}

fn non_negative(field: &str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(ConfigError::at(
            format!("options.{field}"),
            format!("must be a number of 0 or more; got {value}"),
        ))
    }
}

fn percentage(field: &str, value: f64) -> Result<(), ConfigError> {
    if (0.0..=100.0).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::at(
            format!("options.{field}"),
            format!("must be a percentage from 0 to 100; got {value}"),
        ))
    }
}
