//! Opening the file store: the checks that refuse a file that is not a store of this
//! version, and reading a cluster's retained reports back into its in-memory history.

use super::{
    CLUSTERS, MAGIC, META, OpenError, REPORTS, Retention, SCHEMAS, SEQUENCES, check_folder,
    format::{self, Context, FORMAT_VERSION},
};
use crate::store::{ClusterInfo, History, Report, Schema};
use redb::{Database, ReadableTable, TableError};
use std::{
    collections::{HashMap, HashSet, VecDeque},
    path::{Path, PathBuf},
    sync::{Arc, Mutex, atomic::AtomicUsize},
    time::SystemTime,
};

/// redb's page cache (its default is 1 GiB). Reads are served from memory, so the cache
/// only holds the pages the writer changes; at the default, reading a full store back at
/// startup kept up to a GiB of pages that were already decoded into the histories.
#[cfg(not(test))]
const CACHE_BYTES: usize = 64 << 20;
/// Small in tests, so that a test store outgrows it.
#[cfg(test)]
pub(super) const CACHE_BYTES: usize = 1 << 20;

/// The open database and what it holds besides reports.
#[derive(Debug)]
pub struct Catalog {
    pub(super) db: Arc<Database>,
    pub(super) file: PathBuf,
    /// Every stored cluster's info, as persisted.
    infos: Vec<ClusterInfo>,
    sequences: HashMap<Arc<str>, u64>,
    schemas: Mutex<HashMap<u64, Arc<Schema>>>,
}

