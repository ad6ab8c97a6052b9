//! A real three-member etcd cluster: healthy, then one member stopped (DEGRADED, named), then
//! two (UNHEALTHY: quorum lost).

mod common;

use common::{collect, collect_until, connector, etcd::Cluster};
use dbmon_connector_api::{NodeStatus, Status};
use dbmon_test_support::ReportExt;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn three_members_then_one_stopped_then_two() {
    let mut cluster = Cluster::start("m", 3, &[]).await;
    let etcd = connector(&cluster.endpoints());

    let report = collect(&etcd).await;
    assert_eq!(
        report.status(),
        Status::Healthy,
        "{report:#?}\n{}",
        cluster.logs()
    );
    assert!(report.reasons().next().is_none(), "{report:?}");
    assert_eq!(report.expect_value("members"), 3.0);
    assert_eq!(report.expect_value("members_healthy"), 3.0);
    assert_eq!(report.expect_value("has_leader"), 1.0);
    assert_eq!(report.expect_value("alarms"), 0.0);
    assert!(report.expect_value("leader_changes") >= 1.0);
    assert!(report.expect_value("raft_index_spread") < 100.0);
    assert!(report.expect_value("db_size_bytes") > 0.0);
    assert!(report.expect_value("db_size_in_use_bytes") > 0.0);
    assert!(report.expect_value("db_size_in_use_bytes") <= report.expect_value("db_size_bytes"));
    assert!(report.expect_value("round_trip_ms") > 0.0);
    assert!(report.expect_value("db_quota_used_percent") > 0.0);
    assert!(
        report
            .labels()
            .get("version")
            .is_some_and(|v| v.starts_with("3."))
    );
    assert!(
        report
            .labels()
            .get("cluster_id")
            .is_some_and(|id| !id.is_empty())
    );

    // The leader, by id and by name, is the one node that says it leads.
    let leader = *report
        .series_of(None, "leader_id", &[])
        .first()
        .expect("leader_id");
    let leader_name = leader.label("name").expect("a name").to_string();
    let leaders: Vec<&str> = report
        .nodes()
        .filter(|(n, _, _)| report.node_labels(*n).get("role") == Some("leader"))
        .map(|(_, id, _)| id)
        .collect();
    assert_eq!(leaders, [leader_name.as_str()]);
    assert_eq!(report.node_value_of(&leader_name, "is_leader"), Some(1.0));
    let hex = leader.label("member_id").unwrap();
    assert_eq!(u64::from_str_radix(hex, 16).unwrap() as f64, leader.value());

    for m in &cluster.members {
        let node = report.node_by_id(&m.name);
        assert_eq!(report.status_of(node), NodeStatus::Live);
        assert_eq!(report.address_of(node), Some(m.client_url.as_str()));
        assert_eq!(
            report.node_labels(node).get("version"),
            report.labels().get("version")
        );
        for metric in [
            "healthy",
            "db_size_bytes",
            "raft_index",
            "raft_applied_index",
            "raft_term",
            "round_trip_ms",
            "leader_changes",
        ] {
            assert!(
                report.node_value_of(&m.name, metric).is_some(),
                "{} {metric}",
                m.name
            );
        }
        assert_eq!(report.node_value_of(&m.name, "healthy"), Some(1.0));
    }

    // One endpoint is enough: the other members are found in the member list.
    let one = connector(&cluster.endpoints()[..1]);
    let report = collect(&one).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    assert_eq!(report.expect_value("members_healthy"), 3.0);
    assert_eq!(
        report.address_of(report.node_by_id("m3")),
        Some(cluster.members[2].client_url.as_str())
    );

    // Stop the leader: a new one is elected, and the stopped member is named.
    cluster.member(&leader_name).stop();
    let report = collect_until(&etcd, Duration::from_secs(20), |r| {
        r.status() == Status::Degraded
    })
    .await;
    let named = report.reasons_with(&format!("member {leader_name} ("));
    assert_eq!(named.len(), 1, "{report:?}");
    assert!(named[0].contains("not answering"), "{}", named[0]);
    assert_eq!(
        report.status_of(report.node_by_id(&leader_name)),
        NodeStatus::Dead
    );
    assert_eq!(report.node_value_of(&leader_name, "healthy"), Some(0.0));
    assert_eq!(report.expect_value("members"), 3.0);
    assert_eq!(report.expect_value("members_healthy"), 2.0);
    assert_eq!(report.expect_value("has_leader"), 1.0);
    let new_leader = report.series_of(None, "leader_id", &[])[0]
        .label("name")
        .unwrap()
        .to_string();
    assert_ne!(new_leader, leader_name);

    // Stop a second member: quorum is lost.
    let second = cluster
        .members
        .iter()
        .map(|m| m.name.clone())
        .find(|n| *n != leader_name)
        .unwrap();
    cluster.member(&second).stop();
    let report = collect_until(&etcd, Duration::from_secs(20), |r| {
        r.status() == Status::Unhealthy
    })
    .await;
    let quorum = report.reasons_with("quorum lost: ");
    assert_eq!(quorum.len(), 1, "{report:?}");
    assert!(
        quorum[0].ends_with(" of 3 voting members healthy, etcd needs 2"),
        "{}",
        quorum[0]
    );
    for stopped in [&leader_name, &second] {
        assert_eq!(
            report.status_of(report.node_by_id(stopped)),
            NodeStatus::Dead
        );
        assert_eq!(
            report.reasons_with(&format!("member {stopped} (")).len(),
            1,
            "{report:?}"
        );
    }
    assert!(report.expect_value("members_healthy") <= 1.0);
    let survivor = cluster
        .members
        .iter()
        .find(|m| m.name != leader_name && m.name != second)
        .unwrap();
    // The survivor soon knows it has no leader.
    let report = collect_until(&etcd, Duration::from_secs(20), |r| {
        r.expect_value("has_leader") == 0.0
    })
    .await;
    assert_eq!(report.status(), Status::Unhealthy);
    assert_eq!(report.expect_value("members_healthy"), 0.0);
    assert_eq!(
        report.status_of(report.node_by_id(&survivor.name)),
        NodeStatus::Unavailable
    );
    assert_eq!(
        report
            .reasons_with("no leader: none of the 1 answering members knows one")
            .len(),
        1
    );
    assert_eq!(
        report
            .reasons_with(&format!("member {} (", survivor.name))
            .len(),
        1,
        "{report:?}"
    );
}
