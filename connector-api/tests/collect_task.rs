//! A collection runs as a task of the library's runtime, on the library's own thread: its
//! sockets and timers then wake only that thread, and the host's future once, at the end.
//! The host's thread that polls the future never runs the connector's code.

use abi_stable::std_types::{RResult, RString};
use dbmon_connector_api::{
    ClusterConfig, CollectContext, ConfigError, Connector, ConnectorInfo, Error, Report,
    export::root_module,
    ffi::{FfiCollectRequest, extension},
};
use std::time::Duration;

struct WhereAmI;

impl Connector for WhereAmI {
    type Options = serde::de::IgnoredAny;

    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "whereami",
            version: "0.1.0",
            description: "reports the thread its collection ran on",
            commands: vec![],
        }
    }

    fn new(_config: ClusterConfig<Self::Options>) -> Result<Self, ConfigError> {
        Ok(WhereAmI)
    }

    async fn collect(&self, _ctx: &CollectContext) -> Result<Report, Error> {
        let before = std::thread::current().name().map(str::to_owned);
        // A timer of the library's runtime, so that the collection is woken once.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let after = std::thread::current().name().map(str::to_owned);
        let mut report = Report::new();
        report.label("before", before.as_deref().unwrap_or("unnamed"));
        report.label("after", after.as_deref().unwrap_or("unnamed"));
        Ok(report)
    }
}

fn config() -> RString {
    r#"{"id":"here","interval_ms":1000,"timeout_ms":1000,"options":null}"#.into()
}

#[test]
fn a_collection_runs_on_the_librarys_thread_and_says_its_longest_poll() {
    let module = root_module::<WhereAmI>();
    let instance = (module.new_instance())(config()).unwrap();
    let host = tokio::runtime::Builder::new_current_thread()
        .thread_name("host-thread")
        .enable_all()
        .build()
        .unwrap();
    let request = FfiCollectRequest {
        sequence: 1,
        timeout_ms: 1000,
    };
    let RResult::ROk(report) = host.block_on(instance.collect(request)) else {
        panic!("the collection failed");
    };
    let labels: Vec<(&str, &str)> = report
        .labels
        .iter()
        .map(|l| (&report.text[l.key.range()], &report.text[l.value.range()]))
        .collect();
    assert_eq!(
        labels,
        [("before", "dbmon-whereami"), ("after", "dbmon-whereami")]
    );
    let longest: Vec<u64> = report
        .extensions
        .iter()
        .filter(|e| e.id == extension::LONGEST_POLL_US)
        .flat_map(|e| e.words.iter().copied())
        .collect();
    assert_eq!(longest.len(), 1, "one longest-poll word per report");
    // Two short polls around a 200 ms sleep: the figure is one poll's, not the whole time.
    assert!(longest[0] < 200_000, "{longest:?}");
}
