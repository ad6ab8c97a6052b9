//! The report a connector returns: a verdict with reasons, metrics with units and labels, and
//! the state of each node. Strings are appended to one arena, so building a report of thousands
//! of series costs a handful of allocations.

mod read;
#[cfg(test)]
mod tests;

pub use read::{Labels, SeriesView};

use crate::ffi::{FfiLabel, FfiMetricKind, FfiNode, FfiReport, FfiSeries, Span};
use abi_stable::std_types::{RString, RVec};

/// The health verdict of a cluster, from best to worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum Status {
    /// Nothing is known (no reason given either way).
    Unknown = 0,
    /// Everything the connector checks is fine.
    Healthy = 1,
    /// Working, but something needs attention.
    Degraded = 2,
    /// Not working as it should: data or availability at risk.
    Unhealthy = 3,
    /// The cluster could not be reached at all.
    Unreachable = 4,
}

impl Status {
    /// The status for a code received over the ABI; unknown codes read as `Unknown`.
    pub fn from_code(code: u8) -> Status {
        match code {
            1 => Status::Healthy,
            2 => Status::Degraded,
            3 => Status::Unhealthy,
            4 => Status::Unreachable,
            _ => Status::Unknown,
        }
    }

    /// Lowercase name, as the CLI prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Healthy => "healthy",
            Status::Degraded => "degraded",
            Status::Unhealthy => "unhealthy",
            Status::Unreachable => "unreachable",
        }
    }
}

/// What kind of metric a series is: how a reader may aggregate it and whether a rate of it
/// makes sense. Series without a kind are `Unknown` (the host shows no kind).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum MetricKind {
    /// Not said.
    #[default]
    Unknown = 0,
    /// A value that goes up and down (a temperature, bytes in use).
    Gauge = 1,
    /// A total that only grows until its process restarts (requests served): take rates of it.
    Counter = 2,
    /// A series of a histogram: a bucket (with an `le` label), its `_sum` or its `_count`.
    Histogram = 3,
    /// A series of a summary: a quantile (with a `quantile` label), its `_sum` or its `_count`.
    Summary = 4,
}

impl MetricKind {
    /// The kind for a code received over the ABI; unknown codes read as `Unknown`.
    pub fn from_code(code: u8) -> MetricKind {
        match code {
            1 => MetricKind::Gauge,
            2 => MetricKind::Counter,
            3 => MetricKind::Histogram,
            4 => MetricKind::Summary,
            _ => MetricKind::Unknown,
        }
    }

    /// Lowercase name, as the CLI prints it (`unknown` for `Unknown`).
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Unknown => "unknown",
            MetricKind::Gauge => "gauge",
            MetricKind::Counter => "counter",
            MetricKind::Histogram => "histogram",
            MetricKind::Summary => "summary",
        }
    }
}

/// The state of one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum NodeStatus {
    /// Not known.
    Unknown = 0,
    /// Up and serving.
    Live = 1,
    /// Shedding its work before a stop.
    Draining = 2,
    /// Being removed from the cluster.
    Decommissioning = 3,
    /// Removed from the cluster.
    Decommissioned = 4,
    /// Down.
    Dead = 5,
    /// Starting up.
    Initializing = 6,
    /// Alive but cut off (no lease, no quorum, failing checks).
    Unavailable = 7,
}

impl NodeStatus {
    /// The status for a code received over the ABI; unknown codes read as `Unknown`.
    pub fn from_code(code: u8) -> NodeStatus {
        match code {
            1 => NodeStatus::Live,
            2 => NodeStatus::Draining,
            3 => NodeStatus::Decommissioning,
            4 => NodeStatus::Decommissioned,
            5 => NodeStatus::Dead,
            6 => NodeStatus::Initializing,
            7 => NodeStatus::Unavailable,
            _ => NodeStatus::Unknown,
        }
    }

    /// Lowercase name, as the CLI prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeStatus::Unknown => "unknown",
            NodeStatus::Live => "live",
            NodeStatus::Draining => "draining",
            NodeStatus::Decommissioning => "decommissioning",
            NodeStatus::Decommissioned => "decommissioned",
            NodeStatus::Dead => "dead",
            NodeStatus::Initializing => "initializing",
            NodeStatus::Unavailable => "unavailable",
        }
    }
}

/// A report under construction. The verdict starts `Healthy` and only gets worse: each
/// [`degraded`](Report::degraded) or [`unhealthy`](Report::unhealthy) call adds a reason and
/// raises the status to at least that level.
///
/// ```
/// use dbmon_connector_api::{NodeStatus, Report, Status};
/// let mut report = Report::new();
/// report.metric("load1", 0.42);
/// report.metric("disk_used_percent", 81.0).unit("percent").label("mount", "/");
/// report.metric("requests_total", 1234.0).counter().help("Requests served since start");
/// report.degraded("disk / is 81 % full");
/// let node = report.node("1", NodeStatus::Live);
/// report.node_metric(node, "uptime_seconds", 1234.0).unit("seconds");
/// assert_eq!(report.status(), Status::Degraded);
/// ```
///
/// A connector's tests read the report back as the host will see it: [`series`](Report::series),
/// [`labels`](Report::labels), [`nodes`](Report::nodes) and the node getters.
pub struct Report {
    inner: FfiReport,
    status: Status,
}

