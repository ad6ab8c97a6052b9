// sabi_trait expands to impls the compiler now flags as non-local; they are abi_stable's.
#![allow(non_local_definitions)]
#![deny(missing_docs)]

//! The stable ABI between the dbmon host and a connector library: only the types that cross the
//! boundary. Authors never use them: the SDK's `export_connector!` macro and the host's loader
//! are their only users.
//!
//! Versioning: this crate's version is [`ABI_VERSION`], apart from the SDK's. Within a major:
//! - the root module is a prefix type: a field appended after the last one is a minor change
//!   (a host reads it as `None` from an older library, an older host never asks for it);
//! - a new per-series, per-node or per-report fact is a new [`FfiExtension`] id: a minor
//!   change (a host ignores ids it does not know, a missing one reads as its default);
//! - a new code of [`FfiMetricKind`], [`FfiErrorKind`] or [`FfiLevel`]: a minor change (each
//!   says how an unknown code reads).
//!
//! Every other change to a type here is a major change.

use abi_stable::{
    StableAbi, declare_root_module_statics,
    library::RootModule,
    package_version_strings, sabi_trait,
    sabi_types::VersionStrings,
    std_types::{RBox, RResult, RStr, RString, RVec},
};
use async_ffi::FfiFuture;

/// The ABI version this crate defines (its package version).
pub const ABI_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A byte range `start..start + len` into [`FfiReport::text`] (for strings) or an index range
/// into one of the report's vectors (for label lists).
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    /// First byte or index.
    pub start: u32,
    /// Number of bytes or items.
    pub len: u32,
}

impl Span {
    /// The range as `usize` bounds.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.start as usize + self.len as usize
    }
}

/// What kind of metric a series is, as a code: unknown codes read as [`UNKNOWN`](Self::UNKNOWN).
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FfiMetricKind(pub u8);

impl FfiMetricKind {
    /// Not said.
    pub const UNKNOWN: Self = Self(0);
    /// A value that goes up and down.
    pub const GAUGE: Self = Self(1);
    /// A total that only grows (until its process restarts).
    pub const COUNTER: Self = Self(2);
    /// A bucket (`le` label), `_sum` or `_count` series of a histogram.
    pub const HISTOGRAM: Self = Self(3);
    /// A quantile (`quantile` label), `_sum` or `_count` series of a summary.
    pub const SUMMARY: Self = Self(4);
}

/// One metric series: name, unit, help and labels live in the report's text arena; its value
/// is `FfiReport::values[i]` for the series at index `i`.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FfiSeries {
    /// The metric name (text span).
    pub name: Span,
    /// The unit, empty when none (text span).
    pub unit: Span,
    /// One line on what the metric measures, empty when none (text span).
    pub help: Span,
    /// Index range into `FfiReport::labels`.
    pub labels: Span,
    /// 0 for a cluster-level metric, `n + 1` for a metric of `FfiReport::nodes[n]`.
    pub node: u32,
    /// Gauge, counter, histogram or summary.
    pub kind: FfiMetricKind,
}

/// One `key=value` label; both are text spans.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FfiLabel {
    /// The label name.
    pub key: Span,
    /// The label value.
    pub value: Span,
}

/// One node of the cluster.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FfiNode {
    /// Node id (text span).
    pub id: Span,
    /// Address, empty when unknown (text span).
    pub address: Span,
    /// A node status as its `u8` code (the SDK's `NodeStatus`).
    pub status: u8,
    /// Index range into `FfiReport::labels`.
    pub labels: Span,
}

/// A fact added to the report in a later minor of this ABI: a column of one word per series,
/// per node or per report, as its id defines. A host skips ids it does not know; a connector
/// of an older minor sends none, which reads as the id's default. The ids are in
/// [`extension`].
#[repr(C)]
#[derive(StableAbi, Clone, Debug, Default, PartialEq)]
pub struct FfiExtension {
    /// Which fact; ids are given out in this crate, in order, and never reused.
    pub id: u32,
    /// The words, one per item the id is about.
    pub words: RVec<u64>,
    /// Text the words may refer to as spans (`start << 32 | len`).
    pub text: RString,
}

/// The [`FfiExtension`] ids, in the order they were given out.
pub mod extension {
    // abi 2.1 {
    /// Per report, one word: the longest single poll of the collection's future, in
    /// microseconds, as the library measured it. A poll that long held the thread that ran it
    /// (since 2.1 the SDK runs each collection as a task of the library's runtime, where the
    /// host cannot time it). Default: not measured.
    pub const LONGEST_POLL_US: u32 = 1;
    // } abi 2.1
}

