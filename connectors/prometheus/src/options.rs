//! `options:` of a prometheus cluster, and what they resolve to.

use dbmon_connector_api::{ClusterConfig, ConfigError};
use dbmon_scrape::Url;
use serde::Deserialize;
use std::fmt;
use wildmatch::WildMatch;

/// The connector's options.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The endpoint to scrape (`http://host:9100/metrics`). Without it, every entry of the
    /// cluster's `endpoints:` is scraped.
    #[serde(default)]
    pub url: Option<String>,
    /// Keep only series whose name matches one of these patterns (`*` and `?` wildcards).
    /// By default, every series is kept.
    #[serde(default)]
    pub include: Vec<String>,
    /// Drop series whose name matches one of these patterns. By default, none.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Refuse bodies larger than this. By default, 64 MiB.
    #[serde(default)]
    pub max_body_bytes: Option<usize>,
}

/// Which series names are kept.
#[derive(Debug, Default)]
pub struct NameFilter {
    include: Vec<WildMatch>,
    exclude: Vec<WildMatch>,
}

impl NameFilter {
    /// Whether series called `name` are kept.
    pub fn keeps(&self, name: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| p.matches(name)))
            && !self.exclude.iter().any(|p| p.matches(name))
    }

    /// Whether every series is kept (the filter can be skipped).
    pub fn keeps_all(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }
}

/// One endpoint to scrape.
#[derive(Debug)]
pub struct Target {
    /// The URL as configured: the node's id, the `instance` label and the name in reasons.
    pub url: String,
    /// `host:port` of the URL, the node's address.
    pub address: String,
}

/// Checks one URL at `path` (`options.url`, `endpoints[2]`): a URL that cannot work is refused
/// at startup rather than failing every collection.
fn target(path: &str, url: String) -> Result<Target, ConfigError> {
    let scheme = url
        .split_once("://")
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    if !matches!(scheme.as_deref(), Some("http" | "https")) {
        return Err(ConfigError::at(
            path,
            format!("'{url}' is not an http:// or https:// URL"),
        ));
    }
    let parsed = Url::parse(&url)
        .map_err(|e| ConfigError::at(path, format!("'{url}' is not a valid URL: {e}")))?;
    let host = match parsed.host_str() {
        Some(host) if !host.is_empty() => host,
        _ => {
            return Err(ConfigError::at(
                path,
                format!("'{url}' is not a valid URL: no host"),
            ));
        }
    };
    // Never the user:password of the URL: the address is shown to every client.
    let address = match parsed.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    Ok(Target { url, address })
}

/// The validated settings of one cluster.
#[derive(Debug)]
pub struct Settings {
    /// What to scrape.
    pub targets: Vec<Target>,
    /// Series kept.
    pub filter: NameFilter,
    /// Body size limit.
    pub max_body_bytes: usize,
    /// HTTP basic authentication, from the cluster's `auth:`.
    pub basic_auth: Option<BasicAuth>,
}

/// Credentials sent with every scrape. `Debug` never prints the password.
pub struct BasicAuth {
    /// User name.
    pub username: String,
    /// Password, if any.
    pub password: Option<String>,
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Checks the options and endpoints of a cluster.
pub fn settings(config: &ClusterConfig<Options>) -> Result<Settings, ConfigError> {
    let options = &config.options;
    let targets: Vec<(String, String)> = match &options.url {
        Some(url) => vec![("options.url".into(), url.clone())],
        None => config
            .endpoints
            .iter()
            .enumerate()
            .map(|(i, e)| (format!("endpoints[{i}]"), e.clone()))
            .collect(),
    };
    if targets.is_empty() {
        return Err(ConfigError::at(
            "options.url",
            "set options.url or the cluster's endpoints: to the URL(s) to scrape",
        ));
    }
    let targets = targets
        .into_iter()
        .map(|(path, url)| target(&path, url))
        .collect::<Result<Vec<_>, _>>()?;
    let patterns = |field: &str, list: &[String]| -> Result<Vec<WildMatch>, ConfigError> {
        list.iter()
            .enumerate()
            .map(|(i, p)| {
                if p.is_empty() {
                    Err(ConfigError::at(
                        format!("options.{field}[{i}]"),
                        "empty pattern",
                    ))
                } else {
                    Ok(WildMatch::new(p))
                }
            })
            .collect()
    };
    let max_body_bytes = options
        .max_body_bytes
        .unwrap_or(dbmon_scrape::DEFAULT_MAX_BODY_BYTES);
    if max_body_bytes == 0 {
        return Err(ConfigError::at(
            "options.max_body_bytes",
            "must be more than 0",
        ));
    }
    let basic_auth = match &config.auth {
        None => None,
        Some(auth) => match (&auth.username, &auth.password) {
            (Some(username), password) => Some(BasicAuth {
                username: username.clone(),
                password: password.clone(),
            }),
            (None, Some(_)) => {
                return Err(ConfigError::at(
                    "auth.username",
                    "a password needs a username",
                ));
            }
            (None, None) => None,
        },
    };
    Ok(Settings {
        targets,
        filter: NameFilter {
            include: patterns("include", &options.include)?,
            exclude: patterns("exclude", &options.exclude)?,
        },
        max_body_bytes,
        basic_auth,
    })
}