impl Default for Report {
    fn default() -> Self {
        Self::new()
    }
}

/// A handle to a node added with [`Report::node`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeRef(u32);

impl Report {
    /// An empty, healthy report.
    pub fn new() -> Self {
        Self::with_capacity(0, 0)
    }

    /// An empty report with room for `series` metrics and `text_bytes` of names and labels.
    pub fn with_capacity(series: usize, text_bytes: usize) -> Self {
        let inner = FfiReport {
            status: Status::Healthy as u8,
            text: RString::with_capacity(text_bytes),
            series: RVec::with_capacity(series),
            values: RVec::with_capacity(series),
            ..FfiReport::default()
        };
        Report {
            inner,
            status: Status::Healthy,
        }
    }

    /// The verdict so far.
    pub fn status(&self) -> Status {
        self.status
    }

    /// Sets the verdict outright (reasons are kept).
    pub fn set_status(&mut self, status: Status) {
        self.status = status;
    }

    /// Reasons added so far.
    pub fn reasons(&self) -> impl Iterator<Item = &str> {
        self.inner.reasons.iter().map(|r| r.as_str())
    }

    /// Adds a reason and raises the verdict to at least `Degraded`.
    pub fn degraded(&mut self, reason: impl Into<String>) {
        self.raise(Status::Degraded, reason.into());
    }

    /// Adds a reason and raises the verdict to at least `Unhealthy`.
    pub fn unhealthy(&mut self, reason: impl Into<String>) {
        self.raise(Status::Unhealthy, reason.into());
    }

    /// Adds a reason and raises the verdict to at least `Unreachable`.
    pub fn unreachable(&mut self, reason: impl Into<String>) {
        self.raise(Status::Unreachable, reason.into());
    }

    fn raise(&mut self, status: Status, reason: String) {
        self.status = self.status.max(status);
        self.inner.reasons.push(reason.into());
    }

    /// Adds a cluster-level metric; chain [`unit`](MetricBuilder::unit) and
    /// [`label`](MetricBuilder::label) to describe it.
    pub fn metric(&mut self, name: &str, value: f64) -> MetricBuilder<'_> {
        self.push_series(name, value, 0)
    }

    /// Adds a metric of one node.
    pub fn node_metric(&mut self, node: NodeRef, name: &str, value: f64) -> MetricBuilder<'_> {
        self.push_series(name, value, node.0 + 1)
    }

    /// Adds a node; its metrics are added with [`node_metric`](Report::node_metric).
    pub fn node(&mut self, id: &str, status: NodeStatus) -> NodeRef {
        let id = self.intern(id);
        let at = self.inner.labels.len() as u32;
        self.inner.nodes.push(FfiNode {
            id,
            address: Span::default(),
            status: status as u8,
            labels: Span { start: at, len: 0 },
        });
        NodeRef(self.inner.nodes.len() as u32 - 1)
    }

    /// Sets a node's address (`host:port`).
    pub fn node_address(&mut self, node: NodeRef, address: &str) {
        let span = self.intern(address);
        self.inner.nodes[node.0 as usize].address = span;
    }

    /// Changes a node's status.
    pub fn node_status(&mut self, node: NodeRef, status: NodeStatus) {
        self.inner.nodes[node.0 as usize].status = status as u8;
    }

    /// Adds a label to a node (a role, a version). Add a node's labels right after the node.
    pub fn node_label(&mut self, node: NodeRef, key: &str, value: &str) {
        let label = self.label_pair(key, value);
        let node = &mut self.inner.nodes[node.0 as usize];
        append_label(&mut self.inner.labels, &mut node.labels, label);
    }

    /// Adds a label to the whole report (the cluster's version, say). Add these before metrics.
    pub fn label(&mut self, key: &str, value: &str) {
        let label = self.label_pair(key, value);
        append_label(&mut self.inner.labels, &mut self.inner.report_labels, label);
    }

    /// Number of metrics added so far.
    pub fn metric_count(&self) -> usize {
        self.inner.series.len()
    }

    /// The value of the first cluster-level metric with this name, if any.
    pub fn value(&self, name: &str) -> Option<f64> {
        self.first_value(None, name, &[])
    }

    /// The value of the first cluster-level metric with this name and at least these labels.
    pub fn value_with(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.first_value(None, name, labels)
    }

    /// The value of a node's metric with this name and at least these labels.
    pub fn node_value(&self, node: NodeRef, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.first_value(Some(node), name, labels)
    }

    /// Nodes added so far: (handle, id, status).
    pub fn nodes(&self) -> impl Iterator<Item = (NodeRef, &str, NodeStatus)> {
        let text = self.inner.text.as_str();
        self.inner.nodes.iter().enumerate().map(move |(i, n)| {
            (
                NodeRef(i as u32),
                &text[n.id.range()],
                NodeStatus::from_code(n.status),
            )
        })
    }

    /// Hands the finished report to the ABI layer.
    #[doc(hidden)]
    pub fn into_ffi(mut self) -> FfiReport {
        self.inner.status = self.status as u8;
        self.inner
    }

    fn push_series(&mut self, name: &str, value: f64, node: u32) -> MetricBuilder<'_> {
        // Consecutive series often share their name (histogram buckets): store it once.
        let previous = self.inner.series.last().map(|s| s.name);
        let name = self.intern_like(name, previous);
        let at = self.inner.labels.len() as u32;
        self.inner.series.push(FfiSeries {
            name,
            unit: Span::default(),
            help: Span::default(),
            labels: Span { start: at, len: 0 },
            node,
            kind: FfiMetricKind::UNKNOWN,
        });
        self.inner.values.push(value);
        MetricBuilder { report: self }
    }

    fn label_pair(&mut self, key: &str, value: &str) -> FfiLabel {
        FfiLabel {
            key: self.intern(key),
            value: self.intern(value),
        }
    }

    /// `s`'s span: `like` itself when it already holds the same text (a name or label of the
    /// previous series), so repeated strings cost neither a copy nor arena space.
    fn intern_like(&mut self, s: &str, like: Option<Span>) -> Span {
        match like {
            Some(span) if self.inner.text.as_str().get(span.range()) == Some(s) => span,
            _ => self.intern(s),
        }
    }

    fn intern(&mut self, s: &str) -> Span {
        let start = self.inner.text.len() as u32;
        self.inner.text.push_str(s);
        Span {
            start,
            len: s.len() as u32,
        }
    }
}

