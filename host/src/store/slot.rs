//! One cluster's slot: its history, its agent's counters, and the one way reports get in
//! ([`ClusterSlot::record`]): made durable first, published after.

use super::{
    ClusterInfo, Notice, StoreError,
    history::{History, Next},
    model::Collected,
    report::{EMPTY_SCHEMA, Encoding, Report},
    schemas::SchemaPool,
};
use dbmon_connector_api::Status;
use std::{
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime},
};
use tokio::sync::broadcast;

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

/// Where a report was made: which collector, which run of it, and its own sequence for the
/// cluster (a server tells resent reports apart with it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The collector's name.
    pub collector: Arc<str>,
    /// The collector process's run id.
    pub incarnation: u64,
    /// The collector's sequence for the cluster.
    pub sequence: u64,
}

/// One collection, as the agent saw it.
#[derive(Debug)]
pub struct Collection {
    /// Per cluster, from 1, above every sequence recorded before.
    pub sequence: u64,
    /// When it started.
    pub started_at: SystemTime,
    /// How long it took.
    pub duration: Duration,
    /// What came of it.
    pub outcome: Outcome,
    /// Which collector made it, when another process did.
    pub origin: Option<Origin>,
}

/// What every slot of a store shares.
#[derive(Debug)]
pub(super) struct Shared {
    pub schemas: SchemaPool,
    pub feed: broadcast::Sender<Notice>,
    pub published: AtomicU64,
    pub encoded_bytes: Arc<AtomicUsize>,
    pub journal: Option<super::disk::Journal>,
    /// The shared store, when reports go to Redis (then it numbers them).
    pub redis: Option<Arc<super::redis::Backend>>,
}

/// One cluster's slot in the store.
#[derive(Debug)]
pub struct ClusterSlot {
    /// What it is.
    pub info: ClusterInfo,
    /// Its agent's counters.
    pub stats: Stats,
    history: Mutex<History>,
    /// The newest sequence recorded (stays when retention drops every report).
    last_sequence: AtomicU64,
    /// One record at a time while it is written (file store only).
    turn: tokio::sync::Mutex<()>,
    /// Whether the file store has this run's `info` (written with the first report).
    info_stored: AtomicBool,
    shared: Arc<Shared>,
}

impl ClusterSlot {
    pub(super) fn new(
        info: ClusterInfo,
        history: History,
        last_sequence: u64,
        shared: Arc<Shared>,
    ) -> ClusterSlot {
        let last_sequence = history
            .latest()
            .map_or(last_sequence, |r| r.sequence.max(last_sequence));
        ClusterSlot {
            info,
            stats: Stats::default(),
            history: Mutex::new(history),
            last_sequence: AtomicU64::new(last_sequence),
            turn: tokio::sync::Mutex::new(()),
            info_stored: AtomicBool::new(false),
            shared,
        }
    }

    /// Turns a collection into a report, makes it durable (the file store: on disk; the
    /// memory store: at once) and only then keeps and announces it. On a write error nothing
    /// is published. A sequence not above every one recorded before is refused.
    pub async fn record(&self, c: Collection) -> Result<Arc<Report>, StoreError> {
        if let Some(redis) = &self.shared.redis {
            // The shared store numbers the report (other servers store this cluster too).
            return redis.record(self, c).await;
        }
        let Some(journal) = &self.shared.journal else {
            let history = self.lock();
            let report = Arc::new(self.build(c, history.latest())?);
            self.publish(history, &report);
            return Ok(report);
        };
        let _turn = self.turn.lock().await;
        let report = Arc::new(self.build(c, self.lock().latest())?);
        let info = (!self.info_stored.load(Ordering::Acquire)).then(|| self.info.clone());
        let first = info.is_some();
        journal.write(Arc::clone(&report), info).await?;
        if first {
            self.info_stored.store(true, Ordering::Release);
        }
        self.publish(self.lock(), &report);
        Ok(report)
    }

    /// Like [`ClusterSlot::record`], for tests of the memory store that run no runtime.
    #[cfg(test)]
    pub fn record_now(&self, c: Collection) -> Arc<Report> {
        futures::executor::block_on(self.record(c)).expect("the memory store does not fail")
    }

    fn build(&self, c: Collection, previous: Option<&Arc<Report>>) -> Result<Report, StoreError> {
        let last = self.last_sequence();
        if c.sequence <= last {
            return Err(StoreError::Stale {
                cluster: Arc::clone(&self.info.id),
                sequence: c.sequence,
                last,
            });
        }
        Ok(self.build_unchecked(c, previous))
    }

    /// The report of a collection, following `previous`, with the collection's sequence as
    /// it is (the shared store numbers it itself).
    pub(super) fn build_unchecked(&self, c: Collection, previous: Option<&Arc<Report>>) -> Report {
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
            fired: Vec::new(),
            error: None,
            consecutive_failures: 0,
            last_success: previous.and_then(|p| p.last_success),
            schema: Arc::clone(&EMPTY_SCHEMA),
            values: Box::default(),
            node_status: Box::default(),
            encoding: Arc::new(Encoding::new(Arc::clone(&self.shared.encoded_bytes))),
            origin: c.origin,
        };
        let failure = match c.outcome {
            Outcome::Collected(collected) => {
                let Collected {
                    status,
                    reasons,
                    schema,
                    values,
                    node_status,
                    fired,
                } = collected;
                report.status = status;
                report.reasons = reasons;
                report.fired = fired;
                report.values = values;
                report.node_status = node_status;
                report.schema = self
                    .shared
                    .schemas
                    .share(schema, previous.map(|p| &p.schema));
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
        report
    }

    /// Keeps the report and announces it.
    pub(super) fn publish(&self, mut history: MutexGuard<'_, History>, report: &Arc<Report>) {
        history.push(Arc::clone(report));
        self.last_sequence.store(report.sequence, Ordering::Release);
        drop(history);
        let shared = &self.shared;
        shared.published.fetch_add(1, Ordering::Release);
        // No watcher is not an error.
        let _ = shared.feed.send(Notice {
            cluster: Arc::clone(&report.cluster),
            sequence: report.sequence,
            wire_bytes: report.wire_bytes(),
        });
    }

    /// The newest sequence recorded, 0 when none: the next collection's is above it.
    pub fn last_sequence(&self) -> u64 {
        self.last_sequence.load(Ordering::Acquire)
    }

    /// Its history, leaving `empty` in its place (a renewed slot takes it over).
    pub(super) fn take_history(&self, empty: History) -> History {
        std::mem::replace(&mut *self.lock(), empty)
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

    /// Drops the reports collected before `cutoff` from memory.
    pub(super) fn expire(&self, cutoff: SystemTime) {
        self.lock().drop_older_than(cutoff);
    }

    /// Empties the history (the shared store's mirror, at a gap: watchers behind it are told
    /// what they missed).
    pub(super) fn reset_history(&self) {
        let mut history = self.lock();
        *history = History::new(history.capacity());
    }

    /// What every slot of the store shares.
    pub(super) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Why the shared store does not answer now, when it does not (other stores: `None`).
    pub fn store_note(&self) -> Option<String> {
        self.shared.redis.as_ref().and_then(|r| r.unavailable())
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(|p| p.into_inner())
    }
}
