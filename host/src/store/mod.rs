//! Recent reports per cluster, in memory, and the feed of new reports that `Watch` streams.
//! With the file store every report is on disk before anyone can read it ([`disk`]).

mod disk;
mod history;
mod model;
mod packed;
mod redis;
mod report;
mod schemas;
mod slot;

pub use disk::{FILE_NAME, OpenError, Retention};
pub use history::{History, Next};
pub use model::{Collected, LabelDef, MetricKind, NodeDef, SchemaParts, SeriesDef, Span};
pub use redis::SharedOptions;
pub use report::{EMPTY_SCHEMA, Encoding, NodeView, Report, Schema};
pub use slot::{ClusterSlot, Collection, Origin, Outcome, Stats};

use slot::Shared;
use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime},
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
    /// The shared store holds this report already: its collector sent it again.
    #[error("cluster '{cluster}': the shared store holds this report already")]
    Duplicate {
        /// The cluster.
        cluster: Arc<str>,
    },
}

/// Where and how long a store keeps reports.
#[derive(Debug, Clone)]
pub struct Options {
    /// The file store's folder; `None`: memory only.
    pub path: Option<PathBuf>,
    /// Reports kept per cluster, and for how long.
    pub retention: Retention,
}

/// Every cluster's slot, and the feed of new reports.
#[derive(Debug)]
pub struct Store {
    clusters: RwLock<BTreeMap<Arc<str>, Arc<ClusterSlot>>>,
    retention: Retention,
    catalog: Option<Arc<disk::Catalog>>,
    shared: Arc<Shared>,
}

impl Store {
    /// A memory store for these clusters, keeping `history` reports each.
    pub fn new(clusters: impl IntoIterator<Item = ClusterInfo>, history: usize) -> Store {
        let retention = Retention {
            history,
            max_age: None,
        };
        let store = Store::empty(retention, None, None);
        for info in clusters {
            store.add_cluster(info);
        }
        store
    }

    /// The store `options` describe, for these configured clusters. The file store loads
    /// every retained report of each back into memory (reads are served from memory), and
    /// with `keep_unconfigured` also the clusters it holds that are not configured (a
    /// server's, with their persisted info); others stay on disk untouched. A folder or
    /// file that is not a store of this version is refused, never wiped. Reports older
    /// than `options.retention.max_age` are dropped from then on (needs a tokio runtime).
    pub fn open(
        options: &Options,
        clusters: impl IntoIterator<Item = ClusterInfo>,
        keep_unconfigured: bool,
    ) -> Result<Store, OpenError> {
        let retention = options.retention;
        let store = match &options.path {
            None => Store::new(clusters, retention.history),
            Some(dir) => {
                let catalog = Arc::new(disk::Catalog::open(dir)?);
                let journal = disk::Journal::start(&catalog, retention).map_err(|e| OpenError {
                    path: dir.clone(),
                    why: format!("cannot start the store's writer: {e}"),
                })?;
                let store = Store::empty(retention, Some(Arc::clone(&catalog)), Some(journal));
                for (_, schema) in catalog.schemas() {
                    store.shared.schemas.adopt(schema);
                }
                let mut infos: BTreeMap<Arc<str>, ClusterInfo> = clusters
                    .into_iter()
                    .map(|i| (Arc::clone(&i.id), i))
                    .collect();
                if keep_unconfigured {
                    for info in catalog.stored_clusters() {
                        infos
                            .entry(Arc::clone(&info.id))
                            .or_insert_with(|| info.clone());
                    }
                }
                for info in infos.into_values() {
                    store.load_cluster(info)?;
                }
                store
            }
        };
        let store = store.with_retention(retention);
        Ok(store)
    }

    /// The shared store (`store: {kind: redis}`) for these configured clusters: connects,
    /// then reads every retained report of each into memory (with `keep_unconfigured` also
    /// the other clusters the store holds, with their stored info). Call
    /// [`Store::follow_shared`] once the store is in an `Arc` to follow what other servers
    /// store. A store that cannot be reached is an error.
    pub async fn open_shared(
        options: &SharedOptions,
        retention: Retention,
        clusters: impl IntoIterator<Item = ClusterInfo>,
        keep_unconfigured: bool,
    ) -> Result<Store, OpenError> {
        let refuse = |why: String| OpenError {
            path: PathBuf::from(redis::redacted(&options.url)),
            why,
        };
        let backend = redis::Backend::connect(options, retention, keep_unconfigured)
            .await
            .map_err(|e| refuse(format!("cannot reach the shared store: {e}")))?;
        let mut store = Store::empty(retention, None, None);
        let shared = Arc::get_mut(&mut store.shared).expect("no slot yet");
        shared.redis = Some(Arc::new(backend));
        for info in clusters {
            store.add_cluster(info);
        }
        let backend = Arc::clone(store.shared.redis.as_ref().expect("set above"));
        redis::load(&store, &backend)
            .await
            .map_err(|e| refuse(format!("cannot read the shared store: {e}")))?;
        Ok(store)
    }

