//! What the management API answers, as the paths below ask it (`columns=` keeps the answers
//! to the fields read here). Statistics come from the nodes' stats collectors: right after a
//! node starts, and for a queue declared a moment ago, they are missing, so every figure is
//! optional. An empty statistics object may be written as `[]`.

use serde::{Deserialize, Deserializer, de::DeserializeOwned};
use serde_json::Value;

/// What every endpoint is asked: which node answers, and the cluster's totals.
pub const OVERVIEW_PATH: &str = "/api/overview?columns=node,cluster_name,rabbitmq_version,\
erlang_version,object_totals,queue_totals,message_stats";

/// The cluster's nodes with the figures read here.
pub const NODES_PATH: &str = "/api/nodes?columns=name,type,running,partitions,mem_used,\
mem_limit,mem_alarm,disk_free,disk_free_limit,disk_free_alarm,fd_used,fd_total,sockets_used,\
sockets_total,proc_used,proc_total,uptime,run_queue";

/// Alarms in effect anywhere in the cluster (RabbitMQ 3.8.10+): 200 without, 503 with.
pub const ALARMS_PATH: &str = "/api/health/checks/alarms";

/// The first page of queues, largest by messages first, with `page_size` set by the caller.
pub fn queues_path(page_size: usize) -> String {
    format!(
        "/api/queues?page=1&page_size={page_size}&sort=messages&sort_reverse=true\
         &columns=name,vhost,node,state,messages,messages_ready,messages_unacknowledged,consumers"
    )
}

/// `GET /api/overview`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Overview {
    /// The node that answered (`rabbit@host`).
    #[serde(default)]
    pub node: String,
    /// The cluster's name (`rabbitmqctl set_cluster_name`).
    #[serde(default)]
    pub cluster_name: String,
    /// RabbitMQ version of the answering node.
    #[serde(default)]
    pub rabbitmq_version: String,
    /// Erlang/OTP version of the answering node.
    #[serde(default)]
    pub erlang_version: String,
    /// Counts of objects in the cluster.
    #[serde(default, deserialize_with = "lenient")]
    pub object_totals: ObjectTotals,
    /// Messages in all queues.
    #[serde(default, deserialize_with = "lenient")]
    pub queue_totals: QueueTotals,
    /// Cluster-wide message counters.
    #[serde(default, deserialize_with = "lenient")]
    pub message_stats: MessageStats,
}

/// `object_totals` of the overview.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ObjectTotals {
    /// Client connections.
    #[serde(default, deserialize_with = "number")]
    pub connections: Option<f64>,
    /// Channels.
    #[serde(default, deserialize_with = "number")]
    pub channels: Option<f64>,
    /// Consumers.
    #[serde(default, deserialize_with = "number")]
    pub consumers: Option<f64>,
    /// Queues.
    #[serde(default, deserialize_with = "number")]
    pub queues: Option<f64>,
    /// Exchanges.
    #[serde(default, deserialize_with = "number")]
    pub exchanges: Option<f64>,
}

/// `queue_totals` of the overview.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct QueueTotals {
    /// Ready plus unacknowledged.
    #[serde(default, deserialize_with = "number")]
    pub messages: Option<f64>,
    /// Waiting for a consumer.
    #[serde(default, deserialize_with = "number")]
    pub messages_ready: Option<f64>,
    /// Delivered, not yet acknowledged.
    #[serde(default, deserialize_with = "number")]
    pub messages_unacknowledged: Option<f64>,
}

/// `message_stats` of the overview: counters since the stats database started.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MessageStats {
    /// Messages published.
    #[serde(default, deserialize_with = "number")]
    pub publish: Option<f64>,
    /// The rate of `publish` over the last sampling window, as RabbitMQ computes it.
    #[serde(default, deserialize_with = "lenient")]
    pub publish_details: Details,
}

/// `NAME_details` of a counter.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Details {
    /// Per second.
    #[serde(default, deserialize_with = "number")]
    pub rate: Option<f64>,
}

/// One node of `GET /api/nodes`: every node of the cluster, running or not. A node that is
/// not running has its name, type and `running: false` only.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Node {
    /// `rabbit@host`.
    pub name: String,
    /// `disc` or `ram`.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// Whether the node runs.
    #[serde(default)]
    pub running: bool,
    /// The nodes this one is partitioned from (it cannot see them, they are running).
    #[serde(default)]
    pub partitions: Vec<String>,
    /// Memory in use, as RabbitMQ counts it.
    #[serde(default, deserialize_with = "number")]
    pub mem_used: Option<f64>,
    /// The memory high watermark: over it, the memory alarm goes off.
    #[serde(default, deserialize_with = "number")]
    pub mem_limit: Option<f64>,
    /// The memory alarm is in effect.
    #[serde(default)]
    pub mem_alarm: Option<bool>,
    /// Free space on the data directory's disk.
    #[serde(default, deserialize_with = "number")]
    pub disk_free: Option<f64>,
    /// Under this free space, the disk alarm goes off.
    #[serde(default, deserialize_with = "number")]
    pub disk_free_limit: Option<f64>,
    /// The disk alarm is in effect.
    #[serde(default)]
    pub disk_free_alarm: Option<bool>,
    /// File descriptors open.
    #[serde(default, deserialize_with = "number")]
    pub fd_used: Option<f64>,
    /// File descriptors allowed.
    #[serde(default, deserialize_with = "number")]
    pub fd_total: Option<f64>,
    /// Sockets open.
    #[serde(default, deserialize_with = "number")]
    pub sockets_used: Option<f64>,
    /// Sockets allowed.
    #[serde(default, deserialize_with = "number")]
    pub sockets_total: Option<f64>,
    /// Erlang processes.
    #[serde(default, deserialize_with = "number")]
    pub proc_used: Option<f64>,
    /// Erlang processes allowed.
    #[serde(default, deserialize_with = "number")]
    pub proc_total: Option<f64>,
    /// Milliseconds since the node started.
    #[serde(default, deserialize_with = "number")]
    pub uptime: Option<f64>,
    /// Erlang processes waiting to run.
    #[serde(default, deserialize_with = "number")]
    pub run_queue: Option<f64>,
}

