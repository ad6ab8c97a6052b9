//! The shared store: several servers on one Redis (or Redis Cluster). Each cluster's reports
//! are a Redis Stream, packed as the file store packs them ([`super::disk::format`]); a Lua
//! script appends each report, numbering it and refusing a resent one atomically across the
//! servers ([`script`]). Every server mirrors the store into its memory history and serves
//! from there ([`mirror`]), so any server serves any cluster; reports another server stored
//! arrive through a notice stream, and each cluster's stream is read on from the last entry
//! published, so that nothing is missed or repeated, also after a reconnect.
//!
//! Keys, with the cluster's id as hash tag so that one cluster's keys share a slot:
//! `dbmon:{ID}:reports` (the stream: fields `s` sequence, `r` record), `dbmon:{ID}:meta` (hash:
//! `seq` the newest sequence, and the origin of the newest report), `dbmon:{ID}:schemas` (hash:
//! schema key → schema), `dbmon:{ID}:info` (the cluster's info); besides, `dbmon:clusters` (set
//! of ids) and `dbmon:notices` (stream of `c` id, `s` sequence, one entry per report stored).

mod conn;
mod mirror;
mod script;
#[cfg(test)]
mod tests;

use super::{
    ClusterSlot, Collection, Report, Retention, Schema, StoreError, disk::format, slot::Shared,
};
use dbmon_connector_api::{AuthConfig, TlsConfig};
use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};
use tokio::sync::watch;

pub use mirror::follow;
pub(super) use mirror::sweep as load;

/// The set of every cluster id in the store.
const CLUSTERS: &str = "dbmon:clusters";
/// One entry per report stored: which cluster, which sequence.
const NOTICES: &str = "dbmon:notices";
/// Notices kept (about; they only wake the mirrors, which read the clusters' streams).
const NOTICES_KEPT: usize = 10_000;
/// Time a command may take before the store counts as unavailable.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the mirror's blocking read of notices waits, at most.
const NOTICE_BLOCK: Duration = Duration::from_millis(1000);
/// Tries of one append when other servers store the same cluster's reports meanwhile.
const APPEND_TRIES: usize = 8;

/// `store: {kind: redis}`, resolved: where the shared store is and how to reach it.
#[derive(Clone)]
pub struct SharedOptions {
    /// `redis://HOST:PORT[/DB]` or `rediss://...`.
    pub url: String,
    /// A Redis Cluster (`url` is one of its nodes).
    pub cluster: bool,
    /// TLS files (paths resolved).
    pub tls: Option<TlsConfig>,
    /// Credentials (secrets resolved).
    pub auth: Option<AuthConfig>,
}

impl std::fmt::Debug for SharedOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedOptions")
            .field("url", &redacted(&self.url))
            .field("cluster", &self.cluster)
            .field("tls", &self.tls)
            .field("auth", &self.auth)
            .finish()
    }
}

/// `url` without the password it may hold (`redis://user:secret@host` → `redis://user:***@host`).
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_string(),
    }
}

/// One cluster's keys, all in the slot of `{id}`.
#[derive(Debug, Clone)]
pub struct Keys {
    pub reports: String,
    pub meta: String,
    pub schemas: String,
    pub info: String,
}

impl Keys {
    pub fn of(id: &str) -> Keys {
        Keys {
            reports: format!("dbmon:{{{id}}}:reports"),
            meta: format!("dbmon:{{{id}}}:meta"),
            schemas: format!("dbmon:{{{id}}}:schemas"),
            info: format!("dbmon:{{{id}}}:info"),
        }
    }
}

/// What this server knows of one cluster's stream: where its history ends in it.
#[derive(Debug, Default)]
struct Follow {
    /// The entry of the newest report published (or skipped), `None` before the first.
    last_id: Option<String>,
    /// Reports published since the newest keyframe.
    since_keyframe: usize,
    /// The newest report's schema and its key.
    last_schema: Option<(Arc<Schema>, u64)>,
    /// Schema keys known to be in the cluster's schemas hash.
    schemas: HashSet<u64>,
    /// Whether this run stored the cluster's info.
    info_stored: bool,
}

