//! What nats-server's monitoring endpoint answers: the fields of `/varz`, `/routez`, `/connz`,
//! `/jsz` and `/healthz` the connector reads. Every field defaults, unknown ones are ignored, so
//! that older and newer servers parse alike.

use serde::{Deserialize, de::DeserializeOwned};

/// `GET /varz`: the server's identity, configuration and counters.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Varz {
    /// The server's public key, as routes name their remote (`remote_id`).
    pub server_id: String,
    /// `server_name:` (`-n`); the server id when none is configured.
    pub server_name: String,
    /// `2.9.10`.
    pub version: String,
    /// The cluster block: name, route port, configured routes.
    pub cluster: ClusterOpts,
    /// The JetStream block; empty without JetStream.
    pub jetstream: VarzJetStream,
    /// `start` (RFC 3339).
    pub start: String,
    /// `now`, when the server wrote the answer (RFC 3339).
    pub now: String,
    /// Resident memory of the process, in bytes.
    pub mem: u64,
    /// CPU use of the process, in percent of one core.
    pub cpu: f64,
    /// Client connections now.
    pub connections: u64,
    /// Client connections since the server started.
    pub total_connections: u64,
    /// Routes to other servers of the cluster now.
    pub routes: u64,
    /// Leaf node connections now.
    pub leafnodes: u64,
    /// Messages received (from clients, routes, leaf nodes, ...).
    pub in_msgs: u64,
    /// Messages sent.
    pub out_msgs: u64,
    /// Bytes of messages received.
    pub in_bytes: u64,
    /// Bytes of messages sent.
    pub out_bytes: u64,
    /// Connections closed because they did not read fast enough, since the server started.
    pub slow_consumers: u64,
    /// Subscriptions now.
    pub subscriptions: u64,
}

/// `/varz`'s `cluster`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ClusterOpts {
    /// `--cluster_name`; empty when the server is not clustered.
    pub name: String,
    /// The route port; 0 when the server is not clustered.
    pub cluster_port: u16,
    /// The configured routes (`--routes`, `cluster.routes`), as `host:port`.
    pub urls: Vec<String>,
}

/// `/varz`'s `jetstream`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct VarzJetStream {
    /// The JetStream configuration; absent when JetStream is not running.
    pub config: Option<serde_json::Value>,
}

/// `GET /routez`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Routez {
    /// Each route.
    pub routes: Vec<Route>,
}

/// One route of `/routez`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Route {
    /// The server id of the other end.
    pub remote_id: String,
    /// Round-trip time, as a Go duration (`1.77922ms`, `274µs`).
    pub rtt: String,
    /// Bytes waiting to be written to the route.
    pub pending_size: u64,
}

/// `GET /connz?sort=pending&limit=1`: the count, and the connection with most bytes pending.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Connz {
    /// Client connections now.
    pub num_connections: u64,
    /// At most one connection, the one with most bytes pending.
    pub connections: Vec<Connection>,
}

/// One connection of `/connz`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Connection {
    /// Bytes waiting to be written to the client.
    pub pending_bytes: u64,
}

/// `GET /healthz`: `{"status":"ok"}`, or `{"status":"unavailable","error":"..."}` with 503.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Healthz {
    /// `ok` when healthy.
    pub status: String,
    /// Why not.
    pub error: String,
}

/// `GET /jsz?accounts=true&streams=true&consumers=true`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Jsz {
    /// Set when JetStream is not enabled on the server.
    pub disabled: bool,
    /// Bytes of memory storage in use.
    pub memory: u64,
    /// Bytes of file storage in use.
    pub storage: u64,
    /// Streams the server holds.
    pub streams: u64,
    /// Consumers the server holds.
    pub consumers: u64,
    /// Messages in those streams.
    pub messages: u64,
    /// JetStream API calls.
    pub api: Api,
    /// The meta group (absent on a server that is not clustered).
    pub meta_cluster: Option<MetaCluster>,
    /// Per account, the streams and consumers the server holds.
    pub account_details: Vec<AccountDetail>,
}

