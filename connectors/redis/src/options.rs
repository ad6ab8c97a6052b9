//! `options:` of a redis cluster entry, and the endpoints, credentials and thresholds they
//! resolve to. Everything that cannot work is refused here, before the host starts.

use dbmon_connector_api::{ClusterConfig, ConfigError};
use serde::Deserialize;
use std::fmt;

/// Default of [`Options::memory_used_degraded_percent`].
pub const DEFAULT_MEMORY_USED_DEGRADED_PERCENT: f64 = 80.0;
/// Default of [`Options::min_replicas_per_master`].
pub const DEFAULT_MIN_REPLICAS_PER_MASTER: u32 = 1;
/// The port of an endpoint written without one.
pub const DEFAULT_PORT: u16 = 6379;

/// The connector's options.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// A node using more than this percentage of its memory limit (`maxmemory`, or the
    /// machine's memory when it has none) makes the cluster DEGRADED. By default, 80.
    #[serde(default = "default_memory_used_degraded_percent")]
    pub memory_used_degraded_percent: f64,
    /// In a Redis Cluster, a master serving slots with fewer healthy replicas than this makes
    /// the cluster DEGRADED; 0 turns the rule off. By default, 1.
    #[serde(default = "default_min_replicas_per_master")]
    pub min_replicas_per_master: u32,
}

fn default_memory_used_degraded_percent() -> f64 {
    DEFAULT_MEMORY_USED_DEGRADED_PERCENT
}

fn default_min_replicas_per_master() -> u32 {
    DEFAULT_MIN_REPLICAS_PER_MASTER
}

impl Default for Options {
    fn default() -> Self {
        Options {
            memory_used_degraded_percent: DEFAULT_MEMORY_USED_DEGRADED_PERCENT,
            min_replicas_per_master: DEFAULT_MIN_REPLICAS_PER_MASTER,
        }
    }
}

/// One configured server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP address (without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl Endpoint {
    /// `host:port`, with an IPv6 address in brackets: the node's id and address.
    pub fn address(&self) -> String {
        address(&self.host, self.port)
    }
}

