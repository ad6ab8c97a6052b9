//! The cluster as the answers show it: one node per endpoint, named by its server, and the
//! JetStream streams and consumers once each, as their leader (else the first server holding
//! them) reports them.

use crate::api::{ConsumerDetail, StreamState};
use crate::fetch::Probe;
use crate::history::Seen;
use std::collections::{BTreeMap, HashMap};

/// One endpoint's server.
#[derive(Debug)]
pub struct NodeView<'p> {
    /// What it answered.
    pub probe: &'p Probe,
    /// The node id: `server_name`; when it does not answer, the name it had last time, else
    /// the URL's `host:port`.
    pub id: String,
    /// What the previous collection saw at its endpoint, if it answered then.
    pub before: Option<&'p Seen>,
}

impl NodeView<'_> {
    /// `node n1 (http://10.0.0.1:8222)`.
    pub fn describe(&self) -> String {
        format!("node {} ({})", self.id, self.probe.url)
    }
}

/// A stream, once.
#[derive(Debug, Clone)]
pub struct StreamView {
    /// Its state as reported.
    pub state: StreamState,
    /// A clustered stream whose replicas name no leader: it takes no writes.
    pub leaderless: bool,
    /// Whether the report came from the leader.
    pub from_leader: bool,
}

/// A consumer, once.
#[derive(Debug, Clone)]
pub struct ConsumerView {
    /// Its figures as reported.
    pub detail: ConsumerDetail,
    /// Whether the report came from its leader.
    pub from_leader: bool,
}

/// `(account, stream)`.
pub type StreamKey = (String, String);
/// `(account, stream, consumer)`.
pub type ConsumerKey = (String, String, String);

/// Everything one collection shows.
#[derive(Debug)]
pub struct View<'p> {
    /// One per endpoint, in the order configured.
    pub nodes: Vec<NodeView<'p>>,
    /// Every stream any server holds.
    pub streams: BTreeMap<StreamKey, StreamView>,
    /// Every consumer any server holds.
    pub consumers: BTreeMap<ConsumerKey, ConsumerView>,
}

impl<'p> View<'p> {
    /// The view of `probes`, with `before` what the previous collection saw per endpoint.
    pub fn new(probes: &'p [Probe], before: &'p HashMap<String, Seen>) -> View<'p> {
        let mut nodes: Vec<NodeView> = probes
            .iter()
            .map(|probe| {
                let before = before.get(&probe.url);
                let id = match probe.varz() {
                    Some(varz) if !varz.server_name.is_empty() => varz.server_name.clone(),
                    Some(varz) => varz.server_id.clone(),
                    None => before
                        .map(|s| s.name.clone())
                        .unwrap_or_else(|| host_port(&probe.url)),
                };
                NodeView { probe, id, before }
            })
            .collect();
        // Two endpoints of one server (or two servers sharing a name) would merge as one node.
        for i in 0..nodes.len() {
            if nodes[..i].iter().any(|n| n.id == nodes[i].id) {
                nodes[i].id = host_port(&nodes[i].probe.url);
            }
        }
        let (streams, consumers) = assets(&nodes);
        View {
            nodes,
            streams,
            consumers,
        }
    }

    /// The nodes whose `/varz` answered.
    pub fn answering(&self) -> impl Iterator<Item = &NodeView<'p>> {
        self.nodes.iter().filter(|n| n.probe.varz().is_some())
    }
}

fn assets(
    nodes: &[NodeView],
) -> (
    BTreeMap<StreamKey, StreamView>,
    BTreeMap<ConsumerKey, ConsumerView>,
) {
    let mut streams: BTreeMap<StreamKey, StreamView> = BTreeMap::new();
    let mut consumers: BTreeMap<ConsumerKey, ConsumerView> = BTreeMap::new();
    for node in nodes {
        let (Some(varz), Some(jsz)) = (node.probe.varz(), node.probe.jsz()) else {
            continue;
        };
        let me = varz.server_name.as_str();
        let clustered = jsz.meta_cluster.is_some();
        for account in &jsz.account_details {
            for stream in &account.stream_detail {
                let leader = stream.cluster.as_ref().map_or("", |c| c.leader.as_str());
                let key = (account.name.clone(), stream.name.clone());
                let seen = StreamView {
                    state: stream.state,
                    leaderless: clustered && stream.cluster.is_some() && leader.is_empty(),
                    from_leader: leader.is_empty() || leader == me,
                };
                match streams.get(&key) {
                    Some(kept) if kept.from_leader || !seen.from_leader => {}
                    _ => {
                        streams.insert(key, seen);
                    }
                }
                for consumer in &stream.consumer_detail {
                    let leader = consumer.cluster.as_ref().map_or("", |c| c.leader.as_str());
                    let key = (
                        account.name.clone(),
                        stream.name.clone(),
                        consumer.name.clone(),
                    );
                    let seen = ConsumerView {
                        detail: consumer.clone(),
                        from_leader: leader.is_empty() || leader == me,
                    };
                    match consumers.get(&key) {
                        Some(kept) if kept.from_leader || !seen.from_leader => {}
                        _ => {
                            consumers.insert(key, seen);
                        }
                    }
                }
            }
        }
    }
    (streams, consumers)
}

/// `10.0.0.1:8222` of `http://10.0.0.1:8222`.
fn host_port(url: &str) -> String {
    url.split_once("://")
        .map_or(url, |(_, rest)| rest)
        .trim_end_matches('/')
        .to_string()
}
