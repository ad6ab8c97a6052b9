//! Recent reports per cluster, in memory, and the feed of new reports that `Watch` streams.

mod history;
mod model;
mod packed;
mod report;

pub use history::{History, Next};
pub use model::{Collected, LabelDef, MetricKind, NodeDef, SchemaParts, SeriesDef, Span};
pub use report::{EMPTY_SCHEMA, Encoding, NodeView, Report, Schema};

use dbmon_connector_api::Status;
use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc, Mutex, Weak,
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

/// Counters of one cluster's agent since the host started.
#[derive(Debug, Default)]
pub struct Stats {
    /// Collections made.
    pub collections: AtomicU64,
    /// Collections that returned an error (timeouts and panics included).
    pub failures: AtomicU64,
    /// Collections abandoned at their timeout.
    pub timeouts: AtomicU64,
    /// Collections that panicked inside the connector.
    pub panics: AtomicU64,
}

/// How a collection ended.
#[derive(Debug)]
pub enum Outcome {
    /// The connector returned a report (checked).
    Collected(Collected),
    /// It returned an error.
    Failed(String),
    /// It panicked (caught inside the library).
    Panicked(String),
    /// It did not finish within the timeout.
    TimedOut(Duration),
}

/// One collection, as the agent saw it.
#[derive(Debug)]
pub struct Collection {
    /// Per cluster, from 1.
    pub sequence: u64,
    /// When it started.
    pub started_at: SystemTime,
    /// How long it took.
    pub duration: Duration,
    /// What came of it.
    pub outcome: Outcome,
}

/// One cluster's slot in the store.
#[derive(Debug)]
pub struct ClusterSlot {
    /// What it is.
    pub info: ClusterInfo,
    /// Its agent's counters.
    pub stats: Stats,
    history: Mutex<History>,
    schemas: Arc<SchemaPool>,
    feed: broadcast::Sender<Notice>,
    published: Arc<AtomicU64>,
    encoded_bytes: Arc<AtomicUsize>,
}

impl ClusterSlot {
    /// Turns a collection into a report, keeps it and announces it.
    pub fn record(&self, c: Collection) -> Arc<Report> {
        let mut history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        let previous = history.latest();
        let stats = &self.stats;
        stats.collections.fetch_add(1, Ordering::Relaxed);
        let finished = c.started_at + c.duration;
        let mut report = Report {
            cluster: Arc::clone(&self.info.id),
            connector: Arc::clone(&self.info.connector),
            sequence: c.sequence,
            collected_at: c.started_at,
            duration: c.duration,
            status: Status::Unreachable,
            reasons: Vec::new(),
            error: None,
            consecutive_failures: 0,
            last_success: previous.and_then(|p| p.last_success),
            schema: Arc::clone(&EMPTY_SCHEMA),
            values: Box::default(),
            node_status: Box::default(),
            encoding: Arc::new(Encoding::new(Arc::clone(&self.encoded_bytes))),
        };
        let failure = match c.outcome {
            Outcome::Collected(collected) => {
                let Collected {
                    status,
                    reasons,
                    schema,
                    values,
                    node_status,
                } = collected;
                report.status = status;
                report.reasons = reasons;
                report.values = values;
                report.node_status = node_status;
                report.schema = self.schemas.share(schema, previous.map(|p| &p.schema));
                report.last_success = Some(finished);
                None
            }
            Outcome::Failed(e) => Some(e),
            Outcome::Panicked(e) => {
                stats.panics.fetch_add(1, Ordering::Relaxed);
                Some(e)
            }
            Outcome::TimedOut(after) => {
                stats.timeouts.fetch_add(1, Ordering::Relaxed);
                Some(format!(
                    "collection timed out after {}",
                    humantime::format_duration(after)
                ))
            }
        };
        if let Some(error) = failure {
            stats.failures.fetch_add(1, Ordering::Relaxed);
            report.consecutive_failures = previous.map_or(0, |p| p.consecutive_failures) + 1;
            report.reasons = vec![error.clone()];
            report.error = Some(error);
        }
        let report = Arc::new(report);
        history.push(Arc::clone(&report));
        drop(history);
        self.published.fetch_add(1, Ordering::Release);
        // No watcher is not an error.
        let _ = self.feed.send(Notice {
            cluster: Arc::clone(&report.cluster),
            sequence: report.sequence,
            wire_bytes: report.wire_bytes(),
        });
        report
    }

