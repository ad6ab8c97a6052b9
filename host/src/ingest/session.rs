//! One collector session's reading side: stores its reports (a resent one is acknowledged,
//! not stored again), acknowledges each once it is stored, and hands command results to the
//! registry.

use super::{
    registry::{Collectors, Outbox},
    wire,
};
use crate::{
    names::quote,
    store::{ClusterSlot, Collection, Origin, Store, StoreError},
};
use dbmon_proto::ingest;
use futures::stream::FuturesUnordered;
use std::{
    collections::{HashMap, HashSet, VecDeque},
    future::Future,
    pin::Pin,
    sync::{Arc, atomic::Ordering},
};
use tokio::sync::oneshot;
use tokio_stream::StreamExt;
use tonic::{Status, Streaming};

/// Reports of one session being stored or waiting at once: each cluster's in order, the
/// clusters side by side (so that the file store commits many in one write).
const IN_FLIGHT: usize = 64;

/// One session's reading side: stores reports and answers them.
pub(super) struct SessionTask {
    pub(super) store: Arc<Store>,
    pub(super) collectors: Arc<Collectors>,
    pub(super) collector: Arc<str>,
    pub(super) incarnation: u64,
    /// The clusters it collected in this session (the Hello's, and each ClusterSet's).
    pub(super) clusters: std::sync::Mutex<HashSet<String>>,
    /// Whether its clusters move between collectors (it may take one over).
    pub(super) coordinated: bool,
    pub(super) outbox: Outbox,
}

type Storing = Pin<Box<dyn Future<Output = (String, Result<(), Status>)> + Send>>;

impl SessionTask {
    pub(super) async fn run(
        self,
        mut inbound: Streaming<ingest::CollectorMessage>,
        number: u64,
        mut replaced: oneshot::Receiver<()>,
    ) {
        let this = Arc::new(self);
        let mut storing: FuturesUnordered<Storing> = FuturesUnordered::new();
        // Clusters with a report being stored, and their reports waiting behind it.
        let mut waiting: HashMap<String, VecDeque<ingest::PushedReport>> = HashMap::new();
        let mut queued = 0;
        let why = loop {
            let room = storing.len() + queued < IN_FLIGHT;
            let result = tokio::select! {
                message = inbound.next(), if room => match message {
                    None => break "it closed the stream".to_string(),
                    Some(Err(e)) => break format!("the stream broke: {}", e.message()),
                    Some(Ok(m)) => this.take(m, &mut waiting, &mut queued, &mut storing),
                },
                Some((cluster, stored)) = storing.next(), if !storing.is_empty() => {
                    // After a store error the cluster's next report must not be stored (and
                    // acknowledged) ahead of the one that failed: the session ends below and
                    // the collector sends both again, in order.
                    let next = match stored {
                        Ok(()) => waiting.get_mut(&cluster).and_then(VecDeque::pop_front),
                        Err(_) => None,
                    };
                    match next {
                        Some(next) => {
                            queued -= 1;
                            storing.push(Box::pin(Arc::clone(&this).store(cluster, next)));
                        }
                        None => {
                            waiting.remove(&cluster);
                        }
                    }
                    stored
                }
                _ = &mut replaced => break "replaced by a newer session".to_string(),
            };
            if let Err(status) = result {
                let why = format!("ended the session: {}", status.message());
                let _ = this.outbox.send(Err(status)).await;
                break why;
            }
        };
        // Stores already begun finish (a store is not cancelled halfway); their reports are
        // kept, and the collector, which missed their acknowledgements, sends them again.
        while storing.next().await.is_some() {}
        this.collectors.close(&this.collector, number);
        tracing::info!(collector = %this.collector, "collector disconnected: {why}");
    }

    /// One message from the collector: a report starts being stored (or waits behind its
    /// cluster's), a command result goes to the client waiting for it.
    fn take(
        self: &Arc<Self>,
        message: ingest::CollectorMessage,
        waiting: &mut HashMap<String, VecDeque<ingest::PushedReport>>,
        queued: &mut usize,
        storing: &mut FuturesUnordered<Storing>,
    ) -> Result<(), Status> {
        use ingest::collector_message::Message;
        match message.message {
            Some(Message::Report(pushed)) => {
                let cluster = self.cluster_of(&pushed)?;
                match waiting.get_mut(&cluster) {
                    Some(queue) => {
                        queue.push_back(pushed);
                        *queued += 1;
                    }
                    None => {
                        waiting.insert(cluster.clone(), VecDeque::new());
                        storing.push(Box::pin(Arc::clone(self).store(cluster, pushed)));
                    }
                }
                Ok(())
            }
            Some(Message::CommandResult(result)) => {
                self.collectors.answered(&self.collector, result);
                Ok(())
            }
            Some(Message::Clusters(set)) => self.take_clusters(set),
            Some(Message::Share(share)) => {
                self.collectors.share(&self.collector, share);
                Ok(())
            }
            Some(Message::Hello(_)) => {
                Err(Status::invalid_argument("a second Hello in one session"))
            }
            None => Ok(()),
        }
    }

