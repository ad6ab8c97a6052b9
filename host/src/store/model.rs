//! The host's own form of what a connector reports: strings in one text, everything else as
//! ranges into it, as the connector ABI and the worker protocol carry it. The loader boundary
//! (`plugins::convert`) and the worker protocol build it; past them nothing in the host sees
//! the FFI types.

use super::report::Schema;
use dbmon_connector_api::{NodeStatus, Status};

/// A range: of bytes of a schema's text, or of entries of its labels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Span {
    /// First byte or entry.
    pub start: u32,
    /// Bytes or entries.
    pub len: u32,
}

impl Span {
    /// A range from `start`, `len` long.
    pub const fn new(start: u32, len: u32) -> Span {
        Span { start, len }
    }

    /// As a `usize` range (`start + len` cannot overflow: both are `u32`).
    pub fn range(self) -> std::ops::Range<usize> {
        let start = self.start as usize;
        start..start + self.len as usize
    }
}

/// What a series measures, as far as its connector says: the SDK's enum, whose codes are the
/// connector ABI's and the worker protocol's.
pub use dbmon_connector_api::MetricKind;

/// One series: name, unit and help are text ranges, `labels` a range of the labels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SeriesDef {
    /// Its name.
    pub name: Span,
    /// Its unit, empty when none.
    pub unit: Span,
    /// What it means, empty when not said.
    pub help: Span,
    /// Its labels.
    pub labels: Span,
    /// 0: the cluster's; n: the node at index n - 1.
    pub node: u32,
    /// What it measures.
    pub kind: MetricKind,
}

/// One label: key and value are text ranges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct LabelDef {
    /// Its key.
    pub key: Span,
    /// Its value.
    pub value: Span,
}

/// One node: id and address are text ranges, `labels` a range of the labels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct NodeDef {
    /// Its id.
    pub id: Span,
    /// Its address, empty when unknown.
    pub address: Span,
    /// Its labels.
    pub labels: Span,
}

/// The strings of a report and what refers to them, before they are checked.
#[derive(Debug, Clone, Default)]
pub struct SchemaParts {
    /// Every string, one after the other.
    pub text: String,
    /// The series, in the connector's order.
    pub series: Vec<SeriesDef>,
    /// Labels of series, nodes and the report.
    pub labels: Vec<LabelDef>,
    /// The nodes.
    pub nodes: Vec<NodeDef>,
    /// The report's own labels.
    pub report_labels: Span,
}

/// A report a connector returned, checked: every range falls inside what it refers to, and
/// there is one value per series and one status per node.
#[derive(Debug, Clone)]
pub struct Collected {
    pub(super) status: Status,
    pub(super) reasons: Vec<String>,
    pub(super) schema: Schema,
    pub(super) values: Box<[f64]>,
    pub(super) node_status: Box<[NodeStatus]>,
    /// The configuration's rules that fired (`rules:`).
    pub(super) fired: Vec<crate::rules::Fired>,
}

impl Collected {
    /// Checks the parts of a report, which come from a connector or a worker and are not
    /// trusted to be well formed.
    pub fn new(
        status: Status,
        reasons: Vec<String>,
        schema: SchemaParts,
        values: Box<[f64]>,
        node_status: Box<[NodeStatus]>,
    ) -> Result<Collected, String> {
        let schema = Schema::checked(schema, values.len())?;
        if node_status.len() != schema.node_defs().len() {
            return Err(format!(
                "{} node statuses for {} nodes",
                node_status.len(),
                schema.node_defs().len()
            ));
        }
        Ok(Collected {
            status,
            reasons,
            schema,
            values,
            node_status,
            fired: Vec::new(),
        })
    }

    /// The verdict after the configuration's rules: its status, the fired rules' reasons
    /// after the connector's, and which rules fired.
    pub fn judged(&mut self, verdict: crate::rules::Verdict) {
        self.status = verdict.status;
        self.reasons
            .extend(verdict.fired.iter().map(|f| f.reason.clone()));
        self.fired = verdict.fired;
    }

    /// Which rules fired, for a report judged elsewhere (a pushed report, whose reasons
    /// hold theirs already).
    pub fn set_fired(&mut self, fired: Vec<crate::rules::Fired>) {
        self.fired = fired;
    }

    /// The configuration's rules that fired.
    pub fn fired(&self) -> &[crate::rules::Fired] {
        &self.fired
    }

    /// The verdict.
    pub fn status(&self) -> Status {
        self.status
    }

    /// Why the verdict is not healthy.
    pub fn reasons(&self) -> &[String] {
        &self.reasons
    }

    /// Its strings.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// One value per series.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// One status per node.
    pub fn node_status(&self) -> &[NodeStatus] {
        &self.node_status
    }
}
