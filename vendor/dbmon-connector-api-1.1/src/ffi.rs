// sabi_trait expands to impls the compiler now flags as non-local; they are abi_stable's.
#![allow(non_local_definitions)]

//! The stable ABI between the host and a connector library. Authors never use these types: the
//! [`export_connector!`](crate::export_connector) macro and the host's loader are their only users.
//!
//! Compatibility rules (see README.md): the root module is a prefix type, so a field appended
//! after `new_instance` is a minor change that older connectors load without (they read as
//! `None`). Every other change to a type in this file is a major change.

use abi_stable::{
    StableAbi, declare_root_module_statics,
    library::RootModule,
    package_version_strings, sabi_trait,
    sabi_types::VersionStrings,
    std_types::{RBox, RResult, RStr, RString, RVec},
};
use async_ffi::FfiFuture;

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

/// One metric series: name, unit and labels live in the report's text arena; its value is
/// `FfiReport::values[i]` for the series at index `i`.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FfiSeries {
    /// The metric name (text span).
    pub name: Span,
    /// The unit, empty when none (text span).
    pub unit: Span,
    /// Index range into `FfiReport::labels`.
    pub labels: Span,
    /// 0 for a cluster-level metric, `n + 1` for a metric of `FfiReport::nodes[n]`.
    pub node: u32,
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
    /// A [`NodeStatus`](crate::NodeStatus) as its `u8` code.
    pub status: u8,
    /// Index range into `FfiReport::labels`.
    pub labels: Span,
}

/// What one collection found. All strings live in `text`; everything else refers to it by span,
/// so a report of thousands of series crosses the boundary in a handful of allocations.
#[repr(C)]
#[derive(StableAbi, Debug, Default)]
pub struct FfiReport {
    /// A [`Status`](crate::Status) as its `u8` code.
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
    /// The connector-api version it was built against.
    pub api_version: RString,
    /// One line on what it monitors.
    pub description: RString,
    /// Commands it offers.
    pub commands: RVec<FfiCommandInfo>,
}

/// A configuration the connector refused; `path` names the offending option (`options.url`),
/// empty when the error concerns the whole cluster entry.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiConfigError {
    /// Dotted path of the offending field, relative to the cluster entry.
    pub path: RString,
    /// What is wrong with it.
    pub message: RString,
}

/// Levels of forwarded log events, most severe first.
pub mod level {
    /// `ERROR`
    pub const ERROR: u8 = 1;
    /// `WARN`
    pub const WARN: u8 = 2;
    /// `INFO`
    pub const INFO: u8 = 3;
    /// `DEBUG`
    pub const DEBUG: u8 = 4;
    /// `TRACE`
    pub const TRACE: u8 = 5;
}

/// What the host gives a library once, before anything else.
#[repr(C)]
#[derive(StableAbi, Clone, Copy)]
pub struct FfiHost {
    /// Receives the connector's log events: level (see [`level`]), target, formatted line.
    pub log: extern "C" fn(level: u8, target: RStr<'_>, line: RStr<'_>),
    /// The most verbose level the host will print; events above it are not even formatted.
    pub max_level: u8,
}

/// One configured cluster's live connector.
#[sabi_trait]
pub trait FfiInstance: Send + Sync {
    /// Starts a collection. The future is polled by the host inside the library's runtime
    /// context; dropping it cancels the collection.
    fn collect(&self, request: FfiCollectRequest) -> FfiFuture<RResult<FfiReport, RString>>;

    /// Runs a named command with arguments and returns its text output.
    #[sabi(last_prefix_field)]
    fn run_command(
        &self,
        name: RString,
        args: RVec<RString>,
        request: FfiCollectRequest,
    ) -> FfiFuture<RResult<RString, RString>>;
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
    /// Validates one cluster's configuration (JSON, see `ClusterConfig`) and builds its instance.
    #[sabi(last_prefix_field)]
    pub new_instance: extern "C" fn(config_json: RString) -> RResult<InstanceBox, FfiConfigError>,
    // Fields below the last prefix field were added in later minors: the host reads them as
    // `Option`, `None` in a library built against an older minor. The compatibility test
    // rebuilds a connector without the lines between these markers.
    // abi 1.1 {
    /// Validates a configuration without keeping an instance (`dbmon serve --check`).
    pub validate: extern "C" fn(config_json: RString) -> RResult<(), FfiConfigError>,
    // } abi 1.1
}

impl RootModule for ConnectorModRef {
    declare_root_module_statics! {ConnectorModRef}
    const BASE_NAME: &'static str = "dbmon_connector";
    const NAME: &'static str = "dbmon_connector";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// The connector-api version this copy of the SDK was built as: the ABI version.
pub const API_VERSION: &str = env!("CARGO_PKG_VERSION");
