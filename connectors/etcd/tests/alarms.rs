//! Alarms and the space quota, on a real one-member etcd with a 100 KiB quota: filled until
//! etcd itself raises NOSPACE.

mod common;

use common::{build, collect, connector, etcd::Cluster};
use dbmon_connector_api::{NodeStatus, Status};
use dbmon_connector_etcd::Options;
use dbmon_test_support::ReportExt;

const QUOTA: &str = "--quota-backend-bytes=102400";

/// Writes 10 KiB values until etcd refuses: its NOSPACE alarm is then active.
async fn fill(cluster: &Cluster) {
    let value = "x".repeat(10 << 10);
    for i in 0..200 {
        let body = serde_json::json!({"key": format!("a2V5{i:04}"), "value": value}).to_string();
        let answer = cluster.post("/v3/kv/put", &body, None).await;
        if answer.contains("database space exceeded") {
            return;
        }
    }
    panic!("etcd never ran out of its 100 KiB quota");
}

#[tokio::test(flavor = "multi_thread")]
async fn nospace_and_corrupt_alarms_are_named() {
    let cluster = Cluster::start("a", 1, &[QUOTA]).await;
    let etcd = connector(&cluster.endpoints());
    let report = collect(&etcd).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    assert_eq!(report.expect_value("alarms"), 0.0);
    // The quota comes from the member's metrics.
    assert_eq!(report.node_value_of("a1", "db_quota_bytes"), Some(102400.0));
    let used = report.expect_value("db_quota_used_percent");
    assert_eq!(
        used,
        report.expect_value("db_size_bytes") * 100.0 / 102400.0
    );

    fill(&cluster).await;
    let report = collect(&etcd).await;
    assert_eq!(report.status(), Status::Degraded, "{report:#?}");
    assert_eq!(report.expect_value("alarms"), 1.0);
    let id = format!(
        "{:x}",
        cluster.member_id("a1").await.parse::<u64>().unwrap()
    );
    let nospace = report.reasons_with(&format!("alarm NOSPACE on member a1 ({id}): "));
    assert_eq!(nospace.len(), 1, "{report:?}");
    assert!(nospace[0].contains("refuses writes"), "{}", nospace[0]);
    // An alarm is no health failure: the member is still live and counted healthy.
    assert_eq!(report.status_of(report.node_by_id("a1")), NodeStatus::Live);
    assert_eq!(report.expect_value("members_healthy"), 1.0);
    assert_eq!(report.expect_value("has_leader"), 1.0);

    // CORRUPT is raised by hand (etcd raises it when members' hashes differ).
    let member_id = cluster.member_id("a1").await;
    let alarm = |action: &str, kind: &str| {
        serde_json::json!({"action": action, "memberID": member_id, "alarm": kind}).to_string()
    };
    cluster
        .post("/v3/maintenance/alarm", &alarm("ACTIVATE", "CORRUPT"), None)
        .await;
    let report = collect(&etcd).await;
    assert_eq!(report.expect_value("alarms"), 2.0, "{report:#?}");
    assert_eq!(
        report.reasons_with("alarm CORRUPT on member a1").len(),
        1,
        "{report:?}"
    );
    assert_eq!(report.status(), Status::Degraded);

    for kind in ["CORRUPT", "NOSPACE"] {
        cluster
            .post("/v3/maintenance/alarm", &alarm("DEACTIVATE", kind), None)
            .await;
    }
    let report = collect(&etcd).await;
    assert_eq!(report.expect_value("alarms"), 0.0, "{report:#?}");
    assert!(report.reasons_with("alarm").is_empty(), "{report:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_near_its_quota_is_named() {
    let cluster = Cluster::start("q", 1, &[QUOTA]).await;
    let report = collect(&connector(&cluster.endpoints())).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    let used = report.expect_value("db_quota_used_percent");
    assert!(used > 5.0 && used < 80.0, "{used}");

    let options = Options {
        db_quota_used_degraded_percent: used / 2.0,
        ..Options::default()
    };
    let etcd = build(options, &cluster.endpoints(), None).unwrap();
    let report = collect(&etcd).await;
    assert_eq!(report.status(), Status::Degraded);
    let reason = format!(
        "member q1 ({}): database {} is {used:.1} % of its space quota 100.0 KiB (over {} %)",
        cluster.members[0].client_url,
        format_args!("{:.1} KiB", report.expect_value("db_size_bytes") / 1024.0),
        used / 2.0
    );
    assert_eq!(
        report.reasons_with(&reason).len(),
        1,
        "{reason}\n{:?}",
        report.reasons().collect::<Vec<_>>()
    );
}