impl Catalog {
    /// Opens (or makes) the store in folder `dir`, refusing what is not a store of this
    /// version; drops schemas no report refers to any more.
    pub fn open(dir: &Path) -> Result<Catalog, OpenError> {
        let file = check_folder(dir)?;
        let fresh = !file.exists()
            || std::fs::metadata(&file)
                .map(|m| m.len() == 0)
                .unwrap_or(false);
        let refuse = |why: String| OpenError::new(&file, why);
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&file)
            .map_err(|e| {
                refuse(format!(
                    "not a dbmon store, or a damaged one ({e}); it was left as it is"
                ))
            })?;
        if fresh {
            let txn = db.begin_write().map_err(|e| refuse(e.to_string()))?;
            {
                let mut meta = txn.open_table(META).map_err(|e| refuse(e.to_string()))?;
                let mut put = |k, v| {
                    meta.insert(k, v)
                        .map(|_| ())
                        .map_err(|e| refuse(e.to_string()))
                };
                put("magic", MAGIC)?;
                put("format", FORMAT_VERSION)?;
            }
            txn.open_table(SCHEMAS).map_err(|e| refuse(e.to_string()))?;
            txn.open_table(CLUSTERS)
                .map_err(|e| refuse(e.to_string()))?;
            txn.open_table(SEQUENCES)
                .map_err(|e| refuse(e.to_string()))?;
            txn.open_table(REPORTS).map_err(|e| refuse(e.to_string()))?;
            txn.commit().map_err(|e| refuse(e.to_string()))?;
        }
        let catalog = Catalog::read(db, &file)?;
        catalog.drop_unused_schemas()?;
        Ok(catalog)
    }

    fn read(db: Database, file: &Path) -> Result<Catalog, OpenError> {
        let refuse = |why: String| OpenError::new(file, why);
        let damaged = |e: &dyn std::fmt::Display| refuse(format!("a damaged dbmon store ({e})"));
        let txn = db.begin_read().map_err(|e| damaged(&e))?;
        let meta = match txn.open_table(META) {
            Ok(meta) => meta,
            Err(TableError::TableDoesNotExist(_)) => {
                return Err(refuse(
                    "a redb database, but not a dbmon store; it was left as it is".into(),
                ));
            }
            Err(e) => return Err(damaged(&e)),
        };
        let get = |k: &str| -> Result<Option<u64>, OpenError> {
            Ok(meta.get(k).map_err(|e| damaged(&e))?.map(|v| v.value()))
        };
        if get("magic")? != Some(MAGIC) {
            return Err(refuse("not a dbmon store; it was left as it is".into()));
        }
        match get("format")? {
            Some(FORMAT_VERSION) => {}
            other => {
                return Err(refuse(format!(
                    "a dbmon store of format {}, this dbmon reads format {FORMAT_VERSION}; \
                     it was left as it is (use the dbmon that wrote it, or another folder)",
                    other.map_or("unknown".into(), |v| v.to_string())
                )));
            }
        }
        let mut schemas = HashMap::new();
        for row in txn
            .open_table(SCHEMAS)
            .map_err(|e| damaged(&e))?
            .iter()
            .map_err(|e| damaged(&e))?
        {
            let (key, bytes) = row.map_err(|e| damaged(&e))?;
            let schema = format::decode_schema(bytes.value())
                .map_err(|e| refuse(format!("schema {}: {e}", key.value())))?;
            schemas.insert(key.value(), Arc::new(schema));
        }
        let mut infos = Vec::new();
        for row in txn
            .open_table(CLUSTERS)
            .map_err(|e| damaged(&e))?
            .iter()
            .map_err(|e| damaged(&e))?
        {
            let (id, bytes) = row.map_err(|e| damaged(&e))?;
            let info = format::decode_info(id.value(), bytes.value())
                .map_err(|e| refuse(format!("cluster '{}': {e}", id.value())))?;
            infos.push(info);
        }
        let mut sequences = HashMap::new();
        for row in txn
            .open_table(SEQUENCES)
            .map_err(|e| damaged(&e))?
            .iter()
            .map_err(|e| damaged(&e))?
        {
            let (id, last) = row.map_err(|e| damaged(&e))?;
            sequences.insert(Arc::from(id.value()), last.value());
        }
        drop(meta);
        drop(txn);
        Ok(Catalog {
            db: Arc::new(db),
            file: file.to_owned(),
            infos,
            sequences,
            schemas: Mutex::new(schemas),
        })
    }

    /// Schemas of reports long trimmed are dropped here, once per start.
    fn drop_unused_schemas(&self) -> Result<(), OpenError> {
        let damaged = |e: &dyn std::fmt::Display| {
            OpenError::new(&self.file, format!("a damaged dbmon store ({e})"))
        };
        let mut used = HashSet::new();
        let txn = self.db.begin_read().map_err(|e| damaged(&e))?;
        for row in txn
            .open_table(REPORTS)
            .map_err(|e| damaged(&e))?
            .iter()
            .map_err(|e| damaged(&e))?
        {
            let (key, bytes) = row.map_err(|e| damaged(&e))?;
            let head = format::decode_head(bytes.value()).map_err(|e| {
                let (id, seq) = key.value();
                OpenError::new(&self.file, format!("cluster '{id}' report {seq}: {e}"))
            })?;
            used.insert(head.schema);
        }
        drop(txn);
        let mut schemas = self.schemas.lock().unwrap_or_else(|p| p.into_inner());
        let unused: Vec<u64> = schemas
            .keys()
            .filter(|k| !used.contains(k))
            .copied()
            .collect();
        if unused.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin_write().map_err(|e| damaged(&e))?;
        {
            let mut table = txn.open_table(SCHEMAS).map_err(|e| damaged(&e))?;
            for key in &unused {
                table.remove(key).map_err(|e| damaged(&e))?;
                schemas.remove(key);
            }
        }
        txn.commit().map_err(|e| damaged(&e))
    }

    /// Every stored cluster's info, as persisted, by id.
    pub fn stored_clusters(&self) -> &[ClusterInfo] {
        &self.infos
    }

    /// The newest sequence stored for cluster `id`, 0 when none.
    pub fn last_sequence(&self, id: &str) -> u64 {
        self.sequences.get(id).copied().unwrap_or(0)
    }

    /// Every schema the catalog holds, for the store's pool and the writer.
    pub fn schemas(&self) -> HashMap<u64, Arc<Schema>> {
        self.schemas
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Cluster `info.id`'s retained reports (by count and age) as a history.
    pub fn load(
        &self,
        info: &ClusterInfo,
        retention: Retention,
        encoded_bytes: &Arc<AtomicUsize>,
    ) -> Result<History, OpenError> {
        let damaged = |e: &dyn std::fmt::Display| {
            OpenError::new(&self.file, format!("a damaged dbmon store ({e})"))
        };
        let id: &str = &info.id;
        let txn = self.db.begin_read().map_err(|e| damaged(&e))?;
        let table = txn.open_table(REPORTS).map_err(|e| damaged(&e))?;
        let mut kept: VecDeque<Report> = VecDeque::new();
        let mut base: Option<Box<[f64]>> = None;
        for row in table
            .range((id, 0)..=(id, u64::MAX))
            .map_err(|e| damaged(&e))?
        {
            let (key, bytes) = row.map_err(|e| damaged(&e))?;
            let sequence = key.value().1;
            let at = |e: &dyn std::fmt::Display| {
                OpenError::new(&self.file, format!("cluster '{id}' report {sequence}: {e}"))
            };
            let bytes = bytes.value();
            let head = format::decode_head(bytes).map_err(|e| at(&e))?;
            let schema = self.schema(head.schema).map_err(|e| at(&e))?;
            let report = format::decode_report(
                sequence,
                bytes,
                Context {
                    cluster: &info.id,
                    connector: &info.connector,
                    schema,
                    base: base.as_deref(),
                    encoded_bytes,
                },
            )
            .map_err(|e| at(&e))?;
            base = Some(report.values.clone());
            kept.push_back(report);
            if kept.len() > retention.history {
                kept.pop_front();
            }
        }
        let cutoff = retention.cutoff(SystemTime::now());
        let mut history = History::new(retention.history);
        for report in kept {
            if cutoff.is_none_or(|c| report.collected_at >= c) {
                history.push(Arc::new(report));
            }
        }
        Ok(history)
    }

    fn schema(&self, key: u64) -> Result<Arc<Schema>, String> {
        let mut schemas = self.schemas.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(schema) = schemas.get(&key) {
            return Ok(Arc::clone(schema));
        }
        // Written since the start.
        let txn = self.db.begin_read().map_err(|e| e.to_string())?;
        let table = txn.open_table(SCHEMAS).map_err(|e| e.to_string())?;
        let bytes = table
            .get(key)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("its schema {key} is missing"))?;
        let schema = Arc::new(format::decode_schema(bytes.value()).map_err(|e| e.to_string())?);
        schemas.insert(key, Arc::clone(&schema));
        Ok(schema)
    }
}
