//! The kind a connector's README gives each metric (`` - `name` (gauge, unit): ... ``), checked
//! against the kinds a collected report carries.
//!
//! An item of a README's `## Metrics` section names one or more metrics, each group followed by
//! its kind in parentheses: `` - `a`, `b` (gauges, bytes), and `c` (gauge, percent): ... ``. A
//! parenthesis that gives no kind is a remark (`` `size` (total and per `database`) ``); names
//! an item gives no kind to (`` - `version`, `connections`: as above ``) take the kind the
//! cluster part gives them. The item's head ends at the first other word or colon, so that
//! names quoted in its description are not read as metrics.

use crate::docs::ConnectorDir;
use dbmon_connector_api::{MetricKind, Report};
use std::collections::{BTreeMap, BTreeSet};

/// Every metric name the items (`- ` lines and their indented continuations) of `part` list, in
/// order, with the kind the item gives it: `None` for a name written without one. Panics on a
/// kind with no name before it and on a name that is not a metric name.
pub fn listed_kinds(part: &str) -> Vec<(String, Option<MetricKind>)> {
    let mut listed = Vec::new();
    for item in items(part) {
        let mut pending: Vec<String> = Vec::new();
        let mut rest = item.as_str();
        loop {
            rest = rest.trim_start_matches([' ', ',']);
            if let Some(after) = rest.strip_prefix("and ") {
                rest = after;
            } else if let Some(after) = rest.strip_prefix('`') {
                let (name, after) = after
                    .split_once('`')
                    .unwrap_or_else(|| panic!("an unclosed ` in README item: {item}"));
                assert!(
                    is_metric_name(name),
                    "`{name}` is not a metric name, in README item: {item}"
                );
                pending.push(name.to_string());
                rest = after;
            } else if let Some(after) = rest.strip_prefix('(') {
                let (inside, after) = after
                    .split_once(')')
                    .unwrap_or_else(|| panic!("an unclosed ( in README item: {item}"));
                let word = inside.split(',').next().unwrap_or("").trim();
                if let Some(kind) = kind_of(word) {
                    assert!(
                        !pending.is_empty(),
                        "({inside}) follows no metric name, in README item: {item}"
                    );
                    listed.extend(pending.drain(..).map(|name| (name, Some(kind))));
                }
                rest = after;
            } else {
                break;
            }
        }
        listed.extend(pending.into_iter().map(|name| (name, None)));
    }
    listed
}

/// The kinds a README gives, per level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadmeKinds {
    /// The metrics of the whole cluster, by name.
    pub cluster: BTreeMap<String, MetricKind>,
    /// The metrics of each node, by name.
    pub node: BTreeMap<String, MetricKind>,
}

/// What [`ReadmeKinds::check`] found, once every listed series had its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Series of the report whose name the README lists at their level.
    pub series: usize,
    /// Cluster metrics the README lists that the report has no series of.
    pub unseen_cluster: BTreeSet<String>,
    /// Node metrics the README lists that no node of the report has.
    pub unseen_node: BTreeSet<String>,
}

impl ReadmeKinds {
    /// The `## Metrics` section of the connector's README.md, up to the next `## ` heading,
    /// split at `### Node`; without a `### Node` part, both levels share the whole section.
    pub fn read(dir: &ConnectorDir) -> ReadmeKinds {
        let readme = dir.read("README.md");
        let start = readme
            .find("\n## Metrics\n")
            .expect("README.md has a ## Metrics section")
            + 1;
        let section = &readme[start..];
        let end = section[1..]
            .find("\n## ")
            .map_or(section.len(), |at| at + 2);
        let section = &section[..end];
        match section.find("\n### Node") {
            Some(at) => ReadmeKinds::from_parts(&section[..at], &section[at..]),
            None => ReadmeKinds::from_parts(section, section),
        }
    }

    /// The kinds of a cluster part and a node part. Panics when a name is given two kinds in
    /// one part, or none that can be resolved (a node name written without a kind that the
    /// cluster part does not give one).
    pub fn from_parts(cluster: &str, node: &str) -> ReadmeKinds {
        let cluster = resolve(listed_kinds(cluster), &BTreeMap::new(), "cluster");
        let node = resolve(listed_kinds(node), &cluster, "node");
        ReadmeKinds { cluster, node }
    }

