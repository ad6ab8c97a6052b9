//! The one writer of the file store: a thread that takes reports from a bounded channel,
//! commits as many as are waiting in one transaction (one fsync), trims what retention
//! drops in the same transaction, and only then answers each report's sender.

// redb's own error type is large; a batch fails seldom, and as a whole.
#![allow(clippy::result_large_err)]

use super::{
    CLUSTERS, Catalog, REPORTS, Retention, SCHEMAS, SEQUENCES,
    format::{self, FORMAT_VERSION},
};
use crate::store::{ClusterInfo, Report, Schema, StoreError};
use redb::{Database, ReadableTable, Table};
use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
    time::SystemTime,
};
use tokio::sync::{mpsc, oneshot};

/// Reports waiting for the writer, at most; senders wait beyond.
const QUEUE: usize = 4096;
/// Reports committed in one transaction, at most.
const MAX_BATCH: usize = 1024;

/// What the writer is asked to do.
enum Job {
    /// Store a report (and its cluster's info, on its first write since the start).
    Write {
        report: Arc<Report>,
        info: Option<ClusterInfo>,
        done: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Drop what is older than retention allows, for these clusters.
    Expire { clusters: Vec<Arc<str>> },
}

/// Where slots send their reports to be made durable.
pub struct Journal {
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<std::thread::JoinHandle<()>>,
    #[cfg(test)]
    fingerprints: Arc<std::sync::atomic::AtomicUsize>,
}

impl Drop for Journal {
    /// Waits for the writer to finish what it was given and close the database, so that the
    /// store can be opened again at once.
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").finish_non_exhaustive()
    }
}

impl Journal {
    /// Starts the writer thread over the catalog's database.
    pub fn start(catalog: &Catalog, retention: Retention) -> std::io::Result<Journal> {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let schemas = catalog.schemas();
        let mut keys = SchemaKeys::default();
        for (key, schema) in schemas {
            keys.by_fingerprint
                .entry(schema.fingerprint())
                .or_default()
                .push((key, schema));
        }
        #[cfg(test)]
        let fingerprints = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let writer = Writer {
            db: Arc::clone(&catalog.db),
            retention,
            chains: HashMap::new(),
            keys,
            #[cfg(test)]
            fingerprints: Arc::clone(&fingerprints),
        };
        let writer = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer.run(queue))?;
        Ok(Journal {
            jobs: Some(jobs),
            writer: Some(writer),
            #[cfg(test)]
            fingerprints,
        })
    }

    /// How many times the writer hashed a schema to find its key.
    #[cfg(test)]
    pub fn fingerprints(&self) -> usize {
        self.fingerprints.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Returns once `report` is on disk (with `info`, when given).
    pub async fn write(
        &self,
        report: Arc<Report>,
        info: Option<ClusterInfo>,
    ) -> Result<(), StoreError> {
        let (done, answer) = oneshot::channel();
        let job = Job::Write { report, info, done };
        let jobs = self.jobs.as_ref().ok_or(StoreError::Closed)?;
        jobs.send(job).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Asks the writer to drop these clusters' reports older than retention allows.
    pub async fn expire(&self, clusters: Vec<Arc<str>>) {
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(Job::Expire { clusters }).await;
        }
    }
}

/// One report on disk, as the writer tracks it.
#[derive(Debug, Clone, Copy)]
struct Entry {
    sequence: u64,
    collected_at: SystemTime,
    keyframe: bool,
}

/// One cluster's reports on disk.
#[derive(Debug, Clone, Default)]
struct Chain {
    /// Oldest first; the first is a keyframe.
    entries: VecDeque<Entry>,
    /// The newest report written since the start and its schema key: the base of the next.
    last: Option<(Arc<Report>, u64)>,
    /// Reports since the newest keyframe.
    since_keyframe: usize,
}

/// The key of every schema on disk.
#[derive(Debug, Default)]
struct SchemaKeys {
    by_fingerprint: HashMap<u64, Vec<(u64, Arc<Schema>)>>,
}

impl SchemaKeys {
    fn find(&self, schema: &Arc<Schema>, fingerprint: u64) -> Option<u64> {
        let same = self.by_fingerprint.get(&fingerprint)?;
        same.iter()
            .find(|(_, s)| Arc::ptr_eq(s, schema) || **s == **schema)
            .map(|(k, _)| *k)
    }

    fn used(&self, key: u64) -> bool {
        self.by_fingerprint
            .values()
            .flatten()
            .any(|(k, _)| *k == key)
    }
}

struct Writer {
    db: Arc<Database>,
    retention: Retention,
    chains: HashMap<Arc<str>, Chain>,
    keys: SchemaKeys,
    /// Schemas hashed to find their key.
    #[cfg(test)]
    fingerprints: Arc<std::sync::atomic::AtomicUsize>,
}

/// What a failed batch undoes.
#[derive(Default)]
struct Undo {
    chains: HashMap<Arc<str>, Option<Chain>>,
    keys: Vec<(u64, u64)>,
}

