//! Recent reports per cluster, in memory, and the feed of new reports that `Watch` streams.
//! With the file store every report is on disk before anyone can read it ([`disk`]).

mod disk;
mod history;
mod model;
mod packed;
mod report;
mod schemas;
mod slot;

pub use history::{History, Next};
pub use model::{Collected, LabelDef, MetricKind, NodeDef, SchemaParts, SeriesDef, Span};
pub use report::{EMPTY_SCHEMA, Encoding, NodeView, Report, Schema};
pub use slot::{ClusterSlot, Collection, Origin, Outcome, Stats};

use slot::Shared;
use std::{
    collections::BTreeMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};
use tokio::sync::broadcast;

/// Notices of new reports kept for watchers that have not read them yet. A notice is a few
/// bytes (the report stays in the history); a watcher that misses some rescans its clusters.
const NOTICE_BUFFER: usize = 4096;

/// A new report was stored.
#[derive(Debug, Clone)]
pub struct Notice {
    /// Its cluster.
    pub cluster: Arc<str>,
    /// Its sequence.
    pub sequence: u64,
    /// About what it takes on the wire.
    pub wire_bytes: usize,
}

/// What a configured cluster is, for clients.
#[derive(Debug, Clone)]
pub struct ClusterInfo {
    /// Cluster id.
    pub id: Arc<str>,
    /// Connector name.
    pub connector: Arc<str>,
    /// Configured endpoints.
    pub endpoints: Vec<String>,
    /// Time between collections.
    pub interval: Duration,
    /// Time one collection may take.
    pub timeout: Duration,
}

/// Why a report was not recorded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// Its sequence is not above the cluster's last one.
    #[error("cluster '{cluster}': sequence {sequence} is not above the last one recorded, {last}")]
    Stale {
        /// The cluster.
        cluster: Arc<str>,
        /// The sequence refused.
        sequence: u64,
        /// The cluster's last sequence.
        last: u64,
    },
    /// The file store could not write it.
    #[error("the report store could not write: {0}")]
    Write(String),
    /// The file store's writer has stopped.
    #[error("the report store is closed")]
    Closed,
}

/// Every cluster's slot, and the feed of new reports.
#[derive(Debug)]
pub struct Store {
    clusters: RwLock<BTreeMap<Arc<str>, Arc<ClusterSlot>>>,
    history: usize,
    shared: Arc<Shared>,
}

impl Store {
    /// A memory store for these clusters, keeping `history` reports each.
    pub fn new(clusters: impl IntoIterator<Item = ClusterInfo>, history: usize) -> Store {
        let store = Store::empty(history, None);
        for info in clusters {
            store.add_cluster(info);
        }
        store
    }

    fn empty(history: usize, journal: Option<disk::Journal>) -> Store {
        let (feed, _) = broadcast::channel(NOTICE_BUFFER);
        Store {
            clusters: RwLock::default(),
            history,
            shared: Arc::new(Shared {
                schemas: schemas::SchemaPool::default(),
                feed,
                published: AtomicU64::new(0),
                encoded_bytes: Arc::new(AtomicUsize::new(0)),
                journal,
            }),
        }
    }

    /// The slot of cluster `info.id`, made now unless it exists (then its `info` stays as
    /// it is). Any task may add clusters while the host runs; watchers of every cluster
    /// stream the new one's reports.
    pub fn add_cluster(&self, info: ClusterInfo) -> Arc<ClusterSlot> {
        if let Some(slot) = self.cluster(&info.id) {
            return slot;
        }
        let mut clusters = self.clusters.write().unwrap_or_else(|p| p.into_inner());
        let slot = clusters.entry(Arc::clone(&info.id)).or_insert_with(|| {
            let history = History::new(self.history);
            Arc::new(ClusterSlot::new(info, history, 0, Arc::clone(&self.shared)))
        });
        Arc::clone(slot)
    }

    /// The slot of cluster `id`.
    pub fn cluster(&self, id: &str) -> Option<Arc<ClusterSlot>> {
        let clusters = self.clusters.read().unwrap_or_else(|p| p.into_inner());
        clusters.get(id).cloned()
    }

    /// Every slot now, by id.
    pub fn clusters(&self) -> Vec<Arc<ClusterSlot>> {
        let clusters = self.clusters.read().unwrap_or_else(|p| p.into_inner());
        clusters.values().cloned().collect()
    }

    /// Reports stored since the start, over all clusters.
    pub fn published(&self) -> u64 {
        self.shared.published.load(Ordering::Acquire)
    }

    /// Bytes of the wire encodings stored reports keep ([`Encoding`]).
    pub fn encoded_bytes(&self) -> usize {
        self.shared.encoded_bytes.load(Ordering::Acquire)
    }

    /// Notices of new reports from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.shared.feed.subscribe()
    }
}

#[cfg(test)]
mod tests;
