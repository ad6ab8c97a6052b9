//! `options:` of a postgres cluster, its endpoints, and what they resolve to.

use dbmon_connector_api::{ClusterConfig, ConfigError};
use serde::Deserialize;
use std::fmt;

/// The database connected to when neither the endpoint nor `options.database` names one.
pub const DEFAULT_DATABASE: &str = "postgres";
/// The user when `auth.username` is not set.
pub const DEFAULT_USER: &str = "postgres";
/// The port when an endpoint does not name one.
pub const DEFAULT_PORT: u16 = 5432;
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

/// One server to connect to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP address (without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Database to connect to.
    pub database: String,
    /// `host:port` (`[::1]:5432` for IPv6): the node's id and address.
    pub address: String,
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
    let user = auth.username.unwrap_or_else(|| DEFAULT_USER.into());
    if user.is_empty() {
        return Err(ConfigError::at("auth.username", "must not be empty"));
    }
    Ok(Settings {
        endpoints,
        user,
        password: auth.password,
        options,
        statement_timeout_ms: config.timeout_ms.max(1),
    })
}

/// The endpoint as written, without what stands before an `@` (a password, maybe).
fn redacted(text: &str) -> String {
    match (text.find("://"), text.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}<redacted>{}", &text[..scheme + 3], &text[at..])
        }
        (None, Some(at)) => format!("<redacted>{}", &text[at..]),
        _ => text.to_string(),
    }
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

/// Parses `host`, `host:port`, `[v6]:port`, or `postgres://host[:port][/database]`
/// (`postgresql://` too).
pub fn parse_endpoint(text: &str, default_database: &str) -> Result<Endpoint, String> {
    let text = text.trim();
    let (authority, database) = match text.split_once("://") {
        Some((scheme, rest)) => {
            if !matches!(
                scheme.to_ascii_lowercase().as_str(),
                "postgres" | "postgresql"
            ) {
                return Err(format!(
                    "scheme '{scheme}' is not postgres:// or postgresql://"
                ));
            }
            if rest.contains('?') {
                return Err(
                    "query parameters are not supported: TLS comes from the cluster's \
                            tls:, credentials from its auth:"
                        .into(),
                );
            }
            match rest.split_once('/') {
                Some((authority, "")) => (authority, None),
                Some((authority, database)) => (authority, Some(database)),
                None => (rest, None),
            }
        }
        None => (text, None),
    };
    if authority.contains('@') {
        return Err(
            "credentials do not belong in the endpoint: put them in the cluster's auth:".into(),
        );
    }
    if let Some(database) = database
        && (database.contains('/') || database.contains('%'))
    {
        return Err(format!("'{database}' is not a plain database name"));
    }
    let (host, port) = split_host_port(authority)?;
    let address = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    Ok(Endpoint {
        host: host.to_string(),
        port,
        database: database.unwrap_or(default_database).to_string(),
        address,
    })
}

fn split_host_port(authority: &str) -> Result<(&str, u16), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or("an IPv6 address needs its closing ]")?;
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(format!("unexpected '{after}' after the address")),
            },
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => {
                return Err("write an IPv6 address in brackets: [::1]:5432".into());
            }
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    if host.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err(format!("'{host}' is not a host name"));
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(port) => match port.parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => return Err(format!("'{port}' is not a port number (1-65535)")),
        },
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_forms() {
        let e = parse_endpoint("db1", "postgres").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.address.as_str()),
            ("db1", 5432, "db1:5432")
        );
        let e = parse_endpoint("postgres://10.0.0.1:6432/app", "postgres").unwrap();
        assert_eq!((e.port, e.database.as_str()), (6432, "app"));
        let e = parse_endpoint("postgresql://[::1]/", "x").unwrap();
        assert_eq!(
            (e.host.as_str(), e.address.as_str(), e.database.as_str()),
            ("::1", "[::1]:5432", "x")
        );
        assert!(
            parse_endpoint("::1:5432", "x")
                .unwrap_err()
                .contains("brackets")
        );
        assert!(
            parse_endpoint("postgres://u:secret@h/db", "x")
                .unwrap_err()
                .contains("auth:")
        );
        assert!(
            parse_endpoint("http://h:1", "x")
                .unwrap_err()
                .contains("scheme")
        );
        assert!(parse_endpoint("h:0", "x").unwrap_err().contains("port"));
        assert!(parse_endpoint("h:99999", "x").unwrap_err().contains("port"));
        assert!(parse_endpoint("postgres://h/db?sslmode=require", "x").is_err());
        assert!(
            parse_endpoint(":5432", "x")
                .unwrap_err()
                .contains("no host")
        );
    }
}
