//! The adapter for contract 1: libraries built against any connector-api 1.x, whose ABI was
//! versioned with that SDK (its types come from the frozen copy in `vendor/`). Everything a
//! 1.x library gives is turned into this host's ABI types here, so that nothing past this file
//! knows contract 1 existed.

use super::instance::CollectError;
use abi_stable::{
    StableAbi,
    std_types::{RResult, RString, RVec},
};
use dbmon_connector_api::{
    ConfigError,
    ffi::{FfiCollectRequest, FfiLabel, FfiMetricKind, FfiNode, FfiReport, FfiSeries, Span},
};
use dbmon_connector_api_v1::ffi as v1;
use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

/// The root module of a contract-1 library.
pub type ModRef = v1::ConnectorModRef;

/// The root module layout of contract 1, for the loader's prefix check.
pub const LAYOUT: &abi_stable::type_layout::TypeLayout = <ModRef as StableAbi>::LAYOUT;

/// The last 1.x ABI the host knows (a newer 1.x minor loads too: the root module is a prefix).
pub const ABI_VERSION: &str = v1::API_VERSION;

/// The only mark contract 1 gives a panic: the 1.x SDK's error text starts with it.
const PANIC_PREFIX: &str = "connector panicked: ";

/// Hands the library the host's log callback.
pub fn init(
    module: ModRef,
    log: extern "C" fn(u8, abi_stable::std_types::RStr<'_>, abi_stable::std_types::RStr<'_>),
    max_level: u8,
) {
    (module.init())(v1::FfiHost { log, max_level });
}

/// What the library says of itself: (name, version, SDK version, description, commands).
pub fn info(module: ModRef) -> super::Info {
    let info = (module.info())();
    super::Info {
        name: info.name.into_string(),
        version: info.version.into_string(),
        sdk_version: info.api_version.to_string(),
        abi_version: info.api_version.into_string(),
        description: info.description.into_string(),
        commands: info
            .commands
            .into_iter()
            .map(|c| (c.name.into_string(), c.description.into_string()))
            .collect(),
    }
}

fn config_error(e: v1::FfiConfigError) -> ConfigError {
    ConfigError::at(e.path.into_string(), e.message.into_string())
}

/// Validates a configuration and builds the instance.
pub fn new_instance(module: ModRef, config_json: String) -> Result<Instance, ConfigError> {
    match (module.new_instance())(RString::from(config_json)) {
        RResult::ROk(instance) => Ok(Instance(instance)),
        RResult::RErr(e) => Err(config_error(e)),
    }
}

/// Validates a configuration; a 1.0 library lacks the entry point, so an instance is built and
/// dropped.
pub fn validate(module: ModRef, config_json: String) -> Result<(), ConfigError> {
    match module.validate() {
        Some(validate) => match validate(RString::from(config_json)) {
            RResult::ROk(()) => Ok(()),
            RResult::RErr(e) => Err(config_error(e)),
        },
        None => new_instance(module, config_json).map(drop),
    }
}

/// A contract-1 instance.
pub struct Instance(v1::InstanceBox);

fn request(r: FfiCollectRequest) -> v1::FfiCollectRequest {
    v1::FfiCollectRequest {
        sequence: r.sequence,
        timeout_ms: r.timeout_ms,
    }
}

fn error(message: RString) -> CollectError {
    let message = message.into_string();
    if message.starts_with(PANIC_PREFIX) {
        CollectError::Panicked(message)
    } else {
        CollectError::Failed(message)
    }
}

impl Instance {
    /// Starts a collection.
    pub fn collect(&self, r: FfiCollectRequest) -> Collecting {
        Collecting(self.0.collect(request(r)))
    }

    /// Runs a command.
    pub async fn run_command(
        &self,
        name: &str,
        args: RVec<RString>,
        r: FfiCollectRequest,
    ) -> Result<String, CollectError> {
        match self.0.run_command(name.into(), args, request(r)).await {
            RResult::ROk(out) => Ok(out.into_string()),
            RResult::RErr(e) => Err(error(e)),
        }
    }
}

/// A contract-1 collection in flight; its report comes out in this host's ABI types.
pub struct Collecting(async_ffi::FfiFuture<RResult<v1::FfiReport, RString>>);

impl Future for Collecting {
    type Output = Result<FfiReport, CollectError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|r| match r {
            RResult::ROk(report) => Ok(report_from_v1(report)),
            RResult::RErr(e) => Err(error(e)),
        })
    }
}

fn span(s: v1::Span) -> Span {
    Span {
        start: s.start,
        len: s.len,
    }
}

/// A contract-1 report in this host's types: the same arena and spans; no kinds, no help.
fn report_from_v1(r: v1::FfiReport) -> FfiReport {
    FfiReport {
        status: r.status,
        reasons: r.reasons,
        text: r.text,
        series: r
            .series
            .iter()
            .map(|s| FfiSeries {
                name: span(s.name),
                unit: span(s.unit),
                help: Span::default(),
                labels: span(s.labels),
                node: s.node,
                kind: FfiMetricKind::UNKNOWN,
            })
            .collect(),
        values: r.values,
        labels: r
            .labels
            .iter()
            .map(|l| FfiLabel {
                key: span(l.key),
                value: span(l.value),
            })
            .collect(),
        nodes: r
            .nodes
            .iter()
            .map(|n| FfiNode {
                id: span(n.id),
                address: span(n.address),
                status: n.status,
                labels: span(n.labels),
            })
            .collect(),
        report_labels: span(r.report_labels),
        extensions: RVec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v1_report_keeps_its_strings_and_spans() {
        let s = |start, len| v1::Span { start, len };
        let report = v1::FfiReport {
            status: 2,
            reasons: vec![RString::from("slow")].into(),
            text: "upbytesmount/".into(),
            series: vec![v1::FfiSeries {
                name: s(0, 2),
                unit: s(2, 5),
                labels: s(0, 1),
                node: 0,
            }]
            .into(),
            values: vec![1.0].into(),
            labels: vec![v1::FfiLabel {
                key: s(7, 5),
                value: s(12, 1),
            }]
            .into(),
            nodes: RVec::new(),
            report_labels: s(1, 0),
        };
        let converted = report_from_v1(report);
        assert_eq!(converted.status, 2);
        assert_eq!(converted.text.as_str(), "upbytesmount/");
        let series = converted.series[0];
        assert_eq!(
            (series.name, series.unit),
            (Span { start: 0, len: 2 }, Span { start: 2, len: 5 })
        );
        assert_eq!(series.kind, FfiMetricKind::UNKNOWN);
        assert_eq!(series.help, Span::default());
        assert_eq!(converted.labels[0].value, Span { start: 12, len: 1 });
        assert_eq!(converted.report_labels, Span { start: 1, len: 0 });
    }

    #[test]
    fn only_the_1x_panic_text_reads_as_a_panic() {
        assert!(matches!(
            error("connector panicked: boom".into()),
            CollectError::Panicked(_)
        ));
        assert!(matches!(error("refused".into()), CollectError::Failed(_)));
    }
}