/// What one collection found. All strings live in `text`; everything else refers to it by span,
/// so a report of thousands of series crosses the boundary in a handful of allocations.
#[repr(C)]
#[derive(StableAbi, Debug, Default)]
pub struct FfiReport {
    /// A verdict as its `u8` code (the SDK's `Status`).
    pub status: u8,
    /// Why the status is not healthy, in words an operator reads.
    pub reasons: RVec<RString>,
    /// The string arena every span points into.
    pub text: RString,
    /// The series, in the order the connector added them.
    pub series: RVec<FfiSeries>,
    /// One value per series.
    pub values: RVec<f64>,
    /// Labels of series, nodes and the report.
    pub labels: RVec<FfiLabel>,
    /// Nodes of the cluster.
    pub nodes: RVec<FfiNode>,
    /// Index range into `labels`: labels of the whole report (a version, a role).
    pub report_labels: Span,
    /// Facts added in later minors (see [`FfiExtension`]).
    pub extensions: RVec<FfiExtension>,
}

/// What a collection asks of the connector.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug)]
pub struct FfiCollectRequest {
    /// The host's sequence number of this collection.
    pub sequence: u64,
    /// The host abandons the collection after this many milliseconds.
    pub timeout_ms: u64,
}

/// Why a call failed, as a code: unknown codes read as [`FAILED`](Self::FAILED).
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FfiErrorKind(pub u8);

impl FfiErrorKind {
    /// The connector tried and could not: the cluster is down, refused, answered nonsense.
    pub const FAILED: Self = Self(1);
    /// The connector panicked (caught inside the library).
    pub const PANICKED: Self = Self(2);
    /// The call's input was wrong (a command's arguments).
    pub const CONFIG: Self = Self(3);
    /// The connector gave up on its own deadline.
    pub const TIMEOUT: Self = Self(4);
    /// The connector does not offer what was asked (an unknown command).
    pub const UNSUPPORTED: Self = Self(5);
}

/// A failed collection or command: what kind of failure, and the whole chain of causes.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiError {
    /// What kind of failure.
    pub kind: FfiErrorKind,
    /// Every cause, outermost first, joined by `": "`.
    pub message: RString,
}

impl FfiError {
    /// An error of this kind.
    pub fn new(kind: FfiErrorKind, message: impl Into<RString>) -> Self {
        FfiError {
            kind,
            message: message.into(),
        }
    }
}

/// A command a connector offers to clients (`dbmon run CLUSTER COMMAND`).
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiCommandInfo {
    /// The command's name.
    pub name: RString,
    /// One line on what it does.
    pub description: RString,
}

/// What a connector says of itself.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiInfo {
    /// The name clusters refer to in `connector:`.
    pub name: RString,
    /// The connector's own version.
    pub version: RString,
    /// The SDK (connector-api) version it was built with.
    pub sdk_version: RString,
    /// The ABI version it was built against ([`ABI_VERSION`] of its copy of this crate).
    pub abi_version: RString,
    /// One line on what it monitors.
    pub description: RString,
    /// Commands it offers.
    pub commands: RVec<FfiCommandInfo>,
}

/// A configuration the connector refused; `path` names the offending option (`options.url`),
/// empty when the error concerns the whole cluster entry. `kind` is `CONFIG`, or `PANICKED`
/// when the connector panicked while reading it.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiConfigError {
    /// `CONFIG` or `PANICKED`.
    pub kind: FfiErrorKind,
    /// Dotted path of the offending field, relative to the cluster entry.
    pub path: RString,
    /// What is wrong with it.
    pub message: RString,
}

/// The level of a forwarded log event, or the most verbose level the host prints, as a code:
/// 0 is off, then most severe first; a code above [`TRACE`](Self::TRACE) reads as `TRACE`.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FfiLevel(pub u8);

impl FfiLevel {
    /// Nothing (as a maximum only).
    pub const OFF: Self = Self(0);
    /// `ERROR`
    pub const ERROR: Self = Self(1);
    /// `WARN`
    pub const WARN: Self = Self(2);
    /// `INFO`
    pub const INFO: Self = Self(3);
    /// `DEBUG`
    pub const DEBUG: Self = Self(4);
    /// `TRACE`
    pub const TRACE: Self = Self(5);

