//! Reading a report back, as the host will see it: what a connector's own tests assert on.
//! Every view borrows the report; nothing is copied out of the text arena.

use super::{NodeRef, NodeStatus, Report};
use crate::ffi::{FfiLabel, FfiNode, FfiSeries, Span};
use std::{fmt, iter::FusedIterator, slice};

impl Report {
    /// Every metric added so far, cluster-level and per node, in the order they were added.
    ///
    /// ```
    /// use dbmon_connector_api::{NodeStatus, Report};
    /// let mut report = Report::new();
    /// report.metric("disk_used_percent", 81.0).unit("percent").label("mount", "/");
    /// let node = report.node("1", NodeStatus::Live);
    /// report.node_metric(node, "up", 1.0);
    ///
    /// let series: Vec<_> = report.series().collect();
    /// assert_eq!(series[0].name(), "disk_used_percent");
    /// assert_eq!(series[0].unit(), Some("percent"));
    /// assert_eq!(series[0].label("mount"), Some("/"));
    /// assert_eq!(series[0].node(), None);
    /// assert_eq!(series[1].node(), Some(node));
    /// assert_eq!(series[1].unit(), None);
    /// ```
    pub fn series(&self) -> impl ExactSizeIterator<Item = SeriesView<'_>> + Clone {
        self.inner
            .series
            .iter()
            .zip(self.inner.values.iter())
            .map(move |(series, &value)| SeriesView {
                report: self,
                series,
                value,
            })
    }

    /// The labels of the whole report, added with [`label`](Report::label).
    pub fn labels(&self) -> Labels<'_> {
        self.labels_in(self.inner.report_labels)
    }

    /// The first node added with this id, if any.
    pub fn find_node(&self, id: &str) -> Option<NodeRef> {
        self.nodes()
            .find(|(_, node_id, _)| *node_id == id)
            .map(|(node, _, _)| node)
    }

    /// The id a node was added with. Panics when `node` is not of this report.
    pub fn node_id(&self, node: NodeRef) -> &str {
        self.text(self.ffi_node(node).id)
    }

    /// A node's address as set with [`node_address`](Report::node_address); `None` when none
    /// was set. Panics when `node` is not of this report.
    pub fn address_of(&self, node: NodeRef) -> Option<&str> {
        Some(self.text(self.ffi_node(node).address)).filter(|a| !a.is_empty())
    }

    /// A node's status as it stands. Panics when `node` is not of this report.
    pub fn status_of(&self, node: NodeRef) -> NodeStatus {
        NodeStatus::from_code(self.ffi_node(node).status)
    }

    /// A node's labels, added with [`node_label`](Report::node_label). Panics when `node` is
    /// not of this report.
    pub fn node_labels(&self, node: NodeRef) -> Labels<'_> {
        self.labels_in(self.ffi_node(node).labels)
    }

    /// The value of the first cluster-level metric with this name and exactly these labels, in
    /// any order: `&[]` finds the unlabelled series only, where [`value`](Report::value) and
    /// [`value_with`](Report::value_with) take the first series with at least those labels.
    pub fn value_exact(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.series()
            .find(|s| s.node().is_none() && s.name() == name && s.labels_are(labels))
            .map(|s| s.value())
    }

    /// The value of the first metric of `node` (`None`: cluster-level) with this name and at
    /// least these labels.
    pub(super) fn first_value(
        &self,
        node: Option<NodeRef>,
        name: &str,
        labels: &[(&str, &str)],
    ) -> Option<f64> {
        self.series()
            .find(|s| s.node() == node && s.name() == name && s.has_labels(labels))
            .map(|s| s.value())
    }

    fn ffi_node(&self, node: NodeRef) -> &FfiNode {
        &self.inner.nodes[node.0 as usize]
    }

    fn text(&self, span: Span) -> &str {
        &self.inner.text[span.range()]
    }

    fn labels_in(&self, range: Span) -> Labels<'_> {
        Labels {
            text: &self.inner.text,
            labels: self.inner.labels[range.range()].iter(),
        }
    }
}

/// One metric of a [`Report`], read back with [`Report::series`].
#[derive(Clone, Copy)]
pub struct SeriesView<'r> {
    report: &'r Report,
    series: &'r FfiSeries,
    value: f64,
}

