//! The host's report: per-collection facts plus the metric values, with names, units and
//! labels kept once in a shared [`Schema`] that successive reports of a cluster (and clusters
//! exposing the same series) point to.

use super::model::{LabelDef, MetricKind, NodeDef, SchemaParts, SeriesDef, Span};
use dbmon_connector_api::{NodeStatus, Status};
use std::{
    hash::{Hash, Hasher},
    sync::{
        Arc, LazyLock, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
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
    /// The configuration's rules that fired (their reasons are among `reasons`).
    pub fired: Vec<crate::rules::Fired>,
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
    /// Its wire encoding once someone made it, shared by every copy of this report (the
    /// history keeps it with the report, and drops it when the report leaves).
    pub encoding: Arc<Encoding>,
    /// Which collector made it, when another process did.
    pub origin: Option<super::Origin>,
}

/// A report's wire encoding, made by the first reader that needs it and kept for every later
/// one while the bytes of all kept encodings stay under a budget (a reader past the budget
/// makes its own). What a kept encoding takes is given back when the report is dropped.
#[derive(Debug, Default)]
pub struct Encoding {
    bytes: Mutex<Option<Arc<[u8]>>>,
    held: Arc<AtomicUsize>,
}

impl Encoding {
    /// An encoding not made yet, counting what it keeps into `held`.
    pub fn new(held: Arc<AtomicUsize>) -> Encoding {
        Encoding {
            bytes: Mutex::default(),
            held,
        }
    }

    /// The encoding, made with `make` unless it is kept already; kept when all kept encodings
    /// stay within `max_held` bytes. Readers that come while it is made wait for it.
    pub fn get_or_make(&self, max_held: usize, make: impl FnOnce() -> Vec<u8>) -> Arc<[u8]> {
        let mut kept = self.bytes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bytes) = &*kept {
            return Arc::clone(bytes);
        }
        let bytes: Arc<[u8]> = make().into();
        let len = bytes.len();
        let before = self.held.fetch_add(len, Ordering::AcqRel);
        if before + len <= max_held {
            *kept = Some(Arc::clone(&bytes));
        } else {
            self.held.fetch_sub(len, Ordering::AcqRel);
        }
        bytes
    }

    /// A new, empty encoding counting into the same budget as this one.
    pub fn sibling(&self) -> Encoding {
        Encoding::new(Arc::clone(&self.held))
    }

    /// Whether an encoding is kept.
    pub fn is_kept(&self) -> bool {
        self.bytes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }
}

impl Drop for Encoding {
    fn drop(&mut self) {
        let kept = self.bytes.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some(bytes) = kept.take() {
            self.held.fetch_sub(bytes.len(), Ordering::AcqRel);
        }
    }
}

impl Report {
    /// About how many bytes this report takes on the wire: what a watcher that has yet to
    /// send it is behind by.
    pub fn wire_bytes(&self) -> usize {
        wire_bytes(&self.schema, &self.reasons, self.error.as_deref())
    }
}

/// About how many bytes a report of `schema` with these reasons and error takes on the wire.
pub(super) fn wire_bytes(schema: &Schema, reasons: &[String], error: Option<&str>) -> usize {
    let text: usize = reasons.iter().map(|r| r.len() + 2).sum();
    schema.wire_bytes() + text + error.map_or(0, str::len) + 64
}

/// What stays the same from one collection to the next: every string of a report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Schema {
    text: Box<str>,
    series: Box<[SeriesDef]>,
    labels: Box<[LabelDef]>,
    nodes: Box<[NodeDef]>,
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
    pub labels: &'a [LabelDef],
}

impl Schema {
    /// The schema of `parts` after checking every range, since a connector's output is not
    /// trusted to be well formed; `values` is how many values come with it.
    pub fn checked(parts: SchemaParts, values: usize) -> Result<Schema, String> {
        let schema = Schema {
            text: parts.text.into(),
            series: parts.series.into(),
            labels: parts.labels.into(),
            nodes: parts.nodes.into(),
            report_labels: parts.report_labels,
            wire_bytes: 0,
        };
        schema.check(values)?;
        Ok(Schema {
            wire_bytes: schema.estimate_wire_bytes(),
            ..schema
        })
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
                && text_ok(s.help)
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

    /// Per series its name, unit, help, kind and labels (each with ~2 bytes of framing) and
    /// its value; per node its id, address and labels.
    fn estimate_wire_bytes(&self) -> usize {
        let label = |l: &LabelDef| l.key.range().len() + l.value.range().len() + 8;
        let labels = |span: Span| self.labels(span).iter().map(label).sum::<usize>();
        let series: usize = self
            .series
            .iter()
            .map(|s| {
                let help = s.help.range().len();
                let help = if help == 0 { 0 } else { help + 2 };
                let kind = if s.kind == MetricKind::Unknown { 0 } else { 2 };
                s.name.range().len() + s.unit.range().len() + help + kind + labels(s.labels) + 16
            })
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

    /// Every string, one after the other.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The series, in the connector's order.
    pub fn series(&self) -> &[SeriesDef] {
        &self.series
    }

    /// Labels in an index range.
    pub fn labels(&self, range: Span) -> &[LabelDef] {
        &self.labels[range.range()]
    }

    /// Every label (of series, nodes and the report).
    pub fn all_labels(&self) -> &[LabelDef] {
        &self.labels
    }

    /// The range of the report's own labels.
    pub fn report_labels_span(&self) -> Span {
        self.report_labels
    }

    /// Labels of the whole report.
    pub fn report_labels(&self) -> &[LabelDef] {
        self.labels(self.report_labels)
    }

    /// The nodes as ranges.
    pub fn node_defs(&self) -> &[NodeDef] {
        &self.nodes
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