/// The shared store's client, shared by every slot.
pub struct Backend {
    conn: conn::Conn,
    options: SharedOptions,
    retention: Retention,
    keep_unconfigured: bool,
    append: redis::Script,
    follows: Mutex<HashMap<Arc<str>, Arc<tokio::sync::Mutex<Follow>>>>,
    /// Schemas read back, by key.
    schemas: Mutex<HashMap<u64, Arc<Schema>>>,
    /// `None` while the store answers; else why it does not.
    health: watch::Sender<Option<String>>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Backend {
    /// Connects (an error when the store cannot be reached now).
    pub async fn connect(
        options: &SharedOptions,
        retention: Retention,
        keep_unconfigured: bool,
    ) -> Result<Backend, String> {
        let conn = conn::connect(options, RESPONSE_TIMEOUT).await?;
        let mut probe = conn.clone();
        redis::cmd("PING")
            .query_async::<()>(&mut probe)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Backend {
            conn,
            options: options.clone(),
            retention,
            keep_unconfigured,
            append: redis::Script::new(script::APPEND),
            follows: Mutex::default(),
            schemas: Mutex::default(),
            health: watch::Sender::new(None),
        })
    }

    /// Why the store does not answer now, `None` while it does.
    pub fn unavailable(&self) -> Option<String> {
        self.health.borrow().clone()
    }

    /// Changes of [`Backend::unavailable`].
    pub fn health(&self) -> watch::Receiver<Option<String>> {
        self.health.subscribe()
    }

    fn mark(&self, result: Result<(), String>) {
        let now = result
            .err()
            .map(|e| format!("the shared store (Redis) is unavailable: {e}"));
        self.health.send_if_modified(|was| {
            if *was == now {
                return false;
            }
            match &now {
                Some(why) => tracing::warn!("{why}"),
                None => tracing::info!("the shared store (Redis) answers again"),
            }
            *was = now;
            true
        });
    }

    fn follow_of(&self, id: &Arc<str>) -> Arc<tokio::sync::Mutex<Follow>> {
        let mut follows = self.follows.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(follows.entry(Arc::clone(id)).or_default())
    }

    fn conn(&self) -> conn::Conn {
        self.conn.clone()
    }

