//! Connectors built against connector-api 1.x (contract 1) keep working in this host: the test
//! builds misbehave against a copy of the frozen 1.1 SDK, as a third party still on 1.1 would,
//! and drives it in process and in a worker through everything a connector can do.

use crate::{client, reports_when};
use dbmon_proto as proto;
use dbmon_test_support::Host;
use std::time::Duration;

const CONFIG: &str = "
clusters:
  - {id: steady, connector: misbehave, interval: 400ms, timeout: 300ms, options: {mode: ok}}
  - {id: panics, connector: misbehave, interval: 400ms, timeout: 300ms, options: {mode: panic}}
  - {id: fails, connector: misbehave, interval: 400ms, timeout: 300ms, options: {mode: fail}}
  - {id: apart, connector: misbehave, interval: 400ms, timeout: 300ms, isolation: process, options: {mode: panic}}
";

#[tokio::test]
async fn a_connector_built_against_the_1_1_sdk_loads_through_the_adapter_and_behaves_as_before() {
    let v1 = crate::abi_compat::build_v1("1.1.0");
    let dir = crate::folder_with_plugins(&[(&v1, "libdbmon_connector_misbehave.so")]);
    let host = Host::start_in(dir, CONFIG).unwrap_or_else(|e| panic!("{e}"));

    let steady = reports_when(&host, "steady", 2, Duration::from_secs(15)).await;
    assert_eq!(
        steady[0].status,
        proto::Status::Healthy as i32,
        "{:?}",
        steady[0]
    );
    assert!(!steady[0].metrics.is_empty(), "{:?}", steady[0]);
    // Contract 1 has no metric kinds: every series reads as unspecified.
    assert!(
        steady[0].metrics.iter().all(|m| m.kind == 0),
        "{:?}",
        steady[0]
    );

    let fails = reports_when(&host, "fails", 2, Duration::from_secs(15)).await;
    assert!(
        fails[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("asked to fail"),
        "{:?}",
        fails[0]
    );
    for id in ["panics", "apart"] {
        let panics = reports_when(&host, id, 2, Duration::from_secs(15)).await;
        let error = panics[0].error.clone().unwrap_or_default();
        assert!(error.contains("asked to panic"), "{id}: {error}");
    }

    let mut grpc = client(&host).await;
    let clusters = grpc
        .list_clusters(proto::ListClustersRequest {})
        .await
        .unwrap()
        .into_inner()
        .clusters;
    let by_id = |id: &str| clusters.iter().find(|c| c.id == id).unwrap().clone();
    // A 1.x panic is told apart from a failure in process and in a worker alike.
    assert!(by_id("panics").panics >= 2, "{:?}", by_id("panics"));
    assert!(by_id("apart").panics >= 2, "{:?}", by_id("apart"));
    assert_eq!(by_id("fails").panics, 0, "{:?}", by_id("fails"));

    let echo = grpc
        .run_command(proto::RunCommandRequest {
            cluster_id: "steady".into(),
            command: "echo".into(),
            args: vec!["a".into(), "b".into()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(echo.output, "a b");

    let connectors = grpc
        .list_connectors(proto::ListConnectorsRequest {})
        .await
        .unwrap()
        .into_inner()
        .connectors;
    assert_eq!(connectors[0].api_version, "1.1.0");
    assert_eq!(connectors[0].abi_version, "1.1.0");
    let log = host.log();
    assert!(
        log.contains("loaded connector misbehave 1.0.0 (connector-api 1.1.0"),
        "{log}"
    );
    // Its log lines still reach the host's log.
    assert!(log.contains("asked to panic"), "{log}");
}
