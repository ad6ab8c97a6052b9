//! Lookups on a connector's [`Report`] that tests assert with: by node id, "exactly one", and
//! reasons by their words. Each one that panics shows the whole report.

use dbmon_connector_api::{NodeRef, Report, SeriesView};

/// Test-side lookups on a [`Report`], on top of the SDK's read-back accessors
/// ([`Report::series`], [`Report::find_node`], ...).
pub trait ReportExt {
    /// The first node with this id; panics when there is none.
    fn node_by_id(&self, id: &str) -> NodeRef;

    /// Every metric of the node with id `node` (`None`: cluster-level) called `name` with at
    /// least these labels, in the order they were added.
    fn series_of(
        &self,
        node: Option<&str>,
        name: &str,
        labels: &[(&str, &str)],
    ) -> Vec<SeriesView<'_>>;

    /// The value of the one metric of `node` (`None`: cluster-level) called `name` with at
    /// least these labels; panics unless exactly one matches.
    fn one_value(&self, node: Option<&str>, name: &str, labels: &[(&str, &str)]) -> f64;

    /// The value of the one metric of `node` (`None`: cluster-level) called `name` with exactly
    /// these labels (`&[]`: unlabelled); panics unless exactly one matches.
    fn exact_value(&self, node: Option<&str>, name: &str, labels: &[(&str, &str)]) -> f64;

    /// The value of the first cluster-level metric called `name` ([`Report::value`]); panics
    /// when there is none.
    fn expect_value(&self, name: &str) -> f64;

    /// The value of the first metric called `name` of the node with id `node`, any labels.
    fn node_value_of(&self, node: &str, name: &str) -> Option<f64>;

    /// The names of the metrics of nodes (`of_nodes`) or of the cluster, sorted, each once.
    fn metric_names(&self, of_nodes: bool) -> Vec<&str>;

    /// The reasons that contain `text`.
    fn reasons_with(&self, text: &str) -> Vec<&str>;

    /// Whether some reason contains every one of `words`.
    fn has_reason(&self, words: &[&str]) -> bool;
}

impl ReportExt for Report {
    fn node_by_id(&self, id: &str) -> NodeRef {
        self.find_node(id)
            .unwrap_or_else(|| panic!("no node {id}: {self:#?}"))
    }

    fn series_of(
        &self,
        node: Option<&str>,
        name: &str,
        labels: &[(&str, &str)],
    ) -> Vec<SeriesView<'_>> {
        self.series()
            .filter(|s| s.name() == name && node_is(self, s, node) && s.has_labels(labels))
            .collect()
    }

    fn one_value(&self, node: Option<&str>, name: &str, labels: &[(&str, &str)]) -> f64 {
        only(self, self.series_of(node, name, labels), node, name, labels)
    }

    fn exact_value(&self, node: Option<&str>, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found = self
            .series_of(node, name, labels)
            .into_iter()
            .filter(|s| s.labels_are(labels))
            .collect();
        only(self, found, node, name, labels)
    }

    fn expect_value(&self, name: &str) -> f64 {
        self.value(name)
            .unwrap_or_else(|| panic!("no metric {name}: {self:#?}"))
    }

    fn node_value_of(&self, node: &str, name: &str) -> Option<f64> {
        self.series()
            .find(|s| s.name() == name && node_is(self, s, Some(node)))
            .map(|s| s.value())
    }

    fn metric_names(&self, of_nodes: bool) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .series()
            .filter(|s| s.node().is_some() == of_nodes)
            .map(|s| s.name())
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    fn reasons_with(&self, text: &str) -> Vec<&str> {
        self.reasons().filter(|r| r.contains(text)).collect()
    }

    fn has_reason(&self, words: &[&str]) -> bool {
        self.reasons().any(|r| words.iter().all(|w| r.contains(w)))
    }
}

/// Whether `series` belongs to the node with id `node` (`None`: to the cluster). Compared by
/// id, so that every node of a repeated id counts.
fn node_is(report: &Report, series: &SeriesView<'_>, node: Option<&str>) -> bool {
    series.node().map(|n| report.node_id(n)) == node
}

fn only(
    report: &Report,
    found: Vec<SeriesView<'_>>,
    node: Option<&str>,
    name: &str,
    labels: &[(&str, &str)],
) -> f64 {
    assert_eq!(
        found.len(),
        1,
        "{node:?} {name}{labels:?}: {found:?}\n{report:#?}"
    );
    found[0].value()
}

#[cfg(test)]
mod tests {
    use super::ReportExt;
    use dbmon_connector_api::{NodeStatus, Report};

    fn report() -> Report {
        let mut report = Report::new();
        report.metric("size", 10.0).label("db", "a");
        report
            .metric("size", 20.0)
            .label("db", "b")
            .label("tier", "hot");
        report.metric("size", 30.0);
        let node = report.node("n1", NodeStatus::Live);
        report.node_metric(node, "up", 1.0).label("why", "ok");
        report.degraded("disk of n1 is full");
        report
    }

    #[test]
    fn lookups_by_node_id_and_labels() {
        let report = report();
        assert_eq!(report.series_of(None, "size", &[]).len(), 3);
        assert_eq!(report.series_of(Some("n1"), "size", &[]).len(), 0);
        assert_eq!(report.one_value(None, "size", &[("db", "b")]), 20.0);
        assert_eq!(report.exact_value(None, "size", &[]), 30.0);
        assert_eq!(report.exact_value(None, "size", &[("db", "a")]), 10.0);
        assert_eq!(report.one_value(Some("n1"), "up", &[]), 1.0);
        assert_eq!(report.node_value_of("n1", "up"), Some(1.0));
        assert_eq!(report.node_value_of("n2", "up"), None);
        assert_eq!(report.expect_value("size"), 10.0);
        assert_eq!(report.metric_names(false), ["size"]);
        assert_eq!(report.metric_names(true), ["up"]);
        assert_eq!(report.node_id(report.node_by_id("n1")), "n1");
        assert_eq!(report.reasons_with("n1"), ["disk of n1 is full"]);
        assert!(report.has_reason(&["disk", "full"]));
        assert!(!report.has_reason(&["disk", "empty"]));
    }

    #[test]
    #[should_panic(expected = "None size[]: [Series")]
    fn one_value_wants_exactly_one() {
        report().one_value(None, "size", &[]);
    }

    #[test]
    #[should_panic(expected = "None size[(\"db\", \"b\")]: []")]
    fn exact_value_refuses_extra_labels() {
        report().exact_value(None, "size", &[("db", "b")]);
    }

    #[test]
    #[should_panic(expected = "no node n2")]
    fn node_by_id_panics_when_missing() {
        report().node_by_id("n2");
    }
}
