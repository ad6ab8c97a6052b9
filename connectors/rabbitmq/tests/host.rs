//! End to end: the real `dbmon serve` loads the connector library and collects from a real
//! RabbitMQ node; `dbmon --json reports` shows the metrics, the node, a queue with no consumer
//! over the threshold, and then the node stopped.

mod common;

use common::rabbit::{MONITOR_PASSWORD, MONITOR_USER, RabbitNode};
use dbmon_test_support::{Host, built_library};
use serde_json::Value;
use std::time::Duration;

const QUEUE: &str = "dbmon-e2e";

fn config(node: &RabbitNode) -> String {
    format!(
        "
clusters:
  - id: rabbitmq-e2e
    connector: rabbitmq
    interval: 2s
    timeout: 2s
    endpoints: ['{}']
    auth: {{username: {MONITOR_USER}, password: {MONITOR_PASSWORD}}}
    options: {{ready_without_consumers_degraded: 2}}
",
        node.api_url
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_host_reports_the_node() {
    let mut node = RabbitNode::start().await;
    node.declare_queue(QUEUE).await;
    node.publish(QUEUE, 3).await;
    node.queue_when_ready(QUEUE, 3).await;
    let host = Host::start(&config(&node), &[built_library("dbmon_connector_rabbitmq")]);

    let series = format!("queue_messages_ready{{vhost=\"/\",queue=\"{QUEUE}\"}}");
    let report = host.report_when("rabbitmq-e2e", Duration::from_secs(30), |r| {
        r["metrics"][&series].is_number()
    });
    assert_eq!(report["connector"], "rabbitmq");
    assert_eq!(report["status"], "degraded", "{report:#}");
    let reasons = report["reasons"].as_array().unwrap();
    let expected = format!(
        "queue '{QUEUE}' in vhost '/' has 3 messages ready and no consumer \
         (ready_without_consumers_degraded is 2)"
    );
    assert_eq!(reasons, &[Value::from(expected)], "{report:#}");
    let m = &report["metrics"];
    assert_eq!(m[&series], 3.0);
    assert_eq!(m["nodes"], 1.0);
    assert_eq!(m["nodes_running"], 1.0);
    assert_eq!(m["alarms"], 0.0);
    assert!(m["connections"].is_number(), "{report:#}");
    let overview = node.get_json("/api/overview").await;
    assert_eq!(report["labels"]["version"], overview["rabbitmq_version"]);
    let nodes = report["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1, "{report:#}");
    assert_eq!(nodes[0]["id"], node.name.as_str());
    assert_eq!(nodes[0]["status"], "live");
    assert_eq!(nodes[0]["address"], node.api_url.as_str());
    assert!(
        nodes[0]["metrics"]["round_trip_ms"].is_number(),
        "{report:#}"
    );
    let text = report.to_string();
    assert!(
        !text.contains(MONITOR_PASSWORD),
        "the password is in the report"
    );
    assert!(
        !host.log().contains(MONITOR_PASSWORD),
        "the password is in the log"
    );

    node.stop();
    let gone = host.report_when("rabbitmq-e2e", Duration::from_secs(20), |r| {
        r["status"] == "unreachable"
    });
    let error = gone["error"].as_str().unwrap_or_default();
    assert!(error.contains("no endpoint could be read"), "{gone:#}");
    assert!(error.contains(&node.api_url), "{gone:#}");
}
