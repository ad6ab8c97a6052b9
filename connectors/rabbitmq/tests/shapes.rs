//! What a real node cannot show on demand, from loopback HTTP servers answering with the
//! management API's documented shapes (as RabbitMQ 3.10 writes them): a network partition, a
//! majority of nodes down, an older RabbitMQ without the health checks, a crashed queue,
//! answers that are not the API's, and a silent endpoint beside an answering one.

mod common;

use common::{collect, connector, try_collect};
use dbmon_connector_api::{NodeStatus, Status};
use dbmon_connector_rabbitmq::Options;
use dbmon_test_support::{HttpServer, Reply, ReportExt, SilentHttpNodes};
use std::time::{Duration, Instant};

fn overview(node: &str) -> String {
    format!(
        r#"{{"node":"{node}","cluster_name":"main","rabbitmq_version":"3.10.8","erlang_version":"25.2.3",
            "object_totals":{{"channels":4,"connections":2,"consumers":1,"exchanges":7,"queues":3}},
            "queue_totals":{{"messages":12,"messages_ready":10,"messages_unacknowledged":2}},
            "message_stats":{{"publish":40,"publish_details":{{"rate":0.0}}}}}}"#
    )
}

fn node(name: &str, running: bool, partitions: &[&str], mem_alarm: bool) -> String {
    if !running {
        return format!(r#"{{"name":"{name}","type":"disc","running":false}}"#);
    }
    let partitions: Vec<String> = partitions.iter().map(|p| format!("\"{p}\"")).collect();
    format!(
        r#"{{"name":"{name}","type":"disc","running":true,"partitions":[{}],"mem_used":150000000,
            "mem_limit":100000000,"mem_alarm":{mem_alarm},"disk_free":80000000000,
            "disk_free_limit":50000000,"disk_free_alarm":false,"fd_used":40,"fd_total":20000,
            "sockets_used":2,"sockets_total":17910,"proc_used":400,"proc_total":1048576,
            "uptime":60000,"run_queue":0}}"#,
        partitions.join(",")
    )
}

const QUEUES: &str = r#"{"filtered_count":3,"item_count":2,"items":[
    {"name":"orders","vhost":"shop","node":"rabbit@a","state":"running","messages":9,"messages_ready":9,"messages_unacknowledged":0,"consumers":0},
    {"name":"mail","vhost":"/","node":"rabbit@b","state":"crashed","messages":3,"messages_ready":1,"messages_unacknowledged":2,"consumers":1}],
    "page":1,"page_count":2,"page_size":2,"total_count":3}"#;

