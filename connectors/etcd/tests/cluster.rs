//! A real three-member etcd cluster: healthy, then one member stopped (DEGRADED, named), then
//! two (UNHEALTHY: quorum lost).

mod common;

use common::{collect, collect_until, connector, etcd::Cluster, label};
use dbmon_connector_api::{NodeStatus, Status};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn three_members_then_one_stopped_then_two() {
    let mut cluster = Cluster::start("m", 3, &[]).await;
    let etcd = connector(&cluster.endpoints());

    let report = collect(&etcd).await;
    assert_eq!(
        report.status,
        Status::Healthy,
        "{report:#?}\n{}",
        cluster.logs()
    );
    assert!(report.reasons.is_empty(), "{:?}", report.reasons);
    assert_eq!(report.value("members"), 3.0);
    assert_eq!(report.value("members_healthy"), 3.0);
    assert_eq!(report.value("has_leader"), 1.0);
    assert_eq!(report.value("alarms"), 0.0);
    assert!(report.value("leader_changes") >= 1.0);
    assert!(report.value("raft_index_spread") < 100.0);
    assert!(report.value("db_size_bytes") > 0.0);
    assert!(report.value("db_size_in_use_bytes") > 0.0);
    assert!(report.value("db_size_in_use_bytes") <= report.value("db_size_bytes"));
    assert!(report.value("round_trip_ms") > 0.0);
    assert!(report.value("db_quota_used_percent") > 0.0);
    assert!(label(&report.labels, "version").is_some_and(|v| v.starts_with("3.")));
    assert!(label(&report.labels, "cluster_id").is_some_and(|id| !id.is_empty()));

    // The leader, by id and by name, is the one node that says it leads.
    let leader = report.series("leader_id").expect("leader_id");
    let leader_name = label(&leader.labels, "name").expect("a name").to_string();
    let leaders: Vec<&str> = report
        .nodes
        .iter()
        .filter(|n| label(&n.labels, "role") == Some("leader"))
        .map(|n| n.id.as_str())
        .collect();
    assert_eq!(leaders, [leader_name.as_str()]);
    assert_eq!(report.node_value(&leader_name, "is_leader"), Some(1.0));
    let hex = label(&leader.labels, "member_id").unwrap();
    assert_eq!(u64::from_str_radix(hex, 16).unwrap() as f64, leader.value);

    for m in &cluster.members {
        let node = report.node(&m.name);
        assert_eq!(node.status, NodeStatus::Live);
        assert_eq!(node.address, m.client_url);
        assert_eq!(
            label(&node.labels, "version"),
            label(&report.labels, "version")
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
                report.node_value(&m.name, metric).is_some(),
                "{} {metric}",
                m.name
            );
        }
        assert_eq!(report.node_value(&m.name, "healthy"), Some(1.0));
    }

    // One endpoint is enough: the other members are found in the member list.
    let one = connector(&cluster.endpoints()[..1]);
    let report = collect(&one).await;
    assert_eq!(report.status, Status::Healthy, "{report:#?}");
    assert_eq!(report.value("members_healthy"), 3.0);
    assert_eq!(report.node("m3").address, cluster.members[2].client_url);

    // Stop the leader: a new one is elected, and the stopped member is named.
    cluster.member(&leader_name).stop();
    let report = collect_until(&etcd, Duration::from_secs(20), |r| {
        r.status == Status::Degraded
    })
    .await;
    let named = report.reasons_with(&format!("member {leader_name} ("));
    assert_eq!(named.len(), 1, "{:?}", report.reasons);
    assert!(named[0].contains("not answering"), "{}", named[0]);
    assert_eq!(report.node(&leader_name).status, NodeStatus::Dead);
    assert_eq!(report.node_value(&leader_name, "healthy"), Some(0.0));
    assert_eq!(report.value("members"), 3.0);
    assert_eq!(report.value("members_healthy"), 2.0);
    assert_eq!(report.value("has_leader"), 1.0);
    let new_leader = label(&report.series("leader_id").unwrap().labels, "name")
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
        r.status == Status::Unhealthy
    })
    .await;
    let quorum = report.reasons_with("quorum lost: ");
    assert_eq!(quorum.len(), 1, "{:?}", report.reasons);
    assert!(
        quorum[0].ends_with(" of 3 voting members healthy, etcd needs 2"),
        "{}",
        quorum[0]
    );
    for stopped in [&leader_name, &second] {
        assert_eq!(report.node(stopped).status, NodeStatus::Dead);
        assert_eq!(
            report.reasons_with(&format!("member {stopped} (")).len(),
            1,
            "{:?}",
            report.reasons
        );
    }
    assert!(report.value("members_healthy") <= 1.0);
    let survivor = cluster
        .members
        .iter()
        .find(|m| m.name != leader_name && m.name != second)
        .unwrap();
    // The survivor soon knows it has no leader.
    let report = collect_until(&etcd, Duration::from_secs(20), |r| {
        r.value("has_leader") == 0.0
    })
    .await;
    assert_eq!(report.status, Status::Unhealthy);
    assert_eq!(report.value("members_healthy"), 0.0);
    assert_eq!(report.node(&survivor.name).status, NodeStatus::Unavailable);
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
        "{:?}",
        report.reasons
    );
}