    /// The newest report.
    pub fn latest(&self) -> Option<Arc<Report>> {
        self.lock().latest().cloned()
    }

    /// Up to `limit` reports (0: all), newest first, collected after `since`.
    pub fn reports(&self, limit: usize, since: Option<SystemTime>) -> Vec<Arc<Report>> {
        self.lock().newest(limit, since)
    }

    /// The oldest stored report newer than sequence `after` (decoded after the history's
    /// lock is released, so a watcher catching up never holds up the agent).
    pub fn next_after(&self, after: u64) -> Next {
        let found = self.lock().next_after(after);
        found.decode()
    }

    /// About how many wire bytes the stored reports newer than sequence `after` take.
    pub fn wire_bytes_after(&self, after: u64) -> usize {
        self.lock().wire_bytes_after(after)
    }

    /// Reports stored.
    pub fn stored(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One copy of each distinct schema, shared by every report and cluster that has it.
#[derive(Debug, Default)]
struct SchemaPool {
    by_fingerprint: Mutex<HashMap<u64, Weak<Schema>>>,
}

impl SchemaPool {
    /// The one copy of `schema`: the previous report's when it is the same (the common case),
    /// else the pool's, else `schema` itself, which joins the pool.
    fn share(&self, schema: Schema, previous: Option<&Arc<Schema>>) -> Arc<Schema> {
        if let Some(previous) = previous.filter(|p| ***p == schema) {
            return Arc::clone(previous);
        }
        let key = schema.fingerprint();
        let mut pool = self
            .by_fingerprint
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(shared) = pool
            .get(&key)
            .and_then(Weak::upgrade)
            .filter(|s| **s == schema)
        {
            return shared;
        }
        let schema = Arc::new(schema);
        if pool.len() > 1024 {
            pool.retain(|_, w| w.strong_count() > 0);
        }
        pool.insert(key, Arc::downgrade(&schema));
        schema
    }
}

/// Every cluster's slot, and the feed of new reports.
#[derive(Debug)]
pub struct Store {
    clusters: BTreeMap<Arc<str>, Arc<ClusterSlot>>,
    feed: broadcast::Sender<Notice>,
    published: Arc<AtomicU64>,
    encoded_bytes: Arc<AtomicUsize>,
}

impl Store {
    /// A store for these clusters, keeping `history` reports each.
    pub fn new(clusters: impl IntoIterator<Item = ClusterInfo>, history: usize) -> Store {
        let (feed, _) = broadcast::channel(NOTICE_BUFFER);
        let schemas = Arc::new(SchemaPool::default());
        let published = Arc::new(AtomicU64::new(0));
        let encoded_bytes = Arc::new(AtomicUsize::new(0));
        let clusters = clusters
            .into_iter()
            .map(|info| {
                let slot = ClusterSlot {
                    info: info.clone(),
                    stats: Stats::default(),
                    history: Mutex::new(History::new(history)),
                    schemas: Arc::clone(&schemas),
                    feed: feed.clone(),
                    published: Arc::clone(&published),
                    encoded_bytes: Arc::clone(&encoded_bytes),
                };
                (info.id, Arc::new(slot))
            })
            .collect();
        Store {
            clusters,
            feed,
            published,
            encoded_bytes,
        }
    }

    /// The slot of cluster `id`.
    pub fn cluster(&self, id: &str) -> Option<&Arc<ClusterSlot>> {
        self.clusters.get(id)
    }

    /// All slots, by id.
    pub fn clusters(&self) -> impl Iterator<Item = &Arc<ClusterSlot>> {
        self.clusters.values()
    }

    /// Reports stored since the start, over all clusters.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Acquire)
    }

    /// Bytes of the wire encodings stored reports keep ([`Encoding`]).
    pub fn encoded_bytes(&self) -> usize {
        self.encoded_bytes.load(Ordering::Acquire)
    }

    /// Notices of new reports from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.feed.subscribe()
    }
}

#[cfg(test)]
mod tests;
