use crate::{client, lib, reports_when};
use dbmon_proto as proto;
use dbmon_test_support::Host;
use prost_types::Timestamp;
use std::time::Duration;

const CONFIG: &str = "
connectors:
  misbehave: {isolation: process}
clusters:
  - {id: steady, connector: misbehave, interval: 500ms, timeout: 400ms, isolation: in_process, options: {mode: ok}}
  - {id: isolated-ok, connector: misbehave, interval: 500ms, timeout: 400ms, options: {mode: ok}}
  - {id: aborts, connector: misbehave, interval: 500ms, timeout: 400ms, options: {mode: abort}}
  - {id: segfaults, connector: misbehave, interval: 500ms, timeout: 400ms, options: {mode: segfault}}
  - {id: overflows, connector: misbehave, interval: 500ms, timeout: 400ms, options: {mode: stack_overflow}}
";

fn millis(t: &Option<Timestamp>) -> i64 {
    let t = t.as_ref().expect("timestamp");
    t.seconds * 1000 + i64::from(t.nanos) / 1_000_000
}

#[tokio::test]
async fn crashing_connectors_kill_only_their_worker() {
    let host = Host::start(CONFIG, &[lib("misbehave")]);
    // Every crashing worker has been restarted twice (after 1 s and 2 s of backoff).
    let mut grpc = client(&host).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let clusters = loop {
        let clusters = grpc
            .list_clusters(proto::ListClustersRequest {})
            .await
            .unwrap()
            .into_inner()
            .clusters;
        let restarted = clusters.iter().filter(|c| c.worker_restarts >= 2).count();
        if restarted == 3 || tokio::time::Instant::now() > deadline {
            break clusters;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let steady = reports_when(&host, "steady", 10, Duration::from_secs(5)).await;
    let times: Vec<i64> = steady
        .iter()
        .take(10)
        .map(|r| millis(&r.collected_at))
        .collect();
    for (r, gap) in steady.iter().zip(times.windows(2).map(|w| w[0] - w[1])) {
        assert_eq!(r.status, proto::Status::Healthy as i32);
        assert!(
            (350..=650).contains(&gap),
            "the in-process cluster kept its schedule: {times:?}"
        );
    }
    let isolated = reports_when(&host, "isolated-ok", 10, Duration::from_secs(5)).await;
    assert!(
        isolated
            .iter()
            .all(|r| r.status == proto::Status::Healthy as i32 && r.error.is_none())
    );
    assert!(
        isolated[0]
            .metrics
            .iter()
            .any(|m| m.name == "collections" && m.value >= 10.0)
    );

    for (cluster, cause) in [
        ("aborts", "killed by SIGABRT"),
        ("segfaults", "killed by SIGSEGV"),
        // A collection runs on the library's own thread, whose guard page the host's stack
        // overflow handler does not know: the kernel's SIGSEGV is what is left to report.
        ("overflows", "killed by SIGSEGV"),
    ] {
        let reports = reports_when(&host, cluster, 8, Duration::from_secs(5)).await;
        assert!(
            reports
                .iter()
                .all(|r| r.status == proto::Status::Unreachable as i32),
            "{cluster}"
        );
        let errors: Vec<String> = reports.iter().filter_map(|r| r.error.clone()).collect();
        assert!(
            errors.iter().any(|e| e.contains(cause)),
            "{cluster}: {errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.contains("restarting it in")),
            "{cluster}: {errors:?}"
        );
        // Reports keep coming every interval while the worker is down.
        let times: Vec<i64> = reports
            .iter()
            .take(8)
            .map(|r| millis(&r.collected_at))
            .collect();
        assert!(
            times
                .windows(2)
                .all(|w| (300..=700).contains(&(w[0] - w[1]))),
            "{cluster}: {times:?}"
        );
    }

    for c in &clusters {
        let expected = if c.id == "steady" {
            "in_process"
        } else {
            "process"
        };
        assert_eq!(c.isolation, expected, "{}", c.id);
        let crashing = ["aborts", "segfaults", "overflows"].contains(&c.id.as_str());
        if crashing {
            assert!(
                c.worker_restarts >= 2,
                "{} restarted {} times",
                c.id,
                c.worker_restarts
            );
        } else {
            assert_eq!(c.worker_restarts, 0, "{}", c.id);
        }
    }
    let out = grpc
        .run_command(proto::RunCommandRequest {
            cluster_id: "isolated-ok".into(),
            command: "echo".into(),
            args: vec!["hi".into()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(out.output, "hi");
}

#[tokio::test]
async fn an_isolated_cluster_with_bad_options_is_a_config_error() {
    let config = "clusters:\n  - {id: x, connector: misbehave, isolation: process, options: {mode: sideways}}\n";
    let err = Host::try_start(config, &[lib("misbehave")])
        .err()
        .expect("refused");
    assert!(err.contains("dbmon.yaml:2:"), "{err}");
    assert!(
        err.contains("connector 'misbehave' refused cluster 'x'") && err.contains("sideways"),
        "{err}"
    );
}
