//! The host's report: per-collection facts plus the metric values, with names, units and
//! labels kept once in a shared [`Schema`] that successive reports of a cluster (and clusters
//! exposing the same series) point to.

use dbmon_connector_api::{
    NodeStatus, Status,
    ffi::{FfiLabel, FfiNode, FfiReport, FfiSeries, Span},
};
use std::{
    hash::{Hash, Hasher},
    sync::{Arc, LazyLock},
    time::{Duration, SystemTime},
};

/// One collection's result.
#[derive(Debug, Clone)]
pub struct Report {
    /// Cluster id.
    pub cluster: Arc<str>,
    /// Connector name.
    pub connector: Arc<str>,
    /// Per cluster, from 1.
    pub sequence: u64,
    /// When the collection started.
    pub collected_at: SystemTime,
    /// How long it took.
    pub duration: Duration,
    /// The verdict.
    pub status: Status,
    /// Why the verdict is not healthy.
    pub reasons: Vec<String>,
    /// Why the collection failed.
    pub error: Option<String>,
    /// Failed collections in a row, this one included.
    pub consecutive_failures: u32,
    /// When the last successful collection finished.
    pub last_success: Option<SystemTime>,
    /// Names, units, labels, node ids.
    pub schema: Arc<Schema>,
    /// One value per `schema.series`.
    pub values: Box<[f64]>,
    /// One status per `schema.nodes`.
    pub node_status: Box<[NodeStatus]>,
}

impl Report {
    /// About how many bytes this report takes on the wire: what a watcher that has yet to
    /// send it is behind by.
    pub fn wire_bytes(&self) -> usize {
        let text: usize = self.reasons.iter().map(|r| r.len() + 2).sum();
        self.schema.wire_bytes() + text + self.error.as_ref().map_or(0, |e| e.len()) + 64
    }
}

/// What stays the same from one collection to the next: every string of a report.
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct Schema {
    text: Box<str>,
    series: Box<[FfiSeries]>,
    labels: Box<[FfiLabel]>,
    nodes: Box<[FfiNode]>,
    report_labels: Span,
    /// About what the strings take in a wire report (each series repeats its labels there).
    wire_bytes: usize,
}

/// The schema of a report without metrics (a failed collection).
pub static EMPTY_SCHEMA: LazyLock<Arc<Schema>> = LazyLock::new(|| Arc::new(Schema::default()));

/// A node as clients see it.
pub struct NodeView<'a> {
    /// Node id.
    pub id: &'a str,
    /// Address, empty when unknown.
    pub address: &'a str,
    /// Its labels.
    pub labels: &'a [FfiLabel],
}

impl Schema {
    /// Copies the strings of `report` after checking every span, since a connector's output is
    /// not trusted to be well formed.
    pub fn from_ffi(report: &FfiReport) -> Result<Schema, String> {
        let schema = Schema {
            text: report.text.as_str().into(),
            series: report.series.as_slice().into(),
            labels: report.labels.as_slice().into(),
            nodes: report
                .nodes
                .iter()
                .map(|n| FfiNode { status: 0, ..*n })
                .collect(),
            report_labels: report.report_labels,
            wire_bytes: 0,
        };
        schema.check(report.values.len())?;
        Ok(Schema {
            wire_bytes: schema.estimate_wire_bytes(),
            ..schema
        })
    }

    /// Whether `report` has exactly these strings (the common case: nothing to copy).
    pub fn matches(&self, report: &FfiReport) -> bool {
        *self.text == *report.text.as_str()
            && *self.series == *report.series.as_slice()
            && *self.labels == *report.labels.as_slice()
            && self.report_labels == report.report_labels
            && self.nodes.len() == report.nodes.len()
            && self
                .nodes
                .iter()
                .zip(report.nodes.iter())
                .all(|(a, b)| a.id == b.id && a.address == b.address && a.labels == b.labels)
    }

    /// A hash of the whole schema, for sharing one copy between clusters.
    pub fn fingerprint(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.hash(&mut h);
        h.finish()
    }

    fn check(&self, values: usize) -> Result<(), String> {
        if values != self.series.len() {
            return Err(format!(
                "{} values for {} series",
                values,
                self.series.len()
            ));
        }
        let text_ok = |s: Span| {
            let r = s.range();
            r.end <= self.text.len()
                && self.text.is_char_boundary(r.start)
                && self.text.is_char_boundary(r.end)
        };
        let labels_ok = |s: Span| s.range().end <= self.labels.len();
        let spans_ok = self.series.iter().all(|s| {
            text_ok(s.name)
                && text_ok(s.unit)
                && labels_ok(s.labels)
                && s.node as usize <= self.nodes.len()
        }) && self
            .labels
            .iter()
            .all(|l| text_ok(l.key) && text_ok(l.value))
            && self
                .nodes
                .iter()
                .all(|n| text_ok(n.id) && text_ok(n.address) && labels_ok(n.labels))
            && labels_ok(self.report_labels);
        if spans_ok {
            Ok(())
        } else {
            Err("the report refers to strings it does not contain".into())
        }
    }

    /// About how many bytes these strings take in a wire report.
    pub fn wire_bytes(&self) -> usize {
        self.wire_bytes
    }

    /// Per series its name, unit and labels (each string with ~2 bytes of framing) and its
    /// value; per node its id, address and labels.
    fn estimate_wire_bytes(&self) -> usize {
        let label = |l: &FfiLabel| l.key.range().len() + l.value.range().len() + 8;
        let labels = |span: Span| self.labels(span).iter().map(label).sum::<usize>();
        let series: usize = self
            .series
            .iter()
            .map(|s| s.name.range().len() + s.unit.range().len() + labels(s.labels) + 16)
            .sum();
        let nodes: usize = self
            .nodes
            .iter()
            .map(|n| n.id.range().len() + n.address.range().len() + labels(n.labels) + 12)
            .sum();
        series + nodes + labels(self.report_labels)
    }

    /// The text of a span.
    pub fn str(&self, span: Span) -> &str {
        &self.text[span.range()]
    }

    /// The series, in the connector's order.
    pub fn series(&self) -> &[FfiSeries] {
        &self.series
    }

    /// Labels in an index range.
    pub fn labels(&self, range: Span) -> &[FfiLabel] {
        &self.labels[range.range()]
    }

    /// Labels of the whole report.
    pub fn report_labels(&self) -> &[FfiLabel] {
        self.labels(self.report_labels)
    }

    /// The nodes.
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = NodeView<'_>> {
        self.nodes.iter().map(|n| NodeView {
            id: self.str(n.id),
            address: self.str(n.address),
            labels: self.labels(n.labels),
        })
    }
}
