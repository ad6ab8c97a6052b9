use crate::{client, lib, reports_when};
use dbmon_proto as proto;
use dbmon_test_support::Host;
use prost_types::Timestamp;
use std::time::Duration;

const CONFIG: &str = "
clusters:
  - {id: steady, connector: misbehave, interval: 500ms, timeout: 400ms, options: {mode: ok}}
  - {id: panics, connector: misbehave, interval: 500ms, timeout: 400ms, options: {mode: panic}}
  - {id: hangs, connector: misbehave, interval: 500ms, timeout: 300ms, options: {mode: hang}}
  - {id: fails, connector: misbehave, interval: 500ms, timeout: 400ms, options: {mode: fail}}
";

fn millis(t: &Option<Timestamp>) -> i64 {
    let t = t.as_ref().expect("timestamp");
    t.seconds * 1000 + i64::from(t.nanos) / 1_000_000
}

#[tokio::test]
async fn panics_and_hangs_are_contained_and_the_others_keep_their_schedule() {
    let host = Host::start(CONFIG, &[lib("misbehave")]);
    let hangs = reports_when(&host, "hangs", 4, Duration::from_secs(20)).await;
    let steady = reports_when(&host, "steady", 6, Duration::from_secs(10)).await;
    let panics = reports_when(&host, "panics", 4, Duration::from_secs(10)).await;
    let fails = reports_when(&host, "fails", 4, Duration::from_secs(10)).await;

    for r in &steady {
        assert_eq!(r.status, proto::Status::Healthy as i32, "{r:?}");
        assert!(r.error.is_none());
    }
    // Reports of the healthy cluster stay one interval apart although its neighbours panic
    // and hang: 500 ms, give or take scheduling noise.
    let times: Vec<i64> = steady.iter().map(|r| millis(&r.collected_at)).collect();
    for gap in times.windows(2).map(|w| w[0] - w[1]) {
        assert!(
            (350..=650).contains(&gap),
            "gaps between reports: {times:?}"
        );
    }

    for r in &panics {
        let error = r.error.clone().unwrap_or_default();
        assert!(
            error.contains("connector panicked") && error.contains("asked to panic"),
            "{error}"
        );
        assert_eq!(r.status, proto::Status::Unreachable as i32);
    }
    assert!(panics[0].consecutive_failures >= 4);
    assert!(panics[0].last_success.is_none());

    for r in &hangs {
        assert_eq!(r.error.as_deref(), Some("collection timed out after 300ms"));
        let took = r.duration.as_ref().unwrap();
        let ms = took.seconds * 1000 + i64::from(took.nanos) / 1_000_000;
        assert!((300..450).contains(&ms), "abandoned after {ms} ms");
    }
    assert!(
        fails[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("asked to fail")
    );

    let mut grpc = client(&host).await;
    let clusters = grpc
        .list_clusters(proto::ListClustersRequest {})
        .await
        .unwrap()
        .into_inner()
        .clusters;
    let by_id = |id: &str| clusters.iter().find(|c| c.id == id).unwrap().clone();
    assert!(by_id("panics").panics >= 4);
    assert!(by_id("hangs").timeouts >= 4);
    assert_eq!(by_id("steady").failures, 0);
    assert_eq!(by_id("hangs").status, proto::Status::Unreachable as i32);
    // The panics reached the host's log through the connector's forwarded tracing.
    assert!(host.log().contains("asked to panic"), "{}", host.log());
}

#[tokio::test]
async fn commands_run_on_the_cluster_connector() {
    let host = Host::start(CONFIG, &[lib("misbehave")]);
    let mut grpc = client(&host).await;
    let run = |command: &str, args: &[&str]| proto::RunCommandRequest {
        cluster_id: "steady".into(),
        command: command.into(),
        args: args.iter().map(|s| s.to_string()).collect(),
    };
    let out = grpc
        .run_command(run("echo", &["a", "b"]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(out.output, "a b");
    let missing = grpc.run_command(run("nope", &[])).await.unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
    assert!(
        missing.message().contains("commands: echo"),
        "{}",
        missing.message()
    );
}

#[tokio::test]
async fn a_connector_that_blocks_past_its_deadline_is_a_timeout_and_is_named_in_the_log() {
    let config = "clusters:\n  - {id: blocks, connector: misbehave, interval: 1s, timeout: 300ms, options: {mode: block}}\n  - {id: steady, connector: misbehave, interval: 500ms, timeout: 400ms, options: {mode: ok}}\n";
    let host = Host::start(config, &[lib("misbehave")]);
    let blocks = reports_when(&host, "blocks", 2, Duration::from_secs(15)).await;
    for r in &blocks {
        assert_eq!(
            r.error.as_deref(),
            Some("collection timed out after 300ms"),
            "{r:?}"
        );
    }
    // The blocked thread is one of the library's, and the other keeps the connector's
    // other clusters on time.
    let steady = reports_when(&host, "steady", 4, Duration::from_secs(10)).await;
    for r in &steady {
        assert_eq!(r.status, proto::Status::Healthy as i32, "{r:?}");
    }
    let log = host.log();
    let warning = "a collection blocked the connector's thread for";
    let named = log
        .lines()
        .any(|l| l.contains(warning) && l.contains("cluster=blocks"));
    assert!(named, "{log}");
    assert!(!log.contains("connector blocked a host thread"), "{log}");
}
