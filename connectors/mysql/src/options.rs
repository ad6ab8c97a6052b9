//! `options:` of a mysql cluster entry, and the endpoints, login and thresholds they resolve to.
//! Everything that cannot work is refused here, before the host starts.

use crate::endpoint::{self, Endpoint};
use dbmon_connector_api::{ClusterConfig, ConfigError, Login};
use serde::Deserialize;

/// Default of [`Options::connections_used_degraded_percent`].
pub const DEFAULT_CONNECTIONS_USED_DEGRADED_PERCENT: f64 = 80.0;
/// Default of [`Options::replication_seconds_behind_degraded`].
pub const DEFAULT_REPLICATION_SECONDS_BEHIND_DEGRADED: f64 = 30.0;
/// The user logged in as when the cluster has no `auth:` block.
pub const DEFAULT_USER: &str = "root";

/// The connector's options. Every one is optional.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// A server using more than this percentage of `max_connections` makes the cluster
    /// DEGRADED. By default, 80.
    pub connections_used_degraded_percent: f64,
    /// A replica whose `Seconds_Behind_Master` (`Seconds_Behind_Source`) is over this many
    /// seconds makes the cluster DEGRADED. By default, 30.
    pub replication_seconds_behind_degraded: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            connections_used_degraded_percent: DEFAULT_CONNECTIONS_USED_DEGRADED_PERCENT,
            replication_seconds_behind_degraded: DEFAULT_REPLICATION_SECONDS_BEHIND_DEGRADED,
        }
    }
}

/// The validated settings of one cluster.
#[derive(Debug)]
pub struct Settings {
    /// The servers, in the order written.
    pub endpoints: Vec<Endpoint>,
    /// Who logs in; `Debug` never prints the password.
    pub login: Login,
    /// The options, checked.
    pub options: Options,
}

/// Checks the endpoints, login and options of a cluster.
pub fn settings(config: &ClusterConfig<Options>) -> Result<Settings, ConfigError> {
    if config.endpoints.is_empty() {
        return Err(ConfigError::at(
            "endpoints",
            "list at least one server, as host:port or mysql://host:port",
        ));
    }
    let mut endpoints: Vec<Endpoint> = Vec::new();
    for (i, text) in config.endpoints.iter().enumerate() {
        let path = format!("endpoints[{i}]");
        let endpoint = endpoint::parse(text).map_err(|message| ConfigError::at(&path, message))?;
        if let Some(first) = endpoints.iter().position(|e| e.address == endpoint.address) {
            return Err(ConfigError::at(
                path,
                format!("{} is already endpoints[{first}]", endpoint.address),
            ));
        }
        endpoints.push(endpoint);
    }
    let options = config.options.clone();
    percentage(
        "connections_used_degraded_percent",
        options.connections_used_degraded_percent,
    )?;
    let seconds = options.replication_seconds_behind_degraded;
    if !(seconds.is_finite() && seconds >= 0.0) {
        return Err(ConfigError::at(
            "options.replication_seconds_behind_degraded",
            format!("must be a number of seconds, 0 or more; got {seconds}"),
        ));
    }
    // A MySQL or MariaDB account may have no password: `username:` alone is a login with an
    // empty one.
    let login = config
        .login_password_optional("the MySQL login")?
        .unwrap_or_else(|| Login {
            username: DEFAULT_USER.into(),
            password: String::new(),
        });
    Ok(Settings {
        endpoints,
        login,
        options,
    })
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
