//! A real two-node RabbitMQ cluster (the second node joined the first with rabbitmqctl): both
//! nodes reported with their endpoints, then the second stopped: the first lists it as not
//! running, and the connector reports it DEAD with its endpoint's connection error.

mod common;

use common::rabbit::RabbitCluster;
use common::{collect, collect_until, connector};
use dbmon_connector_api::{NodeStatus, Status};
use dbmon_connector_rabbitmq::Options;
use dbmon_test_support::ReportExt;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_node_is_dead_with_its_connection_error() {
    let mut cluster = RabbitCluster::start(2).await;
    let endpoints = cluster.endpoints();
    let rabbit = connector(Options::default(), &endpoints);
    let (first, second) = (cluster.nodes[0].name.clone(), cluster.nodes[1].name.clone());
    let second_url = cluster.nodes[1].api_url.clone();

    let report = collect_until(&rabbit, Duration::from_secs(30), |r| {
        r.node_value_of(&second, "mem_used_bytes").is_some()
    })
    .await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    assert_eq!(report.expect_value("nodes"), 2.0);
    assert_eq!(report.expect_value("nodes_running"), 2.0);
    let ids: Vec<&str> = report.nodes().map(|(_, id, _)| id).collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    for (node, url) in [(&first, &endpoints[0]), (&second, &endpoints[1])] {
        let n = report.node_by_id(node);
        assert_eq!(report.status_of(n), NodeStatus::Live);
        assert_eq!(report.address_of(n), Some(url.as_str()));
        assert!(report.node_value_of(node, "round_trip_ms").is_some());
    }
    // What the first node lists is what the connector reports.
    let listed = cluster.nodes[0]
        .get_json("/api/nodes?columns=name,running")
        .await;
    let mut names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    names.sort();
    let mut reported = ids.clone();
    reported.sort();
    assert_eq!(names, reported);

    cluster.nodes[1].stop();
    let report = collect_until(&rabbit, Duration::from_secs(30), |r| {
        r.find_node(&second)
            .is_some_and(|n| r.status_of(n) == NodeStatus::Dead)
    })
    .await;
    let listed = cluster.nodes[0]
        .get_json("/api/nodes?columns=name,running")
        .await;
    let stopped = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == second.as_str())
        .unwrap();
    assert_eq!(stopped["running"], false, "{listed}");
    assert_eq!(report.node_value_of(&second, "running"), Some(0.0));
    assert_eq!(report.node_value_of(&first, "running"), Some(1.0));
    assert_eq!(report.expect_value("nodes_running"), 1.0);
    let n = report.node_by_id(&second);
    assert_eq!(report.address_of(n), Some(second_url.as_str()));
    // Half of the nodes down is UNHEALTHY; the stopped node has its own reason, with the
    // connection error of its endpoint.
    assert_eq!(report.status(), Status::Unhealthy, "{report:#?}");
    assert!(
        report.has_reason(&["only 1 of 2 nodes running"]),
        "{report:#?}"
    );
    let dead = report.reasons_with(&format!("node {second} ({second_url}) is not running"));
    assert_eq!(dead.len(), 1, "{report:#?}");
    assert!(
        dead[0].contains(&format!(
            "its management API: GET {second_url}/api/overview: "
        )),
        "{}",
        dead[0]
    );
    assert!(
        dead[0].to_lowercase().contains("connection refused"),
        "{}",
        dead[0]
    );

    // A new instance never saw the stopped endpoint answer: the endpoint stands apart.
    let fresh = collect(&connector(Options::default(), &endpoints)).await;
    let n = fresh.node_by_id(&second);
    assert_eq!(fresh.status_of(n), NodeStatus::Dead);
    assert_eq!(fresh.address_of(n), None);
    let apart = fresh.node_by_id(&second_url);
    assert_eq!(fresh.status_of(apart), NodeStatus::Dead);
    assert!(
        fresh.has_reason(&[&format!("endpoint {second_url} not answering: ")]),
        "{fresh:#?}"
    );
}