/// One node's API answering with these bodies.
async fn fake(overview: String, nodes: String, alarms: Option<&str>) -> HttpServer {
    let server = HttpServer::start().await;
    server.set("/api/overview", Reply::json(overview));
    server.set("/api/nodes", Reply::json(nodes));
    server.set("/api/queues", Reply::json(QUEUES));
    match alarms {
        Some(body) if body.contains("failed") => server.set(
            "/api/health/checks/alarms",
            Reply::json(body).with_status(503),
        ),
        Some(body) => server.set("/api/health/checks/alarms", Reply::json(body)),
        None => server.set(
            "/api/health/checks/alarms",
            Reply::json(r#"{"error":"Object Not Found","reason":"Not Found"}"#).with_status(404),
        ),
    }
    server
}

fn options(threshold: u64, max_queues: usize) -> Options {
    Options {
        ready_without_consumers_degraded: threshold,
        max_queues,
    }
}

#[tokio::test]
async fn a_partition_is_unhealthy_and_names_both_sides() {
    let nodes = format!(
        "[{},{},{}]",
        node("rabbit@a", true, &["rabbit@b"], false),
        node("rabbit@b", true, &["rabbit@a"], false),
        node("rabbit@c", true, &[], false)
    );
    let server = fake(overview("rabbit@a"), nodes, Some(r#"{"status":"ok"}"#)).await;
    let url = server.url("");
    let report = collect(&connector(options(100, 2), std::slice::from_ref(&url))).await;
    assert_eq!(report.status(), Status::Unhealthy, "{report:#?}");
    let reason = format!(
        "network partition: node rabbit@a ({url}) cannot reach rabbit@b (partitions); until it \
         heals, the sides serve apart and may lose messages when they merge"
    );
    assert_eq!(
        report.reasons_with("network partition"),
        [
            reason.as_str(),
            "network partition: node rabbit@b cannot reach rabbit@a (partitions); until it heals, \
         the sides serve apart and may lose messages when they merge"
        ]
    );
    assert_eq!(report.expect_value("nodes_partitioned"), 2.0);
    assert_eq!(report.node_value_of("rabbit@a", "partitions"), Some(1.0));
    assert_eq!(report.node_value_of("rabbit@c", "partitions"), Some(0.0));
    // The queues: the page size asked is max_queues, sorted by messages.
    let asked = server
        .requests()
        .into_iter()
        .find(|r| r.path.starts_with("/api/queues"))
        .unwrap();
    assert!(
        asked
            .path
            .contains("page_size=2&sort=messages&sort_reverse=true"),
        "{}",
        asked.path
    );
    assert_eq!(report.expect_value("queues_not_reported"), 1.0);
    assert_eq!(
        report.exact_value(
            None,
            "queue_messages_unacknowledged",
            &[("vhost", "/"), ("queue", "mail")]
        ),
        2.0
    );
    assert!(report.has_reason(&["queue 'mail' in vhost '/' is crashed (on node rabbit@b)"]));
    // 9 ready is not over 100.
    assert!(report.reasons_with("no consumer").is_empty(), "{report:#?}");
    // Every call carried the login, and none the password in clear.
    for request in server.requests() {
        let auth = request.headers.get("authorization").map(String::as_str);
        assert!(auth.is_some_and(|a| a.starts_with("Basic ")), "{request:?}");
    }
}

#[tokio::test]
async fn without_health_checks_the_nodes_flags_tell_the_alarms() {
    let nodes = format!(
        "[{},{},{}]",
        node("rabbit@a", true, &[], true),
        node("rabbit@b", false, &[], false),
        node("rabbit@c", false, &[], false)
    );
    // RabbitMQ before 3.8.10: no /api/health/checks/alarms.
    let server = fake(overview("rabbit@a"), nodes, None).await;
    let url = server.url("");
    let report = collect(&connector(options(5, 50), std::slice::from_ref(&url))).await;
    assert_eq!(report.status(), Status::Unhealthy, "{report:#?}");
    let memory = format!(
        "memory alarm on node rabbit@a ({url}): 143.1 MiB used, high watermark 95.4 MiB; RabbitMQ \
         blocks every publishing connection of the cluster until it clears"
    );
    assert!(report.has_reason(&[&memory]), "{report:#?}");
    assert!(report.has_reason(&["only 1 of 3 nodes running: quorum queues need a majority"]));
    for stopped in ["rabbit@b", "rabbit@c"] {
        assert_eq!(
            report.status_of(report.node_by_id(stopped)),
            NodeStatus::Dead
        );
        assert!(report.has_reason(&[&format!(
            "node {stopped} is not running (the cluster lists it as stopped)"
        )]));
        assert_eq!(report.node_value_of(stopped, "running"), Some(0.0));
        assert_eq!(report.node_value_of(stopped, "mem_used_bytes"), None);
    }
    assert_eq!(report.expect_value("alarms"), 1.0);
    assert!(report.has_reason(&[
        "queue 'orders' in vhost 'shop' has 9 messages ready and no consumer \
         (ready_without_consumers_degraded is 5)"
    ]));
    assert!(report.reasons_with("cannot read").is_empty(), "{report:#?}");
    assert_eq!(
        report.node_value_of("rabbit@a", "mem_used_percent"),
        Some(150.0)
    );
}

#[tokio::test]
async fn the_health_check_alarm_counts_before_the_flags_catch_up() {
    let nodes = format!("[{}]", node("rabbit@a", true, &[], false));
    let check = r#"{"alarms":[{"node":"rabbit@a","resource":"disk space"}],"reason":"There are alarms in effect in the cluster","status":"failed"}"#;
    let server = fake(overview("rabbit@a"), nodes, Some(check)).await;
    let report = collect(&connector(options(100, 50), &[server.url("")])).await;
    assert_eq!(report.status(), Status::Unhealthy, "{report:#?}");
    assert!(
        report.has_reason(&[
            "disk alarm on node rabbit@a",
            "74.5 GiB free, under its disk_free_limit 47.7 MiB"
        ]),
        "{report:#?}"
    );
    assert_eq!(report.expect_value("alarms"), 1.0);
}

#[tokio::test]
async fn answers_that_are_not_the_api() {
    let server = HttpServer::start().await;
    server.set("/api/overview", Reply::text("<html>hello</html>"));
    let err = try_collect(&connector(Options::default(), &[server.url("")]))
        .await
        .unwrap_err();
    assert!(
        err.contains("not the RabbitMQ management API's JSON"),
        "{err}"
    );
    // The overview answers, the rest fail: a report, with what could not be read.
    let nodes_broken = fake(
        overview("rabbit@a"),
        "not json".into(),
        Some(r#"{"status":"ok"}"#),
    )
    .await;
    nodes_broken.set(
        "/api/queues",
        Reply::json(r#"{"error":"bad"}"#).with_status(500),
    );
    let url = nodes_broken.url("");
    let report = collect(&connector(Options::default(), std::slice::from_ref(&url))).await;
    assert_eq!(report.status(), Status::Degraded, "{report:#?}");
    assert!(report.has_reason(&[&format!(
        "cannot read the nodes from {url}: GET {url}/api/nodes: not the RabbitMQ"
    )]));
    assert!(report.has_reason(&[&format!(
        "cannot read the queues from {url}: GET {url}/api/queues: HTTP 500: bad"
    )]));
    // The node it answered as still stands, from its overview.
    assert_eq!(
        report.status_of(report.node_by_id("rabbit@a")),
        NodeStatus::Live
    );
}

#[test]
fn a_silent_endpoint_costs_a_reason_not_the_report() {
    // The silent server runs a runtime of its own: made and dropped outside the test's.
    let silent = SilentHttpNodes::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(silent_beside_answering(&silent));
}

async fn silent_beside_answering(silent: &SilentHttpNodes) {
    let nodes = format!(
        "[{},{}]",
        node("rabbit@a", true, &[], false),
        node("rabbit@b", true, &[], false)
    );
    let server = fake(overview("rabbit@a"), nodes, Some(r#"{"status":"ok"}"#)).await;
    let endpoints = [server.url(""), silent.urls()[0].to_string()];
    let rabbit = connector(Options::default(), &endpoints);
    let started = Instant::now();
    let report = collect(&rabbit).await;
    assert!(started.elapsed() < common::TIMEOUT + Duration::from_millis(500));
    assert_eq!(report.status(), Status::Degraded, "{report:#?}");
    let reason = format!(
        "endpoint {} not answering: GET {}/api/overview: no answer within",
        endpoints[1], endpoints[1]
    );
    assert!(report.has_reason(&[&reason]), "{report:#?}");
    assert_eq!(
        report.status_of(report.node_by_id(&endpoints[1])),
        NodeStatus::Dead
    );
    // rabbit@b runs (the cluster says so) though no endpoint of it is configured.
    assert_eq!(
        report.status_of(report.node_by_id("rabbit@b")),
        NodeStatus::Live
    );
}

#[tokio::test]
async fn an_endpoint_of_another_cluster_is_named() {
    let ours = fake(
        overview("rabbit@a"),
        format!("[{}]", node("rabbit@a", true, &[], false)),
        Some(r#"{"status":"ok"}"#),
    )
    .await;
    let theirs = fake(
        overview("rabbit@x"),
        format!("[{}]", node("rabbit@x", true, &[], false)),
        Some(r#"{"status":"ok"}"#),
    )
    .await;
    let endpoints = [ours.url(""), theirs.url("")];
    let report = collect(&connector(Options::default(), &endpoints)).await;
    assert_eq!(report.status(), Status::Degraded, "{report:#?}");
    let reason = format!(
        "endpoint {} answers as node rabbit@x, which is not a node of the cluster {} belongs to",
        endpoints[1], endpoints[0]
    );
    assert!(report.has_reason(&[&reason]), "{report:#?}");
    assert_eq!(
        report.reasons_with("answers as node").len(),
        1,
        "{report:#?}"
    );
}

#[tokio::test]
async fn a_closed_port_is_the_error_of_the_collection() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let err = try_collect(&connector(Options::default(), std::slice::from_ref(&url)))
        .await
        .unwrap_err();
    let expected = format!("no endpoint could be read: GET {url}/api/overview: ");
    assert!(err.starts_with(&expected), "{err}");
    assert!(err.contains("Connection refused"), "{err}");
}
