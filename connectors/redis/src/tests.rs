//! Cluster states a test cannot easily bring about with real servers (a suspected node, slots
//! nobody serves, a stranger in the endpoints), assembled from the texts nodes send.

use crate::{
    cluster, info,
    options::{Options, Settings, settings},
    probe::{Answer, ClusterView, Probe},
    report, topology, verdict,
};
use dbmon_connector_api::{ClusterConfig, NodeStatus, Report, Status};

const A: &str = "aaaaaaaa11111111111111111111111111111111";
const B: &str = "bbbbbbbb22222222222222222222222222222222";
const C: &str = "cccccccc33333333333333333333333333333333";

fn defaults() -> Settings {
    let config = ClusterConfig::new("t", Options::default()).with_endpoints(["10.0.0.1:7001"]);
    settings(&config).unwrap()
}

fn answer(info_text: &str, view: Option<(&str, &str)>) -> Result<Answer, String> {
    Ok(Answer {
        info: info::parse(&format!("redis_version:7.2.4\n{info_text}")),
        round_trip_ms: 1.0,
        cluster: view.map(|(info, nodes)| ClusterView {
            info: cluster::parse_info(info),
            nodes: cluster::parse_nodes(nodes),
        }),
    })
}

fn probe(address: &str, listed: Option<usize>, outcome: Result<Answer, String>) -> Probe {
    Probe {
        address: address.into(),
        listed,
        outcome,
    }
}

fn judged(probes: &[Probe], settings: &Settings) -> Report {
    let topology = topology::assemble(probes).unwrap();
    let mut report = Report::new();
    report::write(&mut report, &topology, &report::lags(&topology));
    verdict::judge(&mut report, &topology, settings);
    report
}

fn has(report: &Report, words: &[&str]) -> bool {
    report
        .reasons()
        .any(|r| words.iter().all(|w| r.contains(w)))
}

fn nodes_text(b_flags: &str, c_slots: &str) -> String {
    format!(
        "{A} 10.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-8191\n\
         {B} 10.0.0.2:7002@17002 {b_flags} {A} 0 0 1 connected\n\
         {C} 10.0.0.3:7003@17003 master - 0 0 2 connected {c_slots}\n"
    )
}

const OK_INFO: &str = "cluster_state:ok\ncluster_slots_assigned:16384\ncluster_slots_ok:16384\n\
                       cluster_slots_pfail:0\ncluster_slots_fail:0\ncluster_known_nodes:3\n";

#[test]
fn a_suspected_replica_and_a_master_without_replica() {
    let nodes = nodes_text("slave,fail?", "8192-16383");
    let probes = [
        probe(
            "10.0.0.1:7001",
            Some(0),
            answer("cluster_enabled:1", Some((OK_INFO, &nodes))),
        ),
        probe("10.0.0.2:7002", None, Err("no answer within 900 ms".into())),
        probe("10.0.0.3:7003", None, answer("cluster_enabled:1", None)),
    ];
    let report = judged(&probes, &defaults());
    assert_eq!(report.status(), Status::Degraded);
    assert!(has(
        &report,
        &[
            "node 10.0.0.2:7002 (replica, bbbbbbbb)",
            "suspected down",
            "no answer"
        ]
    ));
    // A's only replica is suspected: it has no healthy one; C never had one.
    assert!(has(
        &report,
        &["master 10.0.0.1:7001", "0-8191", "no healthy replica"]
    ));
    assert!(has(
        &report,
        &["master 10.0.0.3:7003", "8192-16383", "no healthy replica"]
    ));
    let status: Vec<NodeStatus> = report.nodes().map(|(_, _, s)| s).collect();
    assert_eq!(
        status,
        [NodeStatus::Live, NodeStatus::Unavailable, NodeStatus::Live]
    );
    assert_eq!(report.value("replicas"), Some(1.0));

    // With the rule off, only the suspected node remains.
    let mut relaxed = defaults();
    relaxed.min_replicas_per_master = 0;
    let report = judged(&probes, &relaxed);
    assert_eq!(
        report.reasons().count(),
        1,
        "{:?}",
        report.reasons().collect::<Vec<_>>()
    );
}

