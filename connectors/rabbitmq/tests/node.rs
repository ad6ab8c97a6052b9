//! One real RabbitMQ node with the management plugin, started by the test on free ports: the
//! figures the connector reports against what the API itself says, a queue filling with no
//! consumer, memory and disk alarms set with rabbitmqctl, a wrong password, and the node
//! stopped. The README's metric list is checked against the report of the same node.

mod common;

use common::rabbit::{MONITOR_USER, RabbitNode};
use common::{build, collect, collect_until, connector, try_collect};
use dbmon_connector_api::{Connector, MetricKind, Report, Status};
use dbmon_connector_rabbitmq::Options;
use dbmon_test_support::{ReportExt, docs::ConnectorDir, readme_kinds::ReadmeKinds};
use std::time::Duration;

const QUEUE: &str = "dbmon-backlog";
const PUBLISHED: u64 = 7;

fn queue_labels(name: &str) -> [(&'static str, &str); 2] {
    [("vhost", "/"), ("queue", name)]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_node_from_start_to_stop() {
    let mut node = RabbitNode::start().await;
    let endpoints = [node.api_url.clone()];
    let rabbit = connector(Options::default(), &endpoints);

    // A fresh node has no statistics for a moment: wait for its figures.
    let report = collect_until(&rabbit, Duration::from_secs(30), |r| {
        r.node_value_of(&node.name, "mem_used_bytes").is_some()
    })
    .await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    node_figures_are_the_apis(&node, &report).await;

    node.declare_queue(QUEUE).await;
    node.publish(QUEUE, PUBLISHED as usize).await;
    let said = node.queue_when_ready(QUEUE, PUBLISHED).await;
    let report = collect_until(&rabbit, Duration::from_secs(15), |r| {
        !r.series_of(None, "queue_messages_ready", &queue_labels(QUEUE))
            .is_empty()
    })
    .await;
    let ready = report.exact_value(None, "queue_messages_ready", &queue_labels(QUEUE));
    assert_eq!(Some(ready), said["messages_ready"].as_f64(), "{said:#}");
    assert_eq!(ready, PUBLISHED as f64);
    let consumers = report.exact_value(None, "queue_consumers", &queue_labels(QUEUE));
    assert_eq!(Some(consumers), said["consumers"].as_f64());
    assert_eq!(consumers, 0.0);
    let unacked = report.exact_value(None, "queue_messages_unacknowledged", &queue_labels(QUEUE));
    assert_eq!(Some(unacked), said["messages_unacknowledged"].as_f64());
    // Under the default threshold (1000), a queue with no consumer is no problem.
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    readme_lists_every_metric_with_its_kind_and_unit(&report);

    commands_show_the_tables(&node, &rabbit).await;
    a_backlog_over_the_threshold_degrades(&endpoints).await;
    only_the_largest_queues_are_reported(&node, &endpoints).await;
    a_wrong_password_is_refused_without_showing_it(&endpoints).await;
    alarms_make_it_unhealthy(&node, &rabbit).await;

    node.stop();
    let err = try_collect(&rabbit).await.unwrap_err();
    assert!(err.starts_with("no endpoint could be read: "), "{err}");
    assert!(err.contains(&node.api_url), "{err}");
    assert!(err.to_lowercase().contains("connection refused"), "{err}");
}

/// The node's figures are what `/api/nodes/NAME` says (those that do not move on their own).
async fn node_figures_are_the_apis(node: &RabbitNode, report: &Report) {
    let said = node.get_json(&format!("/api/nodes/{}", node.name)).await;
    let n = report.node_by_id(&node.name);
    assert_eq!(report.status_of(n), dbmon_connector_api::NodeStatus::Live);
    assert_eq!(report.address_of(n), Some(node.api_url.as_str()));
    for (metric, field) in [
        ("mem_limit_bytes", "mem_limit"),
        ("disk_free_limit_bytes", "disk_free_limit"),
        ("fd_total", "fd_total"),
        ("sockets_total", "sockets_total"),
        ("proc_total", "proc_total"),
    ] {
        assert_eq!(
            report.node_value_of(&node.name, metric),
            said[field].as_f64(),
            "{metric}: {said:#}"
        );
    }
    assert_eq!(report.node_value_of(&node.name, "running"), Some(1.0));
    assert_eq!(report.node_value_of(&node.name, "mem_alarm"), Some(0.0));
    assert_eq!(report.node_value_of(&node.name, "partitions"), Some(0.0));
    let used = report.node_value_of(&node.name, "mem_used_bytes").unwrap();
    let limit = said["mem_limit"].as_f64().unwrap();
    let percent = report
        .node_value_of(&node.name, "mem_used_percent")
        .unwrap();
    assert!((percent - used * 100.0 / limit).abs() < 1e-9, "{percent}");
    assert_eq!(report.expect_value("nodes"), 1.0);
    assert_eq!(report.expect_value("nodes_running"), 1.0);
    assert_eq!(report.expect_value("alarms"), 0.0);

    let overview = node.get_json("/api/overview").await;
    let labels: Vec<(&str, &str)> = report.labels().collect();
    assert!(
        labels.contains(&("version", overview["rabbitmq_version"].as_str().unwrap())),
        "{labels:?}"
    );
    assert!(
        labels.contains(&("cluster_name", overview["cluster_name"].as_str().unwrap())),
        "{labels:?}"
    );
    for (metric, field) in [("connections", "connections"), ("exchanges", "exchanges")] {
        assert_eq!(
            Some(report.expect_value(metric)),
            overview["object_totals"][field].as_f64(),
            "{metric}"
        );
    }
}

/// A threshold under the backlog turns the verdict, naming the queue and the count; at the
/// backlog itself it does not (the rule is "over").
async fn a_backlog_over_the_threshold_degrades(endpoints: &[String]) {
    let strict = |threshold| {
        let options = Options {
            ready_without_consumers_degraded: threshold,
            ..Options::default()
        };
        connector(options, endpoints)
    };
    let report = collect(&strict(PUBLISHED - 2)).await;
    assert_eq!(report.status(), Status::Degraded, "{report:#?}");
    let reason = format!(
        "queue '{QUEUE}' in vhost '/' has {PUBLISHED} messages ready and no consumer \
         (ready_without_consumers_degraded is {})",
        PUBLISHED - 2
    );
    assert_eq!(report.reasons().collect::<Vec<_>>(), [reason.as_str()]);
    let report = collect(&strict(PUBLISHED)).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
}

/// With `max_queues: 2`, the two queues with the most messages are reported, and
/// `queues_not_reported` counts the rest, as `/api/queues` counts them.
async fn only_the_largest_queues_are_reported(node: &RabbitNode, endpoints: &[String]) {
    for (name, n) in [("dbmon-small", 1), ("dbmon-medium", 3), ("dbmon-empty", 0)] {
        node.declare_queue(name).await;
        node.publish(name, n).await;
        node.queue_when_ready(name, n as u64).await;
    }
    let options = Options {
        max_queues: 2,
        ..Options::default()
    };
    let report = collect(&connector(options, endpoints)).await;
    let total = node.get_json("/api/queues?page=1&page_size=1").await["total_count"]
        .as_f64()
        .unwrap();
    assert_eq!(total, 4.0);
    assert_eq!(report.expect_value("queues_not_reported"), total - 2.0);
    let mut reported: Vec<String> = report
        .series_of(None, "queue_messages", &[])
        .iter()
        .map(|s| {
            let queue = s.labels().find(|(k, _)| *k == "queue").unwrap().1;
            format!("{queue}={}", s.value())
        })
        .collect();
    reported.sort();
    assert_eq!(
        reported,
        [format!("{QUEUE}={PUBLISHED}"), "dbmon-medium=3".into()]
    );
}

async fn a_wrong_password_is_refused_without_showing_it(endpoints: &[String]) {
    let wrong = build(
        Options::default(),
        endpoints,
        Some((MONITOR_USER, "not-the-Password-9")),
    )
    .unwrap();
    let err = try_collect(&wrong).await.unwrap_err();
    assert!(err.contains("HTTP 401"), "{err}");
    assert!(err.contains(&format!("user '{MONITOR_USER}'")), "{err}");
    assert!(!err.contains("not-the-Password-9"), "{err}");
}

/// A memory alarm, then a disk alarm, each set with rabbitmqctl and cleared again.
async fn alarms_make_it_unhealthy(node: &RabbitNode, rabbit: &dbmon_connector_rabbitmq::RabbitMq) {
    let within = Duration::from_secs(40);
    node.ctl(&["set_vm_memory_high_watermark", "0.0000001"]);
    let report = collect_until(rabbit, within, |r| r.status() == Status::Unhealthy).await;
    let check = node.call_alarms().await;
    assert!(check.contains(r#""resource":"memory""#), "{check}");
    let memory = format!("memory alarm on node {}", node.name);
    assert!(
        report.has_reason(&[&memory, "blocks every publishing connection"]),
        "{report:#?}"
    );
    assert_eq!(report.expect_value("alarms"), 1.0);
    node.ctl(&["set_vm_memory_high_watermark", "0.4"]);
    collect_until(rabbit, within, |r| r.status() == Status::Healthy).await;

    node.ctl(&["set_disk_free_limit", "100000GB"]);
    let report = collect_until(rabbit, within, |r| r.status() == Status::Unhealthy).await;
    let disk = format!("disk alarm on node {}", node.name);
    assert!(report.has_reason(&[&disk]), "{report:#?}");
    node.ctl(&["set_disk_free_limit", "50MB"]);
    let report = collect_until(rabbit, within, |r| {
        r.status() == Status::Healthy && r.node_value_of(&node.name, "disk_free_alarm") == Some(0.0)
    })
    .await;
    assert_eq!(report.expect_value("alarms"), 0.0);
}

fn readme_lists_every_metric_with_its_kind_and_unit(report: &Report) {
    let dir = ConnectorDir::new(env!("CARGO_MANIFEST_DIR"));
    dir.readme_metrics().assert_lists_exactly(report);
    let checked = ReadmeKinds::read(&dir).check(report);
    assert!(checked.unseen_cluster.is_empty(), "{checked:?}");
    assert!(checked.unseen_node.is_empty(), "{checked:?}");
    assert!(report.series().all(|s| s.kind() != MetricKind::Unknown));
}

/// `dbmon run CLUSTER queues` and `nodes`, as the host would call them.
async fn commands_show_the_tables(node: &RabbitNode, rabbit: &dbmon_connector_rabbitmq::RabbitMq) {
    let ctx = dbmon_test_support::collect::context(common::TIMEOUT);
    let ctx = &ctx;
    let run = |command: &'static str, args: Vec<String>| async move {
        rabbit
            .run_command(command, &args, ctx)
            .await
            .map_err(|e| e.to_string())
    };
    let queues = run("queues", vec![]).await.unwrap();
    let lines: Vec<&str> = queues.lines().collect();
    assert!(lines[0].starts_with("VHOST  QUEUE"), "{queues}");
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        row,
        [
            "/",
            QUEUE,
            "7",
            "7",
            "0",
            "0",
            "running",
            node.name.as_str()
        ],
        "{queues}"
    );
    let nodes = run("nodes", vec![]).await.unwrap();
    let row: Vec<&str> = nodes.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        &row[..3],
        [node.name.as_str(), "live", node.api_url.as_str()],
        "{nodes}"
    );
    // No alarm, no partition.
    assert_eq!(&row[row.len() - 2..], ["-", "-"], "{nodes}");
    let err = run("queues", vec!["extra".into()]).await.unwrap_err();
    assert!(
        err.contains("queues takes no arguments; got extra"),
        "{err}"
    );
    assert!(run("purge", vec![]).await.is_err());
}