/// `/jsz`'s `api`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default)]
pub struct Api {
    /// Calls since the server started.
    pub total: u64,
    /// Calls that failed.
    pub errors: u64,
}

/// `/jsz`'s `meta_cluster`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MetaCluster {
    /// The meta leader's server name; empty when there is none.
    pub leader: String,
    /// Servers in the meta group.
    pub cluster_size: u64,
}

/// One account of `/jsz`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AccountDetail {
    /// Its name (`$G` without accounts).
    pub name: String,
    /// Its streams held by the server.
    pub stream_detail: Vec<StreamDetail>,
}

/// One stream of `/jsz`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StreamDetail {
    /// Its name.
    pub name: String,
    /// Its raft group; absent for a stream of a server that is not clustered.
    pub cluster: Option<AssetCluster>,
    /// Messages, bytes, consumers.
    pub state: StreamState,
    /// Its consumers held by the server.
    pub consumer_detail: Vec<ConsumerDetail>,
}

/// A stream's or consumer's raft group.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AssetCluster {
    /// The leader's server name; empty when there is none.
    pub leader: String,
}

/// A stream's state.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default)]
pub struct StreamState {
    /// Messages stored.
    pub messages: u64,
    /// Bytes stored.
    pub bytes: u64,
    /// Consumers.
    pub consumer_count: u64,
}

/// One consumer of `/jsz`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ConsumerDetail {
    /// Its name (the durable name for durables).
    pub name: String,
    /// Its raft group.
    pub cluster: Option<AssetCluster>,
    /// Messages of the stream it has not delivered yet: its lag.
    pub num_pending: u64,
    /// Messages delivered and not acknowledged yet.
    pub num_ack_pending: u64,
    /// Messages delivered more than once.
    pub num_redelivered: u64,
    /// Pull requests waiting.
    pub num_waiting: u64,
}

/// Parses an answer; the error names the JSON problem and where.
pub fn parse<T: DeserializeOwned>(body: &str) -> Result<T, String> {
    serde_json::from_str(body).map_err(|e| {
        let excerpt: String = body.trim_start().chars().take(60).collect();
        format!("not nats-server's JSON ({e}); the answer starts {excerpt:?}")
    })
}

/// A Go duration as `/routez` writes it (`1.5ms`, `274µs`, `2s`, `1m2.5s`, `0s`), in ms.
pub fn go_duration_ms(text: &str) -> Option<f64> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let ms = match &rest[..unit_end] {
            "ns" => 1e-6,
            "us" | "µs" | "μs" => 1e-3,
            "ms" => 1.0,
            "s" => 1e3,
            "m" => 60e3,
            "h" => 3600e3,
            _ => return None,
        };
        total += number * ms;
        rest = &rest[unit_end..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_read_in_ms() {
        assert_eq!(go_duration_ms("1.5ms"), Some(1.5));
        assert_eq!(go_duration_ms("274µs"), Some(0.274));
        assert_eq!(go_duration_ms("0s"), Some(0.0));
        assert_eq!(go_duration_ms("1m2.5s"), Some(62_500.0));
        assert_eq!(go_duration_ms("12ns"), Some(12e-6));
        assert_eq!(go_duration_ms(""), None);
        assert_eq!(go_duration_ms("fast"), None);
    }

    #[test]
    fn a_disabled_jetstream_parses() {
        let jsz: Jsz = parse(r#"{"server_id":"X","disabled":true,"config":{}}"#).unwrap();
        assert!(jsz.disabled);
        assert!(jsz.meta_cluster.is_none());
    }

    #[test]
    fn reserved_figures_past_u64_do_not_matter() {
        let jsz: Jsz =
            parse(r#"{"account_details":[{"name":"$G","reserved_memory":18446744073709551615}]}"#)
                .unwrap();
        assert_eq!(jsz.account_details[0].name, "$G");
    }
}