/// `host:port`, bracketing an IPv6 address.
pub fn address(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Credentials sent with `AUTH` on every new connection. `Debug` never prints the password.
#[derive(Clone)]
pub struct Credentials {
    /// ACL user; without it, `AUTH password` (the `default` user).
    pub username: Option<String>,
    /// The password.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The validated settings of one cluster.
#[derive(Debug)]
pub struct Settings {
    /// The servers to ask, in the order written.
    pub endpoints: Vec<Endpoint>,
    /// Whether connections use TLS (`rediss://` or a `tls:` block).
    pub tls: bool,
    /// `AUTH` credentials, if any.
    pub credentials: Option<Credentials>,
    /// See [`Options::memory_used_degraded_percent`].
    pub memory_used_degraded_percent: f64,
    /// See [`Options::min_replicas_per_master`].
    pub min_replicas_per_master: u32,
}

/// Checks the endpoints, credentials and options of a cluster.
pub fn settings(config: &ClusterConfig<Options>) -> Result<Settings, ConfigError> {
    if config.endpoints.is_empty() {
        return Err(ConfigError::at(
            "endpoints",
            "list at least one Redis server (host:port, redis://host:port or rediss://host:port)",
        ));
    }
    let mut endpoints = Vec::new();
    let mut schemes = Vec::new();
    for (i, text) in config.endpoints.iter().enumerate() {
        let (scheme, endpoint) = parse_endpoint(text)
            .map_err(|message| ConfigError::at(format!("endpoints[{i}]"), message))?;
        schemes.push((i, scheme));
        endpoints.push(endpoint);
    }
    let tls = config.tls.is_some() || schemes.iter().any(|(_, s)| *s == Scheme::Tls);
    if tls && let Some((i, _)) = schemes.iter().find(|(_, s)| *s == Scheme::Plain) {
        return Err(ConfigError::at(
            format!("endpoints[{i}]"),
            "redis:// in a cluster that uses TLS (a tls: block or a rediss:// endpoint): \
             write rediss:// or host:port",
        ));
    }
    let options = &config.options;
    let percent = options.memory_used_degraded_percent;
    if !(0.0..=100.0).contains(&percent) {
        return Err(ConfigError::at(
            "options.memory_used_degraded_percent",
            format!("must be a percentage from 0 to 100; got {percent}"),
        ));
    }
    Ok(Settings {
        endpoints,
        tls,
        credentials: credentials(config)?,
        memory_used_degraded_percent: percent,
        min_replicas_per_master: options.min_replicas_per_master,
    })
}

fn credentials(config: &ClusterConfig<Options>) -> Result<Option<Credentials>, ConfigError> {
    let Some(auth) = &config.auth else {
        return Ok(None);
    };
    match (&auth.username, &auth.password) {
        (username, Some(password)) => Ok(Some(Credentials {
            username: username.clone(),
            password: password.clone(),
        })),
        (Some(_), None) => Err(ConfigError::at(
            "auth.password",
            "a username needs a password (Redis authenticates with AUTH user password)",
        )),
        (None, None) => Ok(None),
    }
}

/// How an endpoint was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    /// `redis://`.
    Plain,
    /// `rediss://`.
    Tls,
    /// `host:port`: whatever the cluster's `tls:` says.
    Bare,
}

/// Parses `redis://host:port`, `rediss://host:port` or `host:port` (the port defaults to
/// 6379; IPv6 addresses in brackets).
fn parse_endpoint(text: &str) -> Result<(Scheme, Endpoint), String> {
    let (scheme, rest) = match text.split_once("://") {
        Some((s, rest)) if s.eq_ignore_ascii_case("redis") => (Scheme::Plain, rest),
        Some((s, rest)) if s.eq_ignore_ascii_case("rediss") => (Scheme::Tls, rest),
        Some(_) => {
            return Err(format!(
                "'{text}' is not host:port, redis://host:port or rediss://host:port"
            ));
        }
        None => (Scheme::Bare, text),
    };
    let authority = match rest.split_once('/') {
        Some((authority, "")) => authority,
        Some(_) => {
            return Err(format!(
                "'{text}' has a path: write only the server's address (every database is read)"
            ));
        }
        None => rest,
    };
    if authority.contains('@') {
        // Never echo the text: it holds a password.
        return Err("credentials in the address: put them in the cluster's auth: block".into());
    }
    let (host, port) = split_host_port(authority)
        .ok_or_else(|| format!("'{text}' is not host:port (a port is a number from 1 to 65535)"))?;
    if host.is_empty() {
        return Err(format!("'{text}' has no host"));
    }
    Ok((scheme, Endpoint { host, port }))
}

fn split_host_port(authority: &str) -> Option<(String, u16)> {
    let parse_port = |p: &str| p.parse::<u16>().ok().filter(|p| *p > 0);
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after {
            "" => DEFAULT_PORT,
            _ => parse_port(after.strip_prefix(':')?)?,
        };
        return Some((host.to_string(), port));
    }
    match authority.split_once(':') {
        // A second colon without brackets: an IPv6 address the parser cannot split.
        Some((_, port)) if port.contains(':') => None,
        Some((host, port)) => Some((host.to_string(), parse_port(port)?)),
        None => Some((authority.to_string(), DEFAULT_PORT)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> (Scheme, String) {
        let (scheme, endpoint) = parse_endpoint(text).unwrap();
        (scheme, endpoint.address())
    }

    #[test]
    fn endpoints_in_every_spelling() {
        assert_eq!(parsed("db1:7000"), (Scheme::Bare, "db1:7000".into()));
        assert_eq!(parsed("db1"), (Scheme::Bare, "db1:6379".into()));
        assert_eq!(
            parsed("redis://db1:7000"),
            (Scheme::Plain, "db1:7000".into())
        );
        assert_eq!(parsed("rediss://db1/"), (Scheme::Tls, "db1:6379".into()));
        assert_eq!(parsed("[::1]:7000"), (Scheme::Bare, "[::1]:7000".into()));
        assert_eq!(
            parsed("redis://[::1]"),
            (Scheme::Plain, "[::1]:6379".into())
        );
    }

    #[test]
    fn bad_endpoints_are_refused_without_echoing_credentials() {
        for bad in [
            "http://x:1",
            "x:0",
            "x:99999",
            "x:port",
            "::1",
            ":7000",
            "redis://x/1",
        ] {
            assert!(parse_endpoint(bad).is_err(), "{bad} accepted");
        }
        let err = parse_endpoint("redis://user:s3cret@x:1").unwrap_err();
        assert!(!err.contains("s3cret"), "{err}");
    }
}
