//! `options:` of a prometheus cluster, and what they resolve to.

use dbmon_connector_api::{ClusterConfig, ConfigError};
use serde::Deserialize;
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

/// The validated settings of one cluster.
#[derive(Debug)]
pub struct Settings {
    /// URLs to scrape.
    pub targets: Vec<String>,
    /// Series kept.
    pub filter: NameFilter,
    /// Body size limit.
    pub max_body_bytes: usize,
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
    for (path, url) in &targets {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError::at(
                path.as_str(),
                format!("'{url}' is not an http:// or https:// URL"),
            ));
        }
    }
    let patterns = |field: &str, list: &[String]| -> Result<Vec<WildMatch>, ConfigError> {
        list.iter()
            .enumerate()
            .map(|(i, p)| {
                if p.is_empty() {
                    Err(ConfigError::at(format!("options.{field}[{i}]"), "empty pattern"))
                } else {
                    Ok(WildMatch::new(p))
                }
            })
            .collect()
    };
    let max_body_bytes = options.max_body_bytes.unwrap_or(dbmon_scrape::DEFAULT_MAX_BODY_BYTES);
    if max_body_bytes == 0 {
        return Err(ConfigError::at("options.max_body_bytes", "must be more than 0"));
    }
    Ok(Settings {
        targets: targets.into_iter().map(|(_, url)| url).collect(),
        filter: NameFilter {
            include: patterns("include", &options.include)?,
            exclude: patterns("exclude", &options.exclude)?,
        },
        max_body_bytes,
    })
}
