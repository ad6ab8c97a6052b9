//! Cluster shapes a real etcd cannot be made to show on demand, served by a fake etcd: a
//! member far behind, learners, a member that never started, members found from one endpoint,
//! a member whose metrics are missing.

mod common;

use common::{collect, connector, fake::Fake};
use dbmon_connector_api::{NodeStatus, Status};
use dbmon_test_support::ReportExt;

#[tokio::test]
async fn a_member_far_behind_is_named() {
    let fake = Fake::start(3).await;
    let report = collect(&connector(&fake.endpoints())).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    assert_eq!(report.expect_value("raft_index_spread"), 0.0);

    fake.set(|s| s.applied = vec![7000, 100, 6000]);
    let report = collect(&connector(&fake.endpoints())).await;
    assert_eq!(report.status(), Status::Degraded);
    assert_eq!(report.expect_value("raft_index_spread"), 6900.0);
    assert_eq!(
        report.reasons().collect::<Vec<_>>(),
        [format!(
            "raft applied index spread 6900 is over 5000: member f2 ({}) (applied 100) is behind f1 (applied 7000)",
            fake.endpoints()[1]
        )]
    );
    assert_eq!(
        report.node_value_of("f2", "raft_applied_index"),
        Some(100.0)
    );
}

#[tokio::test]
async fn learners_do_not_vote_and_unstarted_members_are_named() {
    let fake = Fake::start(3).await;
    fake.set(|s| {
        s.learner[2] = true;
        s.unstarted = vec![0xabc];
    });
    let report = collect(&connector(&fake.endpoints())).await;
    assert_eq!(report.expect_value("members"), 4.0);
    assert_eq!(report.expect_value("members_healthy"), 3.0);
    assert_eq!(
        report.node_labels(report.node_by_id("f3")).get("role"),
        Some("learner")
    );
    assert_eq!(
        report.node_labels(report.node_by_id("f1")).get("role"),
        Some("leader")
    );
    assert_eq!(
        report.status_of(report.node_by_id("abc")),
        NodeStatus::Initializing
    );
    // Two of three voters are healthy: a quorum, so only DEGRADED.
    assert_eq!(report.status(), Status::Degraded, "{report:#?}");
    assert_eq!(
        report.reasons().collect::<Vec<_>>(),
        ["member abc is listed but has never started (peer URLs http://10.9.9.9:2380)"]
    );

    // With two voters never started, two of four voters cannot make a quorum.
    fake.set(|s| s.unstarted = vec![0xabc, 0xdef]);
    let report = collect(&connector(&fake.endpoints())).await;
    assert_eq!(report.status(), Status::Unhealthy, "{report:#?}");
    assert_eq!(
        report
            .reasons_with("quorum lost: 2 of 4 voting members healthy, etcd needs 3")
            .len(),
        1
    );
}

#[tokio::test]
async fn members_are_found_from_one_endpoint() {
    let fake = Fake::start(3).await;
    let endpoints = fake.endpoints();
    let report = collect(&connector(&endpoints[1..2])).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    assert_eq!(report.expect_value("members_healthy"), 3.0);
    for (i, url) in endpoints.iter().enumerate() {
        let node = report.node_by_id(&format!("f{}", i + 1));
        assert_eq!(report.address_of(node), Some(url.as_str()));
        assert_eq!(report.status_of(node), NodeStatus::Live);
    }
    // The configured endpoint was asked once for each thing, the others found in its list.
    assert_eq!(fake.servers[1].hits("/v3/maintenance/status"), 1);
    assert_eq!(fake.servers[0].hits("/v3/maintenance/status"), 1);
    assert_eq!(fake.servers[0].hits("/v3/cluster/member/list"), 0);
    // Alarms come from the leader.
    assert_eq!(fake.servers[0].hits("/v3/maintenance/alarm"), 1);
}

#[tokio::test]
async fn missing_metrics_are_named() {
    let fake = Fake::start(3).await;
    fake.set(|s| s.no_metrics[1] = true);
    let report = collect(&connector(&fake.endpoints())).await;
    assert_eq!(report.status(), Status::Degraded);
    let url = &fake.endpoints()[1];
    assert_eq!(
        report.reasons().collect::<Vec<_>>(),
        [format!(
            "member f2 ({url}): cannot read its metrics: GET {url}/metrics: HTTP 404: not found"
        )]
    );
    assert_eq!(report.status_of(report.node_by_id("f2")), NodeStatus::Live);
    assert_eq!(report.node_value_of("f2", "leader_changes"), None);
    assert_eq!(report.expect_value("leader_changes"), 1.0);
}

#[tokio::test]
async fn without_a_healthy_quorum_alarms_come_from_the_status_answers() {
    let fake = Fake::start(3).await;
    fake.set(|s| {
        s.sick = vec![true, true, false];
        s.status_errors = vec!["memberID:2 alarm:NOSPACE ".into()];
    });
    let report = collect(&connector(&fake.endpoints())).await;
    assert_eq!(report.status(), Status::Unhealthy, "{report:#?}");
    assert_eq!(report.expect_value("alarms"), 1.0);
    assert_eq!(
        report
            .reasons_with("alarm NOSPACE on member f2 (2): ")
            .len(),
        1,
        "{report:?}"
    );
    assert_eq!(
        report
            .reasons_with(&format!(
                "member f1 ({}) fails its health check: /health says false",
                fake.endpoints()[0]
            ))
            .len(),
        1
    );
    assert_eq!(
        report.status_of(report.node_by_id("f1")),
        NodeStatus::Unavailable
    );
    // The alarm call goes through raft: it is not made without a healthy quorum.
    assert!(
        fake.servers
            .iter()
            .all(|s| s.hits("/v3/maintenance/alarm") == 0)
    );
}