/// Labels of one owner are contiguous in the label vector; when another owner's labels were
/// added in between, this one's move to the end so that its range stays contiguous.
fn append_label(labels: &mut RVec<FfiLabel>, range: &mut Span, label: FfiLabel) {
    let end = (range.start + range.len) as usize;
    if end != labels.len() {
        let moved: Vec<FfiLabel> = labels[range.range()].to_vec();
        range.start = labels.len() as u32;
        labels.extend(moved);
    }
    labels.push(label);
    range.len += 1;
}

/// Describes the metric just added.
pub struct MetricBuilder<'r> {
    report: &'r mut Report,
}

impl MetricBuilder<'_> {
    /// The unit (`bytes`, `percent`, `seconds`, `ms`, ...).
    pub fn unit(self, unit: &str) -> Self {
        let series = &self.report.inner.series;
        let previous = series.len().checked_sub(2).map(|i| series[i].unit);
        let span = self.report.intern_like(unit, previous);
        if let Some(last) = self.report.inner.series.last_mut() {
            last.unit = span;
        }
        self
    }

    /// What kind of metric this is (the host, the API and the CLI carry it).
    pub fn kind(self, kind: MetricKind) -> Self {
        if let Some(last) = self.report.inner.series.last_mut() {
            last.kind = FfiMetricKind(kind as u8);
        }
        self
    }

    /// Shorthand for `kind(MetricKind::Counter)`: a total that only grows.
    pub fn counter(self) -> Self {
        self.kind(MetricKind::Counter)
    }

    /// Shorthand for `kind(MetricKind::Gauge)`: a value that goes up and down.
    pub fn gauge(self) -> Self {
        self.kind(MetricKind::Gauge)
    }

    /// One line on what the metric measures (Prometheus' `# HELP`). Consecutive series with
    /// the same help share one copy of it.
    pub fn help(self, help: &str) -> Self {
        let series = &self.report.inner.series;
        let previous = series.len().checked_sub(2).map(|i| series[i].help);
        let span = self.report.intern_like(help, previous);
        if let Some(last) = self.report.inner.series.last_mut() {
            last.help = span;
        }
        self
    }

    /// Adds one label.
    pub fn label(self, key: &str, value: &str) -> Self {
        // The previous series' label at the same position usually has the same key, and often
        // the same value (`node_id`, `store`): reuse its spans.
        let inner = &self.report.inner;
        let like = match inner.series.len() {
            n if n >= 2 => {
                let (previous, current) = (inner.series[n - 2], inner.series[n - 1]);
                (current.labels.len < previous.labels.len)
                    .then(|| inner.labels[(previous.labels.start + current.labels.len) as usize])
            }
            _ => None,
        };
        let label = FfiLabel {
            key: self.report.intern_like(key, like.map(|l| l.key)),
            value: self.report.intern_like(value, like.map(|l| l.value)),
        };
        let inner = &mut self.report.inner;
        if let Some(last) = inner.series.last_mut() {
            append_label(&mut inner.labels, &mut last.labels, label);
        }
        self
    }
}