impl<'r> SeriesView<'r> {
    /// The metric's name.
    pub fn name(&self) -> &'r str {
        self.report.text(self.series.name)
    }

    /// The unit given with [`MetricBuilder::unit`](crate::MetricBuilder::unit); `None` when
    /// none was.
    pub fn unit(&self) -> Option<&'r str> {
        Some(self.report.text(self.series.unit)).filter(|u| !u.is_empty())
    }

    /// The kind given with [`MetricBuilder::kind`](crate::MetricBuilder::kind).
    pub fn kind(&self) -> super::MetricKind {
        super::MetricKind::from_code(self.series.kind.0)
    }

    /// The help text given with [`MetricBuilder::help`](crate::MetricBuilder::help); `None`
    /// when none was.
    pub fn help(&self) -> Option<&'r str> {
        Some(self.report.text(self.series.help)).filter(|h| !h.is_empty())
    }

    /// The value.
    pub fn value(&self) -> f64 {
        self.value
    }

    /// The node the metric belongs to; `None` for a cluster-level metric.
    pub fn node(&self) -> Option<NodeRef> {
        self.series.node.checked_sub(1).map(NodeRef)
    }

    /// The metric's labels, in the order they were added.
    pub fn labels(&self) -> Labels<'r> {
        self.report.labels_in(self.series.labels)
    }

    /// The value of label `key`, if the metric has it.
    pub fn label(&self, key: &str) -> Option<&'r str> {
        self.labels().get(key)
    }

    /// Whether the metric has at least these labels (and maybe more).
    pub fn has_labels(&self, wanted: &[(&str, &str)]) -> bool {
        let labels = self.labels();
        wanted
            .iter()
            .all(|&wanted| labels.clone().any(|label| label == wanted))
    }

    /// Whether the metric has exactly these labels, in any order: `&[]` holds for an unlabelled
    /// metric only.
    pub fn labels_are(&self, wanted: &[(&str, &str)]) -> bool {
        let labels = self.labels();
        labels.len() == wanted.len()
            && self.has_labels(wanted)
            && labels.into_iter().all(|label| wanted.contains(&label))
    }
}

impl fmt::Debug for SeriesView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Series")
            .field("name", &self.name())
            .field("unit", &self.unit())
            .field("node", &self.node().map(|n| self.report.node_id(n)))
            .field("labels", &self.labels())
            .field("value", &self.value)
            .finish()
    }
}

/// Labels of a metric, a node or a whole report: `(key, value)` pairs in the order they were
/// added.
#[derive(Clone)]
pub struct Labels<'r> {
    text: &'r str,
    labels: slice::Iter<'r, FfiLabel>,
}

impl<'r> Labels<'r> {
    /// The value of the first label called `key`.
    pub fn get(&self, key: &str) -> Option<&'r str> {
        self.clone().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    fn pair(&self, label: &FfiLabel) -> (&'r str, &'r str) {
        (
            &self.text[label.key.range()],
            &self.text[label.value.range()],
        )
    }
}

impl<'r> Iterator for Labels<'r> {
    type Item = (&'r str, &'r str);

    fn next(&mut self) -> Option<Self::Item> {
        let label = self.labels.next()?;
        Some(self.pair(label))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.labels.size_hint()
    }
}

impl DoubleEndedIterator for Labels<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let label = self.labels.next_back()?;
        Some(self.pair(label))
    }
}

impl ExactSizeIterator for Labels<'_> {}

impl FusedIterator for Labels<'_> {}

impl fmt::Debug for Labels<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.clone()).finish()
    }
}

/// One node, for [`Report`]'s `Debug`.
struct NodeDebug<'r> {
    report: &'r Report,
    node: NodeRef,
}

impl fmt::Debug for NodeDebug<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (report, node) = (self.report, self.node);
        f.debug_struct("Node")
            .field("id", &report.node_id(node))
            .field("address", &report.address_of(node))
            .field("status", &report.status_of(node))
            .field("labels", &report.node_labels(node))
            .finish()
    }
}

/// Readable, as the host will see the report: strings, not spans into the arena.
impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nodes: Vec<NodeDebug<'_>> = self
            .nodes()
            .map(|(node, _, _)| NodeDebug { report: self, node })
            .collect();
        let series: Vec<SeriesView<'_>> = self.series().collect();
        f.debug_struct("Report")
            .field("status", &self.status)
            .field("reasons", &self.reasons().collect::<Vec<_>>())
            .field("labels", &self.labels())
            .field("nodes", &nodes)
            .field("series", &series)
            .finish()
    }
}
