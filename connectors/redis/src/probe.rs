//! One survey of a cluster: every listed endpoint is asked at once for `INFO` (and, in a Redis
//! Cluster, `CLUSTER INFO` and `CLUSTER NODES`); each node a cluster view names that was not
//! asked yet is asked for `INFO` as soon as the view arrives. Every request ends by the
//! deadline, so the survey does too.

use crate::{
    cluster::{self, ClusterInfo, ClusterNode},
    conn::Pool,
    info::{self, ServerInfo},
    options::{Endpoint, address},
};
use futures::{StreamExt, stream::FuturesUnordered};
use std::{collections::HashSet, time::Instant};
use tokio::sync::Semaphore;

/// Nodes asked at the same time; the others wait their turn (still within the deadline), so a
/// large cluster does not open hundreds of connections at once.
const CONCURRENT_PROBES: usize = 64;

/// The cluster as one node sees it.
#[derive(Debug, Clone)]
pub struct ClusterView {
    /// `CLUSTER INFO`.
    pub info: ClusterInfo,
    /// `CLUSTER NODES`.
    pub nodes: Vec<ClusterNode>,
}

impl ClusterView {
    /// The line of the node that answered.
    pub fn myself(&self) -> Option<&ClusterNode> {
        self.nodes.iter().find(|n| n.is_myself())
    }
}

/// What a node answered.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Its `INFO`.
    pub info: ServerInfo,
    /// Time `INFO` took, connecting included when there was no connection yet.
    pub round_trip_ms: f64,
    /// Its view of the cluster; asked of listed endpoints only.
    pub cluster: Option<ClusterView>,
}

/// One node asked.
#[derive(Debug, Clone)]
pub struct Probe {
    /// `host:port` asked.
    pub address: String,
    /// Its index in `endpoints:`, when it is listed there.
    pub listed: Option<usize>,
    /// The answer, or why there is none.
    pub outcome: Result<Answer, String>,
}

/// Asks every listed endpoint, then every node their views name.
pub async fn survey(pool: &Pool, endpoints: &[Endpoint], deadline: Instant) -> Vec<Probe> {
    let turns = Semaphore::new(CONCURRENT_PROBES);
    let mut asked: HashSet<String> = endpoints.iter().map(Endpoint::address).collect();
    let mut pending: FuturesUnordered<_> = endpoints
        .iter()
        .enumerate()
        .map(|(i, e)| probe(pool, &turns, e.host.clone(), e.port, Some(i), deadline))
        .collect();
    let mut probes = Vec::new();
    while let Some(probe) = pending.next().await {
        let view = probe.outcome.as_ref().ok().and_then(|a| a.cluster.as_ref());
        for node in view.map(|v| v.nodes.as_slice()).unwrap_or_default() {
            if node.no_address() || !asked.insert(node.address()) {
                continue;
            }
            let host = node.host.clone();
            pending.push(self::probe(pool, &turns, host, node.port, None, deadline));
        }
        probes.push(probe);
    }
    probes
}

async fn probe(
    pool: &Pool,
    turns: &Semaphore,
    host: String,
    port: u16,
    listed: Option<usize>,
    deadline: Instant,
) -> Probe {
    // The semaphore is never closed, so a permit always comes.
    let _turn = turns.acquire().await;
    let outcome = ask(pool, &host, port, listed.is_some(), deadline).await;
    Probe {
        address: address(&host, port),
        listed,
        outcome,
    }
}

async fn ask(
    pool: &Pool,
    host: &str,
    port: u16,
    with_view: bool,
    deadline: Instant,
) -> Result<Answer, String> {
    let started = Instant::now();
    let text: String = pool
        .query(host, port, &redis::cmd("INFO"), deadline)
        .await?;
    let round_trip_ms = started.elapsed().as_secs_f64() * 1e3;
    let info = info::parse(&text);
    if info.version.is_empty() {
        return Err("INFO has no redis_version: not a Redis server?".into());
    }
    let cluster = if with_view && info.cluster_enabled {
        let mut cmd = redis::cmd("CLUSTER");
        let text: String = pool.query(host, port, cmd.arg("INFO"), deadline).await?;
        let info = cluster::parse_info(&text);
        let mut cmd = redis::cmd("CLUSTER");
        let text: String = pool.query(host, port, cmd.arg("NODES"), deadline).await?;
        Some(ClusterView {
            info,
            nodes: cluster::parse_nodes(&text),
        })
    } else {
        None
    };
    Ok(Answer {
        info,
        round_trip_ms,
        cluster,
    })
}