    /// Stores a collection as the cluster's next report (the store numbers it), then
    /// publishes it; a resent report is [`StoreError::Duplicate`].
    pub async fn record(
        &self,
        slot: &ClusterSlot,
        c: Collection,
    ) -> Result<Arc<Report>, StoreError> {
        let id = Arc::clone(&slot.info.id);
        let follow = self.follow_of(&id);
        let mut f = follow.lock().await;
        let keys = Keys::of(&id);
        let mut report = slot.build_unchecked(c, slot.latest().as_ref());
        let mut force_keyframe = false;
        for _ in 0..APPEND_TRIES {
            let previous = slot.latest();
            rebase(&mut report, previous.as_deref());
            let schema_key = match &f.last_schema {
                Some((schema, key)) if Arc::ptr_eq(schema, &report.schema) => *key,
                _ => report.schema.fingerprint(),
            };
            let base = previous
                .as_ref()
                .filter(|_| !force_keyframe)
                .filter(|p| p.sequence == slot.last_sequence())
                .filter(|p| Arc::ptr_eq(&p.schema, &report.schema) || *p.schema == *report.schema)
                .filter(|_| f.since_keyframe + 1 < self.retention.keyframe_every())
                .map(|p| &*p.values);
            let keyframe = base.is_none();
            let record = format::encode_report(&report, schema_key, base);
            let schema =
                (!f.schemas.contains(&schema_key)).then(|| format::encode_schema(&report.schema));
            let info = (!f.info_stored).then(|| format::encode_info(&slot.info));
            let mut conn = self.conn();
            if info.is_some() {
                let added = redis::cmd("SADD")
                    .arg(CLUSTERS)
                    .arg(&*id)
                    .query_async::<()>(&mut conn)
                    .await;
                self.checked(added)?;
            }
            let answer = script::append(
                &self.append,
                &mut conn,
                script::Append {
                    keys: &keys,
                    base: slot.last_sequence(),
                    origin: report.origin.as_ref(),
                    record: &record,
                    keyframe,
                    schema_key,
                    schema: schema.as_deref(),
                    info: info.as_deref(),
                    max_len: self.retention.history + self.retention.keyframe_every(),
                    min_id: self.min_id(),
                },
            )
            .await;
            match self.checked(answer)? {
                script::Appended::Stored {
                    sequence,
                    id: entry,
                } => {
                    report.sequence = sequence;
                    f.schemas.insert(schema_key);
                    f.info_stored = true;
                    f.last_id = Some(entry);
                    f.since_keyframe = if keyframe { 0 } else { f.since_keyframe + 1 };
                    f.last_schema = Some((Arc::clone(&report.schema), schema_key));
                    let report = Arc::new(report);
                    slot.publish(slot.lock(), &report);
                    drop(f);
                    // Wakes the other servers' mirrors; one that misses it reads the
                    // cluster at its next sweep.
                    let notice = redis::cmd("XADD")
                        .arg(NOTICES)
                        .arg("MAXLEN")
                        .arg("~")
                        .arg(NOTICES_KEPT)
                        .arg("*")
                        .arg("c")
                        .arg(&*id)
                        .arg("s")
                        .arg(sequence)
                        .query_async::<()>(&mut conn)
                        .await;
                    if let Err(e) = notice {
                        tracing::debug!("cluster '{id}': no notice of report {sequence}: {e}");
                    }
                    return Ok(report);
                }
                script::Appended::Duplicate => {
                    return Err(StoreError::Duplicate {
                        cluster: Arc::clone(&id),
                    });
                }
                script::Appended::Behind { .. } => {
                    let read = mirror::catch_up(self, slot, &mut f).await;
                    self.checked(read)?;
                }
                script::Appended::Rebase { last } => {
                    tracing::warn!(
                        "cluster '{id}': the shared store holds reports up to {last}, this \
                         server up to {}: reports were lost in Redis; numbering goes on above",
                        slot.last_sequence()
                    );
                    force_keyframe = true;
                }
            }
        }
        Err(StoreError::Write(format!(
            "cluster '{id}': other servers kept storing its reports; tried {APPEND_TRIES} times"
        )))
    }

    /// `result`, with the store's health updated from it.
    fn checked<T, E: std::fmt::Display>(&self, result: Result<T, E>) -> Result<T, StoreError> {
        match result {
            Ok(v) => {
                self.mark(Ok(()));
                Ok(v)
            }
            Err(e) => {
                let e = e.to_string();
                self.mark(Err(e.clone()));
                Err(StoreError::Write(format!(
                    "the shared store (Redis) is unavailable: {e}"
                )))
            }
        }
    }

    /// Stream entries before this are older than retention allows (entries are timed as
    /// Redis stored them).
    fn min_id(&self) -> Option<String> {
        let cutoff = self.retention.cutoff(SystemTime::now())?;
        let ms = cutoff
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        Some(format!("{ms}-0"))
    }

    /// A schema by key, from the cache or the cluster's schemas hash.
    async fn schema(&self, shared: &Shared, keys: &Keys, key: u64) -> Result<Arc<Schema>, String> {
        if let Some(schema) = self
            .schemas
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(Arc::clone(schema));
        }
        let bytes: Option<Vec<u8>> = redis::cmd("HGET")
            .arg(&keys.schemas)
            .arg(key.to_string())
            .query_async(&mut self.conn())
            .await
            .map_err(|e| e.to_string())?;
        let bytes = bytes.ok_or_else(|| format!("its schema {key} is missing"))?;
        let schema = Arc::new(format::decode_schema(&bytes).map_err(|e| e.to_string())?);
        shared.schemas.adopt(Arc::clone(&schema));
        self.schemas
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, Arc::clone(&schema));
        Ok(schema)
    }
}

/// Makes a report built against an older newest report follow `previous` instead: the
/// failure count and the last success come from the report before.
fn rebase(report: &mut Report, previous: Option<&Report>) {
    if report.error.is_some() {
        report.consecutive_failures = previous.map_or(0, |p| p.consecutive_failures) + 1;
        report.last_success = previous.and_then(|p| p.last_success);
    }
}