    /// The collector's clusters changed: new ones get a slot. Reports of those it gave up are
    /// still taken (made before it stopped them, they are history all the same).
    fn take_clusters(&self, set: ingest::ClusterSet) -> Result<(), Status> {
        super::server::check_clusters(&set.clusters)?;
        for cluster in &set.clusters {
            self.store.add_cluster(super::server::info(cluster));
        }
        self.collectors
            .reclaim(&self.collector, &set.clusters, self.coordinated)?;
        let ids = set.clusters.iter().map(|c| c.id.clone());
        self.clusters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(ids);
        tracing::info!(collector = %self.collector, "collects {} clusters now", set.clusters.len());
        Ok(())
    }

    /// The cluster of a pushed report, which the Hello must have listed.
    fn cluster_of(&self, pushed: &ingest::PushedReport) -> Result<String, Status> {
        let Some(report) = &pushed.report else {
            return Err(Status::invalid_argument(
                "a PushedReport without its report",
            ));
        };
        let listed = self
            .clusters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&report.cluster_id);
        if !listed {
            return Err(Status::invalid_argument(format!(
                "a report of cluster {}, which the Hello did not list",
                quote(&report.cluster_id)
            )));
        }
        Ok(report.cluster_id.clone())
    }

    /// Stores a pushed report unless it was stored before, and acknowledges it.
    async fn store(
        self: Arc<Self>,
        cluster: String,
        pushed: ingest::PushedReport,
    ) -> (String, Result<(), Status>) {
        let result = self.store_report(&cluster, pushed).await;
        (cluster, result)
    }

    async fn store_report(
        &self,
        cluster: &str,
        mut pushed: ingest::PushedReport,
    ) -> Result<(), Status> {
        let report = pushed.report.take().expect("checked by cluster_of");
        let slot = self
            .store
            .cluster(cluster)
            .expect("every cluster of the Hello has a slot");
        let mut fresh = self.is_new(&slot, pushed.sequence);
        if fresh {
            let read = wire::pushed(report).map_err(|e| {
                Status::invalid_argument(format!("report {} of {}: {e}", pushed.sequence, cluster))
            })?;
            let collection = Collection {
                sequence: slot.last_sequence() + 1,
                started_at: read.started_at,
                duration: read.duration,
                outcome: read.outcome,
                origin: Some(Origin {
                    collector: Arc::clone(&self.collector),
                    incarnation: self.incarnation,
                    sequence: pushed.sequence,
                }),
            };
            match slot.record(collection).await {
                Ok(_) => copy_stats(&slot, pushed.stats.unwrap_or_default()),
                // The shared store has it (another server stored it before a failover).
                Err(StoreError::Duplicate { .. }) => fresh = false,
                Err(e) => {
                    // Not acknowledged: the collector keeps it and sends it again.
                    tracing::error!(collector = %self.collector, cluster, "cannot store a pushed report: {e}");
                    return Err(Status::unavailable(format!(
                        "the server cannot store reports: {e}"
                    )));
                }
            }
        }
        self.collectors
            .pushed(&self.collector, cluster, &pushed, fresh);
        let ack = ingest::ServerMessage {
            message: Some(ingest::server_message::Message::Ack(ingest::Ack {
                cluster_id: cluster.to_string(),
                sequence: pushed.sequence,
            })),
        };
        self.outbox
            .send(Ok(ack))
            .await
            .map_err(|_| Status::cancelled("the collector's connection is gone"))
    }

    /// Whether `sequence` of this collector's incarnation is newer than what the cluster holds.
    fn is_new(&self, slot: &ClusterSlot, sequence: u64) -> bool {
        let latest = slot.latest();
        let origin = latest.as_ref().and_then(|r| r.origin.as_ref());
        !origin.is_some_and(|o| {
            o.collector == self.collector
                && o.incarnation == self.incarnation
                && sequence <= o.sequence
        })
    }
}

/// The counters a collector keeps for a cluster, shown as the cluster's own.
fn copy_stats(slot: &ClusterSlot, stats: ingest::AgentStats) {
    let s = &slot.stats;
    s.collections.store(stats.collections, Ordering::Relaxed);
    s.failures.store(stats.failures, Ordering::Relaxed);
    s.timeouts.store(stats.timeouts, Ordering::Relaxed);
    s.panics.store(stats.panics, Ordering::Relaxed);
}