impl Writer {
    fn run(mut self, mut queue: mpsc::Receiver<Job>) {
        while let Some(first) = queue.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            let mut undo = Undo::default();
            let result = self.commit(&batch, &mut undo);
            if let Err(e) = &result {
                tracing::error!(
                    "the report store could not write {} reports: {e}",
                    batch.len()
                );
                self.undo(undo);
            }
            let answer = result.map_err(|e| StoreError::Write(e.to_string()));
            for job in batch {
                if let Job::Write { done, .. } = job {
                    let _ = done.send(answer.clone());
                }
            }
        }
        tracing::debug!("store writer stopped (format {FORMAT_VERSION})");
    }

    fn undo(&mut self, undo: Undo) {
        for (id, chain) in undo.chains {
            match chain {
                Some(chain) => self.chains.insert(id, chain),
                None => self.chains.remove(&id),
            };
        }
        for (fingerprint, key) in undo.keys {
            if let Some(same) = self.keys.by_fingerprint.get_mut(&fingerprint) {
                same.retain(|(k, _)| *k != key);
            }
        }
    }

    fn commit(&mut self, batch: &[Job], undo: &mut Undo) -> Result<(), redb::Error> {
        let txn = self.db.begin_write()?;
        {
            let mut reports = txn.open_table(REPORTS)?;
            let mut schemas = txn.open_table(SCHEMAS)?;
            let mut clusters = txn.open_table(CLUSTERS)?;
            let mut sequences = txn.open_table(SEQUENCES)?;
            let cutoff = self.retention.cutoff(SystemTime::now());
            for job in batch {
                match job {
                    Job::Write { report, info, .. } => {
                        let id = &report.cluster;
                        self.chain(id, &reports, undo)?;
                        // The previous report's schema is almost always this one: hashing
                        // a large schema per report cost more than the rest of the write.
                        let same = self.chains[id]
                            .last
                            .as_ref()
                            .filter(|(r, _)| Arc::ptr_eq(&r.schema, &report.schema))
                            .map(|(_, k)| *k);
                        let key = match same {
                            Some(key) => key,
                            None => self.schema_key(&report.schema, &mut schemas, undo)?,
                        };
                        let chain = self.chains.get_mut(id).expect("loaded above");
                        let base = chain
                            .last
                            .as_ref()
                            .filter(|(_, k)| *k == key)
                            .filter(|_| chain.since_keyframe + 1 < self.retention.keyframe_every())
                            .map(|(r, _)| &*r.values);
                        let keyframe = base.is_none();
                        let bytes = format::encode_report(report, key, base);
                        reports.insert((&**id, report.sequence), &*bytes)?;
                        sequences.insert(&**id, report.sequence)?;
                        if let Some(info) = info {
                            clusters.insert(&**id, &*format::encode_info(info))?;
                        }
                        chain.entries.push_back(Entry {
                            sequence: report.sequence,
                            collected_at: report.collected_at,
                            keyframe,
                        });
                        chain.since_keyframe = if keyframe {
                            0
                        } else {
                            chain.since_keyframe + 1
                        };
                        chain.last = Some((Arc::clone(report), key));
                        trim(id, chain, self.retention.history, cutoff, &mut reports)?;
                    }
                    Job::Expire { clusters } => {
                        for id in clusters {
                            self.chain(id, &reports, undo)?;
                            let chain = self.chains.get_mut(id).expect("loaded above");
                            trim(id, chain, self.retention.history, cutoff, &mut reports)?;
                        }
                    }
                }
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Makes sure the writer tracks cluster `id`'s reports on disk (read from their heads on
    /// its first write since the start) and that a failed batch can restore them.
    fn chain(
        &mut self,
        id: &Arc<str>,
        reports: &Table<(&str, u64), &[u8]>,
        undo: &mut Undo,
    ) -> Result<(), redb::Error> {
        if !undo.chains.contains_key(id) {
            undo.chains
                .insert(Arc::clone(id), self.chains.get(id).cloned());
        }
        if self.chains.contains_key(id) {
            return Ok(());
        }
        let mut chain = Chain::default();
        for row in reports.range((&**id, 0)..=(&**id, u64::MAX))? {
            let (key, bytes) = row?;
            // The catalog decoded every head at the start; one that does not is skipped.
            let Ok(head) = format::decode_head(bytes.value()) else {
                continue;
            };
            chain.entries.push_back(Entry {
                sequence: key.value().1,
                collected_at: head.collected_at,
                keyframe: head.keyframe,
            });
        }
        self.chains.insert(Arc::clone(id), chain);
        Ok(())
    }

    /// The key of `schema` on disk, written in this batch when it is new.
    fn schema_key(
        &mut self,
        schema: &Arc<Schema>,
        table: &mut Table<u64, &[u8]>,
        undo: &mut Undo,
    ) -> Result<u64, redb::Error> {
        let fingerprint = schema.fingerprint();
        #[cfg(test)]
        self.fingerprints
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(key) = self.keys.find(schema, fingerprint) {
            return Ok(key);
        }
        // Another schema with the same fingerprint takes the next free key.
        let mut key = fingerprint;
        while self.keys.used(key) {
            key = key.wrapping_add(1);
        }
        table.insert(key, &*format::encode_schema(schema))?;
        self.keys
            .by_fingerprint
            .entry(fingerprint)
            .or_default()
            .push((key, Arc::clone(schema)));
        undo.keys.push((fingerprint, key));
        Ok(key)
    }
}

/// Drops cluster `id`'s reports beyond `history` or collected before `cutoff`, keeping the
/// keyframe the oldest kept report is packed from.
fn trim(
    id: &str,
    chain: &mut Chain,
    history: usize,
    cutoff: Option<SystemTime>,
    reports: &mut Table<(&str, u64), &[u8]>,
) -> Result<(), redb::Error> {
    let entries = &chain.entries;
    let len = entries.len();
    let by_count = len.saturating_sub(history);
    let by_age = cutoff.map_or(0, |c| {
        entries
            .iter()
            .position(|e| e.collected_at >= c)
            .unwrap_or(len)
    });
    let keep_from = by_count.max(by_age);
    let cut = if keep_from >= len {
        len
    } else {
        (0..=keep_from)
            .rev()
            .find(|i| entries[*i].keyframe)
            .unwrap_or(0)
    };
    for entry in chain.entries.drain(..cut) {
        reports.remove((id, entry.sequence))?;
    }
    if chain.entries.is_empty() {
        chain.last = None;
    }
    Ok(())
}