#[test]
fn unassigned_slots_and_a_failed_state_are_unhealthy() {
    let nodes = nodes_text("slave", "8192-16000");
    let info = OK_INFO
        .replace("cluster_state:ok", "cluster_state:fail")
        .replace("assigned:16384", "assigned:16001");
    let probes = [
        probe(
            "10.0.0.1:7001",
            Some(0),
            answer("cluster_enabled:1", Some((&info, &nodes))),
        ),
        probe(
            "10.0.0.2:7002",
            None,
            answer("role:slave\nmaster_link_status:up", None),
        ),
        probe("10.0.0.3:7003", None, answer("", None)),
    ];
    let mut settings = defaults();
    settings.min_replicas_per_master = 0;
    let report = judged(&probes, &settings);
    assert_eq!(report.status(), Status::Unhealthy);
    assert!(has(&report, &["cluster_state is fail", "10.0.0.1:7001"]));
    assert!(has(&report, &["383 of 16384 slots are not assigned"]));
    assert_eq!(report.value("cluster_state_ok"), Some(0.0));
}

#[test]
fn nodes_without_address_or_in_handshake_are_shown_but_not_asked() {
    let nodes = format!(
        "{A} 10.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-16383\n\
         {B} :0@0 noaddr - 0 0 0 disconnected\n\
         {C} 10.0.0.3:7003@17003 handshake - 0 0 0 disconnected\n"
    );
    let probes = [
        probe(
            "10.0.0.1:7001",
            Some(0),
            answer("cluster_enabled:1", Some((OK_INFO, &nodes))),
        ),
        probe("10.0.0.3:7003", None, Err("cannot connect: refused".into())),
    ];
    let mut settings = defaults();
    settings.min_replicas_per_master = 0;
    let report = judged(&probes, &settings);
    let nodes: Vec<(String, NodeStatus)> = report
        .nodes()
        .map(|(_, id, s)| (id.to_string(), s))
        .collect();
    assert_eq!(
        nodes,
        [
            ("10.0.0.1:7001".to_string(), NodeStatus::Live),
            ("10.0.0.3:7003".to_string(), NodeStatus::Initializing),
            (B.to_string(), NodeStatus::Unknown),
        ]
    );
    // The node in handshake does not answer: that is a reason; the one without address is not.
    assert!(has(&report, &["10.0.0.3:7003", "not answering"]));
    assert_eq!(report.reasons().count(), 1);
}

#[test]
fn a_listed_stranger_is_reported_apart() {
    let nodes = format!("{A} 10.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-16383\n");
    let probes = [
        probe(
            "10.0.0.1:7001",
            Some(0),
            answer("cluster_enabled:1", Some((OK_INFO, &nodes))),
        ),
        probe("10.0.0.9:6379", Some(1), answer("", None)),
    ];
    let mut settings = defaults();
    settings.min_replicas_per_master = 0;
    let report = judged(&probes, &settings);
    assert_eq!(report.status(), Status::Degraded);
    assert!(has(
        &report,
        &["node 10.0.0.9:6379 is listed", "not a member"]
    ));
    assert_eq!(report.nodes().count(), 2);
}

#[test]
fn nothing_answering_is_an_error_naming_every_node() {
    let probes = [
        probe(
            "10.0.0.1:7001",
            Some(0),
            Err("cannot connect: refused".into()),
        ),
        probe(
            "10.0.0.2:7002",
            Some(1),
            Err("no answer within 900 ms".into()),
        ),
    ];
    let error = topology::assemble(&probes).unwrap_err();
    assert_eq!(
        error,
        "10.0.0.1:7001: cannot connect: refused; 10.0.0.2:7002: no answer within 900 ms"
    );
}