/// A page of `GET /api/queues?page=...`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct QueuePage {
    /// The queues of the page.
    #[serde(default)]
    pub items: Vec<Queue>,
    /// Every queue the user can see.
    #[serde(default)]
    pub total_count: u64,
}

/// One queue.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Queue {
    /// Its name.
    pub name: String,
    /// Its virtual host.
    #[serde(default)]
    pub vhost: String,
    /// The node of its leader (or master).
    #[serde(default)]
    pub node: String,
    /// `running`, `idle`, `down`, `crashed`, ...; missing before its first stats.
    #[serde(default)]
    pub state: String,
    /// Ready plus unacknowledged.
    #[serde(default, deserialize_with = "number")]
    pub messages: Option<f64>,
    /// Waiting for a consumer.
    #[serde(default, deserialize_with = "number")]
    pub messages_ready: Option<f64>,
    /// Delivered, not yet acknowledged.
    #[serde(default, deserialize_with = "number")]
    pub messages_unacknowledged: Option<f64>,
    /// Consumers attached.
    #[serde(default, deserialize_with = "number")]
    pub consumers: Option<f64>,
}

/// `GET /api/health/checks/alarms`: `{"status":"ok"}`, or `failed` with the alarms.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AlarmCheck {
    /// The alarms in effect (none with `"status":"ok"`).
    #[serde(default)]
    pub alarms: Vec<Alarm>,
}

/// One alarm in effect.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Alarm {
    /// The node it is on.
    pub node: String,
    /// `memory` or `disk space`.
    pub resource: String,
}

/// An error answer: `{"error":"not_authorized","reason":"Login failed"}`.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    /// The kind of error.
    #[serde(default)]
    pub error: String,
    /// What RabbitMQ says.
    #[serde(default)]
    pub reason: String,
}

/// Parses a JSON answer, saying what was expected when it is something else.
pub fn parse<T: DeserializeOwned>(body: &str) -> Result<T, String> {
    serde_json::from_str(body).map_err(|e| {
        let excerpt: String = body.chars().take(80).collect();
        format!(
            "not the RabbitMQ management API's JSON ({e}): {:?}",
            excerpt.trim()
        )
    })
}

/// A number, or `None` for anything else (`"unknown"` file descriptors on some systems).
fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(Value::deserialize(d)?.as_f64())
}

/// An object read as `T`; anything else (`[]` for empty statistics) as `T::default()`.
fn lenient<'de, D: Deserializer<'de>, T: DeserializeOwned + Default>(d: D) -> Result<T, D::Error> {
    match Value::deserialize(d)? {
        value @ Value::Object(_) => T::deserialize(value).map_err(serde::de::Error::custom),
        _ => Ok(T::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As RabbitMQ 3.10.8 writes it a moment after starting: no statistics yet.
    #[test]
    fn a_node_without_statistics() {
        let nodes: Vec<Node> = parse(
            r#"[{"name":"rabbit@a","type":"disc","running":true,"cluster_links":[]},
                {"name":"rabbit@b","type":"disc","running":false}]"#,
        )
        .unwrap();
        assert_eq!(nodes.len(), 2);
        assert!(nodes[0].running && !nodes[1].running);
        assert_eq!((nodes[0].mem_used, nodes[0].mem_alarm), (None, None));
    }

    #[test]
    fn empty_statistics_may_be_a_list_and_odd_numbers_are_none() {
        let overview: Overview = parse(
            r#"{"node":"rabbit@a","message_stats":[],"queue_totals":{"messages":3},
                "object_totals":{"connections":2,"queues":"many"}}"#,
        )
        .unwrap();
        assert_eq!(overview.message_stats.publish, None);
        assert_eq!(overview.queue_totals.messages, Some(3.0));
        assert_eq!(overview.object_totals.connections, Some(2.0));
        assert_eq!(overview.object_totals.queues, None);
    }

    #[test]
    fn the_alarm_check_when_failed() {
        let check: AlarmCheck = parse(
            r#"{"alarms":[{"node":"rabbit@a","resource":"disk space"}],"reason":"There are alarms in effect in the cluster","status":"failed"}"#,
        )
        .unwrap();
        assert_eq!(check.alarms[0].resource, "disk space");
    }

    #[test]
    fn html_is_not_the_api() {
        let err = parse::<Overview>("<html>login</html>").unwrap_err();
        assert!(
            err.contains("not the RabbitMQ management API's JSON"),
            "{err}"
        );
    }
}