    /// Panics, naming every offending series, when a series of `report` has no kind, or a kind
    /// other than the one the README gives its name at its level (cluster or node).
    pub fn check(&self, report: &Report) -> Checked {
        let mut wrong = Vec::new();
        let mut series = 0;
        let mut seen_cluster = BTreeSet::new();
        let mut seen_node = BTreeSet::new();
        for s in report.series() {
            let (level, listed, seen) = match s.node() {
                None => ("cluster", &self.cluster, &mut seen_cluster),
                Some(_) => ("node", &self.node, &mut seen_node),
            };
            let kind = s.kind();
            if kind == MetricKind::Unknown {
                wrong.push(format!("{level} series {s:?} has no kind"));
            }
            if let Some(&want) = listed.get(s.name()) {
                series += 1;
                seen.insert(s.name().to_string());
                if kind != want {
                    wrong.push(format!(
                        "{level} series {s:?} is a {}, the README says {}",
                        kind.as_str(),
                        want.as_str()
                    ));
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        let unseen = |listed: &BTreeMap<String, MetricKind>, seen: &BTreeSet<String>| {
            listed
                .keys()
                .filter(|n| !seen.contains(*n))
                .cloned()
                .collect()
        };
        Checked {
            series,
            unseen_cluster: unseen(&self.cluster, &seen_cluster),
            unseen_node: unseen(&self.node, &seen_node),
        }
    }
}

/// The items of `part`: each `- ` line with its indented continuation lines, joined by spaces,
/// without the `- `.
fn items(part: &str) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    let mut open = false;
    for line in part.lines() {
        if let Some(head) = line.strip_prefix("- ") {
            items.push(head.to_string());
            open = true;
        } else if open && line.starts_with("  ") && !line.trim().is_empty() {
            let last = items.last_mut().expect("an open item");
            last.push(' ');
            last.push_str(line.trim());
        } else {
            open = false;
        }
    }
    items
}

/// The kind a README word names: `gauge`, `counters`, ...
fn kind_of(word: &str) -> Option<MetricKind> {
    Some(match word {
        "gauge" | "gauges" => MetricKind::Gauge,
        "counter" | "counters" => MetricKind::Counter,
        "histogram" | "histograms" => MetricKind::Histogram,
        "summary" | "summaries" => MetricKind::Summary,
        _ => return None,
    })
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// One kind per name of a part; names without one take theirs from `fallback`.
fn resolve(
    listed: Vec<(String, Option<MetricKind>)>,
    fallback: &BTreeMap<String, MetricKind>,
    level: &str,
) -> BTreeMap<String, MetricKind> {
    let mut kinds = BTreeMap::new();
    for (name, kind) in listed {
        let kind = kind
            .or_else(|| fallback.get(&name).copied())
            .unwrap_or_else(|| panic!("the README's {level} part gives `{name}` no kind"));
        if let Some(other) = kinds.insert(name.clone(), kind) {
            assert_eq!(
                other, kind,
                "the README's {level} part gives `{name}` two kinds"
            );
        }
    }
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;
    use dbmon_connector_api::NodeStatus;

    const GAUGE: Option<MetricKind> = Some(MetricKind::Gauge);
    const COUNTER: Option<MetricKind> = Some(MetricKind::Counter);

    fn pairs(listed: &[(String, Option<MetricKind>)]) -> Vec<(&str, Option<MetricKind>)> {
        listed.iter().map(|(n, k)| (n.as_str(), *k)).collect()
    }

    #[test]
    fn items_give_kinds_to_the_names_before_them() {
        let part = "### Cluster\n\nCounts (gauges, no unit):\n\n\
                    - `up` (gauge, no unit): 1 when `x` answered.\n\
                    - `a`, `b`,\n  `c` (gauges, bytes), and\n  `d` (counter, no unit): summed \
                    `e`.\n\
                    - `lag` (gauge, bytes), labels `replica`, `state`: per replica.\n\
                    - `v`, `size` (total and per `database`), `w`: as above.\n\
                    - `h` (histogram, seconds): buckets.\n\
                    Labels: `version`.\n";
        assert_eq!(
            pairs(&listed_kinds(part)),
            [
                ("up", GAUGE),
                ("a", GAUGE),
                ("b", GAUGE),
                ("c", GAUGE),
                ("d", COUNTER),
                ("lag", GAUGE),
                ("v", None),
                ("size", None),
                ("w", None),
                ("h", Some(MetricKind::Histogram)),
            ]
        );
    }

    #[test]
    fn node_names_without_a_kind_take_the_cluster_kind() {
        let kinds = ReadmeKinds::from_parts(
            "- `v` (counter, no unit): v.\n- `up` (gauge): up.\n",
            "- `up` (gauge): up.\n- `v`: as above.\n",
        );
        assert_eq!(kinds.node["v"], MetricKind::Counter);
        assert_eq!(kinds.node["up"], MetricKind::Gauge);
    }

    #[test]
    #[should_panic(expected = "gives `v` no kind")]
    fn a_name_without_any_kind_is_refused() {
        ReadmeKinds::from_parts("- `up` (gauge): up.\n", "- `v`: as above.\n");
    }

    #[test]
    #[should_panic(expected = "gives `up` two kinds")]
    fn two_kinds_for_one_name_are_refused() {
        ReadmeKinds::from_parts("- `up` (gauge): up.\n- `up` (counter): again.\n", "");
    }

    #[test]
    fn the_metrics_section_splits_at_node_or_is_shared() {
        let dir = tempfile::tempdir().unwrap();
        let readme = "# x\n\n## Metrics\n\n- `up` (gauge, no unit): up.\n\n### Node\n\n\
                      - `total` (counter, no unit): total.\n\n## Health rules\n\n\
                      - `late` (counter): not a metric.\n";
        std::fs::write(dir.path().join("README.md"), readme).unwrap();
        let kinds = ReadmeKinds::read(&ConnectorDir::new(dir.path()));
        assert_eq!(kinds.cluster.keys().collect::<Vec<_>>(), ["up"]);
        assert_eq!(kinds.node.keys().collect::<Vec<_>>(), ["total"]);

        let readme = "# x\n\n## Metrics\n\n- `up` (gauge, no unit): up.\n\n## Health rules\n";
        std::fs::write(dir.path().join("README.md"), readme).unwrap();
        let kinds = ReadmeKinds::read(&ConnectorDir::new(dir.path()));
        assert_eq!(kinds.cluster, kinds.node);
        assert_eq!(kinds.node["up"], MetricKind::Gauge);
    }

    fn kinds() -> ReadmeKinds {
        ReadmeKinds::from_parts(
            "- `up` (gauge): up.\n- `total` (counter): t.\n",
            "- `total` (counter): t.\n- `rtt` (gauge, ms): rtt.\n",
        )
    }

    #[test]
    fn a_report_of_the_listed_kinds_passes() {
        let mut report = Report::new();
        report.metric("up", 1.0).gauge();
        report.metric("extra", 1.0).counter();
        let node = report.node("1", NodeStatus::Live);
        report.node_metric(node, "total", 3.0).counter();
        let checked = kinds().check(&report);
        assert_eq!(checked.series, 2);
        assert_eq!(
            checked.unseen_cluster,
            BTreeSet::from(["total".to_string()])
        );
        assert_eq!(checked.unseen_node, BTreeSet::from(["rtt".to_string()]));
    }

    #[test]
    #[should_panic(expected = "is a gauge, the README says counter")]
    fn a_kind_other_than_the_readme_fails() {
        let mut report = Report::new();
        let node = report.node("1", NodeStatus::Live);
        report.node_metric(node, "total", 3.0).gauge();
        kinds().check(&report);
    }

    #[test]
    #[should_panic(expected = "has no kind")]
    fn a_series_without_a_kind_fails() {
        let mut report = Report::new();
        report.metric("unlisted", 1.0);
        kinds().check(&report);
    }
}