    /// Follows the shared store until the store is dropped (reports other servers store
    /// reach this one's history); nothing for the other stores. Needs a tokio runtime.
    pub fn follow_shared(self: &Arc<Self>) {
        redis::follow(self);
    }

    /// Changes of the shared store's availability (`Some(why)` while it does not answer);
    /// `None` for the other stores.
    pub fn shared_health(&self) -> Option<tokio::sync::watch::Receiver<Option<String>>> {
        self.shared.redis.as_ref().map(|r| r.health())
    }

    fn with_retention(self, retention: Retention) -> Store {
        Store { retention, ..self }
    }

    fn empty(
        retention: Retention,
        catalog: Option<Arc<disk::Catalog>>,
        journal: Option<disk::Journal>,
    ) -> Store {
        let (feed, _) = broadcast::channel(NOTICE_BUFFER);
        Store {
            clusters: RwLock::default(),
            retention,
            catalog,
            shared: Arc::new(Shared {
                schemas: schemas::SchemaPool::default(),
                feed,
                published: AtomicU64::new(0),
                encoded_bytes: Arc::new(AtomicUsize::new(0)),
                journal,
                redis: None,
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
        match self.load_cluster(info.clone()) {
            Ok(slot) => slot,
            Err(e) => {
                tracing::error!(
                    "cluster '{}': its stored reports are not served: {e}",
                    info.id
                );
                let last = self
                    .catalog
                    .as_ref()
                    .map_or(0, |c| c.last_sequence(&info.id));
                self.insert(info, History::new(self.retention.history), last)
            }
        }
    }

    /// Cluster `info.id` with a new `info` (a reload changed its schedule or endpoints): a
    /// new slot that takes over the old one's history and sequences; made now when the
    /// cluster is new. Readers look slots up by id, so they follow.
    /// With `keep_history` false (its connector changed) the new slot starts empty; its
    /// sequences still go on.
    pub fn renew_cluster(&self, info: ClusterInfo, keep_history: bool) -> Arc<ClusterSlot> {
        let Some(old) = self.cluster(&info.id) else {
            return self.add_cluster(info);
        };
        let empty = History::new(self.retention.history);
        let history = if keep_history {
            old.take_history(empty)
        } else {
            empty
        };
        let slot = Arc::new(ClusterSlot::new(
            info,
            history,
            old.last_sequence(),
            Arc::clone(&self.shared),
        ));
        let mut clusters = self.clusters.write().unwrap_or_else(|p| p.into_inner());
        clusters.insert(Arc::clone(&slot.info.id), Arc::clone(&slot));
        slot
    }

    /// The slot of `info.id`, its history read from disk when the file store has one.
    fn load_cluster(&self, info: ClusterInfo) -> Result<Arc<ClusterSlot>, OpenError> {
        if let Some(slot) = self.cluster(&info.id) {
            return Ok(slot);
        }
        let (history, last) = match &self.catalog {
            None => (History::new(self.retention.history), 0),
            Some(catalog) => {
                let history = catalog.load(&info, self.retention, &self.shared.encoded_bytes)?;
                (history, catalog.last_sequence(&info.id))
            }
        };
        Ok(self.insert(info, history, last))
    }

    fn insert(&self, info: ClusterInfo, history: History, last: u64) -> Arc<ClusterSlot> {
        let mut clusters = self.clusters.write().unwrap_or_else(|p| p.into_inner());
        let slot = clusters.entry(Arc::clone(&info.id)).or_insert_with(|| {
            Arc::new(ClusterSlot::new(
                info,
                history,
                last,
                Arc::clone(&self.shared),
            ))
        });
        Arc::clone(slot)
    }

    /// Drops what is older than `retention.max_age`, in memory and on disk, every so
    /// often until the store is dropped; nothing when no age is set. Runs in its own task:
    /// a collection never waits for it (the writer trims in the batch it commits anyway).
    pub fn expire_by_age(self: &Arc<Self>) {
        let Some(age) = self.retention.max_age else {
            return;
        };
        let every = (age / 10).clamp(Duration::from_millis(100), Duration::from_secs(60));
        let store = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(store) = store.upgrade() else { break };
                let Some(cutoff) = store.retention.cutoff(SystemTime::now()) else {
                    break;
                };
                let slots = store.clusters();
                for slot in &slots {
                    slot.expire(cutoff);
                }
                if let Some(journal) = &store.shared.journal {
                    journal
                        .expire(slots.iter().map(|s| Arc::clone(&s.info.id)).collect())
                        .await;
                }
            }
        });
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