    /// The level of an event.
    pub fn of(level: tracing::Level) -> Self {
        match level {
            tracing::Level::ERROR => Self::ERROR,
            tracing::Level::WARN => Self::WARN,
            tracing::Level::INFO => Self::INFO,
            tracing::Level::DEBUG => Self::DEBUG,
            _ => Self::TRACE,
        }
    }

    /// The code of a maximum level.
    pub fn of_filter(filter: tracing::level_filters::LevelFilter) -> Self {
        filter.into_level().map_or(Self::OFF, Self::of)
    }

    /// The event level this code stands for; `None` for `OFF`.
    pub fn level(self) -> Option<tracing::Level> {
        match self.0 {
            0 => None,
            1 => Some(tracing::Level::ERROR),
            2 => Some(tracing::Level::WARN),
            3 => Some(tracing::Level::INFO),
            4 => Some(tracing::Level::DEBUG),
            _ => Some(tracing::Level::TRACE),
        }
    }

    /// The maximum level this code stands for.
    pub fn filter(self) -> tracing::level_filters::LevelFilter {
        self.level()
            .map_or(tracing::level_filters::LevelFilter::OFF, Into::into)
    }
}

/// What the host gives a library once, before anything else.
#[repr(C)]
#[derive(StableAbi, Clone, Copy)]
pub struct FfiHost {
    /// Receives the connector's log events: level, target, formatted line.
    pub log: extern "C" fn(level: FfiLevel, target: RStr<'_>, line: RStr<'_>),
    /// The most verbose level the host will print; events above it are not even formatted.
    pub max_level: FfiLevel,
}

/// One configured cluster's live connector.
#[sabi_trait]
pub trait FfiInstance: Send + Sync {
    /// Starts a collection; dropping the future cancels it. The host polls the future; the
    /// library may run the collection elsewhere (the SDK runs it as a task of the library's
    /// runtime), so the future must be `Send` and waking it must be safe from any thread.
    fn collect(&self, request: FfiCollectRequest) -> FfiFuture<RResult<FfiReport, FfiError>>;

    /// Runs a named command with arguments and returns its text output.
    #[sabi(last_prefix_field)]
    fn run_command(
        &self,
        name: RString,
        args: RVec<RString>,
        request: FfiCollectRequest,
    ) -> FfiFuture<RResult<RString, FfiError>>;
}

/// An owned, type-erased [`FfiInstance`].
pub type InstanceBox = FfiInstance_TO<'static, RBox<()>>;

/// The root module every connector library exports.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = ConnectorModRef)))]
#[sabi(missing_field(option))]
pub struct ConnectorMod {
    /// Describes the connector.
    pub info: extern "C" fn() -> FfiInfo,
    /// Called once per library before any instance is made: log forwarding.
    pub init: extern "C" fn(host: FfiHost),
    /// Validates one cluster's configuration (JSON, the SDK's `ClusterConfig`) and builds its
    /// instance.
    pub new_instance: extern "C" fn(config_json: RString) -> RResult<InstanceBox, FfiConfigError>,
    /// Validates a configuration without keeping an instance (`dbmon serve --check`).
    #[sabi(last_prefix_field)]
    pub validate: extern "C" fn(config_json: RString) -> RResult<(), FfiConfigError>,
    // Fields appended below in later minors are read by the host as `Option`: `None` from a
    // library of an older minor. Mark each with `// abi 2.N {` ... `// } abi 2.N`: the
    // compatibility tests rebuild a connector without the blocks newer than the minor they test.
}

impl RootModule for ConnectorModRef {
    declare_root_module_statics! {ConnectorModRef}
    const BASE_NAME: &'static str = "dbmon_connector";
    const NAME: &'static str = "dbmon_connector";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_round_trip_through_their_codes() {
        for level in [
            tracing::Level::ERROR,
            tracing::Level::WARN,
            tracing::Level::INFO,
            tracing::Level::DEBUG,
            tracing::Level::TRACE,
        ] {
            assert_eq!(FfiLevel::of(level).level(), Some(level));
        }
        assert_eq!(FfiLevel(9).level(), Some(tracing::Level::TRACE));
        assert_eq!(
            FfiLevel::OFF.filter(),
            tracing::level_filters::LevelFilter::OFF
        );
        let info = tracing::level_filters::LevelFilter::INFO;
        assert_eq!(FfiLevel::of_filter(info), FfiLevel::INFO);
        assert_eq!(FfiLevel::INFO.filter(), info);
    }
}
