//! A connector's example.yaml and README.md, read by the tests that keep them in step with the
//! code: the same checks for every connector, each failing with the file it read.

use crate::ReportExt;
use dbmon_connector_api::{ClusterConfig, ConfigError, Connector, Report};
use serde_yaml_ng::Value;
use std::path::PathBuf;

/// The top-level keys of a complete host configuration, in the order the examples write them.
pub const HOST_CONFIG_KEYS: [&str; 3] = ["listen", "plugins_dir", "clusters"];

/// A connector's folder (`connectors/<name>/`), holding its README.md and example.yaml.
pub struct ConnectorDir {
    path: PathBuf,
}

impl ConnectorDir {
    /// The folder at `manifest_dir`: pass `env!("CARGO_MANIFEST_DIR")`.
    pub fn new(manifest_dir: impl Into<PathBuf>) -> Self {
        ConnectorDir {
            path: manifest_dir.into(),
        }
    }

    /// A file of the folder; panics naming it when it cannot be read.
    pub fn read(&self, file: &str) -> String {
        let path = self.path.join(file);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The cluster entry of example.yaml, once it is checked to be a complete host
    /// configuration ([`HOST_CONFIG_KEYS`], in order) with exactly one cluster, of `connector`.
    pub fn example_cluster(&self, connector: &str) -> Value {
        let config: Value = serde_yaml_ng::from_str(&self.read("example.yaml"))
            .unwrap_or_else(|e| panic!("example.yaml does not parse: {e}"));
        assert_eq!(keys(&config), HOST_CONFIG_KEYS, "example.yaml's top level");
        let clusters = config["clusters"]
            .as_sequence()
            .expect("a list of clusters");
        assert_eq!(clusters.len(), 1, "example.yaml's clusters");
        let cluster = clusters[0].clone();
        assert_eq!(
            cluster["connector"].as_str(),
            Some(connector),
            "{cluster:?}"
        );
        cluster
    }

    /// The text of the first YAML block after `heading` in README.md.
    pub fn readme_yaml(&self, heading: &str) -> String {
        let readme = self.read("README.md");
        let section = &readme[readme
            .find(heading)
            .unwrap_or_else(|| panic!("README.md has no {heading}"))..];
        let start = section
            .find("```yaml\n")
            .unwrap_or_else(|| panic!("no yaml block after {heading}"))
            + "```yaml\n".len();
        let end = start
            + section[start..]
                .find("```")
                .unwrap_or_else(|| panic!("the yaml block after {heading} never ends"));
        section[start..end].to_string()
    }

    /// The first cluster entry of the YAML block after `heading`, checked to be of `connector`.
    pub fn readme_cluster(&self, heading: &str, connector: &str) -> Value {
        let config: Value = serde_yaml_ng::from_str(&self.readme_yaml(heading))
            .unwrap_or_else(|e| panic!("the README's YAML after {heading} does not parse: {e}"));
        let cluster = config["clusters"][0].clone();
        assert_eq!(
            cluster["connector"].as_str(),
            Some(connector),
            "{cluster:?}"
        );
        cluster
    }

    /// `error`, once checked to be written in README.md as it reads (a `` - `ERROR` `` item).
    pub fn documented(&self, error: ConfigError) -> ConfigError {
        let readme = self.read("README.md");
        assert!(
            readme.contains(&format!("- `{error}`")),
            "README lacks `{error}`"
        );
        error
    }

    /// The README's `## Metrics` section, up to `## Health rules`, split at `### Node`.
    pub fn readme_metrics(&self) -> ReadmeMetrics {
        let readme = self.read("README.md");
        let metrics = &readme[readme.find("## Metrics").expect("a Metrics section")..];
        let metrics = &metrics[..metrics
            .find("## Health rules")
            .expect("a Health rules section after Metrics")];
        let node_part = metrics.find("### Node").expect("a node metrics part");
        let (cluster, node) = metrics.split_at(node_part);
        ReadmeMetrics {
            cluster: cluster.to_string(),
            node: node.to_string(),
        }
    }
}

/// The README's metrics, as [`ConnectorDir::readme_metrics`] splits them.
#[derive(Debug)]
pub struct ReadmeMetrics {
    /// From `## Metrics` to `### Node`: the cluster-level metrics.
    pub cluster: String,
    /// From `### Node` to `## Health rules`: the metrics of each node.
    pub node: String,
}

impl ReadmeMetrics {
    /// Checks that the README lists exactly the metrics of `report`, the cluster's and the
    /// nodes' apart, each with the unit the report gives it (`, UNIT)`, or `, no unit)`).
    pub fn assert_lists_exactly(&self, report: &Report) {
        assert_eq!(
            listed_metrics(&self.cluster),
            report.metric_names(false),
            "cluster metrics"
        );
        assert_eq!(
            listed_metrics(&self.node),
            report.metric_names(true),
            "node metrics"
        );
        for series in report.series() {
            let unit = series.unit().unwrap_or("no unit");
            let item = format!("- `{}` (", series.name());
            let part = match series.node() {
                Some(_) => &self.node,
                None => &self.cluster,
            };
            let line = part
                .lines()
                .find(|l| l.starts_with(&item))
                .unwrap_or_else(|| panic!("README has no item {item}"));
            assert!(line.contains(&format!(", {unit})")), "{line} vs {unit}");
        }
    }
}

/// The names of the `` - `name` ( `` items of a README part, sorted, repeats kept (so that a
/// metric listed twice shows).
pub fn listed_metrics(part: &str) -> Vec<String> {
    let mut names: Vec<String> = part
        .lines()
        .filter_map(|l| {
            l.strip_prefix("- `")?
                .split_once("` (")
                .map(|(name, _)| name.to_string())
        })
        .collect();
    names.sort();
    names
}

/// The keys of a YAML mapping, in order; panics when `value` is not a mapping.
pub fn keys(value: &Value) -> Vec<&str> {
    value
        .as_mapping()
        .unwrap_or_else(|| panic!("not a mapping: {value:?}"))
        .keys()
        .filter_map(Value::as_str)
        .collect()
}

/// The fields of `C`'s options in declaration order, from serde's unknown-field error, which
/// names them all ("unknown field `?`, expected one of `a`, `b`, ...").
pub fn option_names<C: Connector>() -> Vec<String> {
    let err = match serde_json::from_str::<C::Options>(r#"{"?": 0}"#) {
        Ok(_) => panic!("the options accept an unknown field: add #[serde(deny_unknown_fields)]"),
        Err(e) => e,
    };
    let text = err.to_string();
    let names: Vec<String> = text
        .split('`')
        .skip(3)
        .step_by(2)
        .map(String::from)
        .collect();
    assert!(!names.is_empty(), "{text}");
    names
}

/// The configuration the host would pass for one YAML cluster entry, as far as a test can
/// build it: its `options:` (which must be there) and `endpoints:` (none when absent, as in
/// the host). `tls:` and `auth:` are left out: their files and secrets are the host's to
/// resolve; add what the connector's check needs.
pub fn entry_config<C: Connector>(cluster: &Value) -> Result<ClusterConfig<C::Options>, String> {
    let options = cluster.get("options").expect("an options block").clone();
    let options: C::Options = serde_yaml_ng::from_value(options).map_err(|e| e.to_string())?;
    let endpoints: Vec<String> = match cluster.get("endpoints") {
        Some(list) => serde_yaml_ng::from_value(list.clone()).map_err(|e| e.to_string())?,
        None => vec![],
    };
    Ok(ClusterConfig::new("example", options).with_endpoints(endpoints))
}

/// Checks that a YAML cluster entry (`what`: "example.yaml's cluster") spells out every option
/// of `C`, in declaration order, and that [`build_entry`] accepts it.
pub fn assert_complete_entry<C: Connector>(cluster: &Value, what: &str) {
    assert_eq!(
        keys(&cluster["options"]),
        option_names::<C>(),
        "{what}'s options vs Options fields"
    );
    if let Err(e) = build_entry::<C>(cluster) {
        panic!("{what} is refused: {e}");
    }
}

/// `Connector::new` on [`entry_config`], as the host would build the connector.
pub fn build_entry<C: Connector>(cluster: &Value) -> Result<C, String> {
    C::new(entry_config::<C>(cluster)?).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_metrics_are_sorted_with_repeats_kept_one_per_item() {
        let part = "### Cluster\n\n- `b` (gauge, no unit): b.\n- `a` (gauge, ms): a,\n  \
                    continued `c` (gauge).\n- `a` (gauge, ms): again.\n- `x`, `y` (gauges): \
                    two at once.\nLabels: `version`.\n";
        // An item naming two metrics reads as one odd name, which matches no reported metric.
        assert_eq!(listed_metrics(part), ["a", "a", "b", "x`, `y"]);
    }

    #[test]
    fn keys_keep_their_order() {
        let value: Value = serde_yaml_ng::from_str("b: 1\na: 2\nc: 3\n").unwrap();
        assert_eq!(keys(&value), ["b", "a", "c"]);
    }

    #[test]
    fn the_readme_parts_split_at_node() {
        let dir = tempfile::tempdir().unwrap();
        let readme = "# x\n\n## Configuration\n\n```yaml\nclusters:\n  - id: a\n    connector: x\n    \
                      options: {}\n```\n\n## Metrics\n\n### Cluster\n\n- `up` (gauge)\n\n### Node\n\n\
                      - `rtt` (gauge, ms)\n\n## Health rules\n\n- `late` (gauge)\n";
        std::fs::write(dir.path().join("README.md"), readme).unwrap();
        let docs = ConnectorDir::new(dir.path());
        let metrics = docs.readme_metrics();
        assert_eq!(listed_metrics(&metrics.cluster), ["up"]);
        assert_eq!(listed_metrics(&metrics.node), ["rtt"]);
        let cluster = docs.readme_cluster("## Configuration", "x");
        assert_eq!(keys(&cluster), ["id", "connector", "options"]);
    }
}
