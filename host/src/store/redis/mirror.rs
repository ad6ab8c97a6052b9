//! Every server's copy of the shared store: each cluster's stream is read on from the last
//! entry this server published, in sequence order, into the cluster's memory history (and
//! so to GetReports and Watch). Notices wake the mirror at once; a sweep of every cluster
//! every few seconds, and after every reconnect, catches what a lost notice would miss.

use super::{Backend, CLUSTERS, Follow, Keys, NOTICE_BLOCK, NOTICES, conn};
use crate::store::{
    ClusterSlot, Store,
    disk::format::{self, Context},
};
use futures::StreamExt;
use redis::{Value, streams::StreamRangeReply};
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

/// Entries read per XRANGE.
const PAGE: usize = 512;
/// Time between sweeps of every cluster.
const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// Clusters read at once. The connection is multiplexed, so their XRANGEs share round trips
/// instead of waiting for each other: one at a time, a loop of round trips fell behind at
/// 20,000 clusters (BENCHMARKS.md §12).
const READS_IN_FLIGHT: usize = 64;
/// Wait after the store failed to answer, before the next try.
const RETRY_AFTER: Duration = Duration::from_millis(500);

/// Reads cluster `slot`'s stream on from where `f` ended, publishing every report in order.
/// A report this server cannot decode (a delta whose base it never read) is skipped up to
/// the next keyframe; a gap empties the history first, so that a watcher behind it is told
/// which reports it missed rather than given them out of order.
pub(super) async fn catch_up(
    b: &Backend,
    slot: &ClusterSlot,
    f: &mut Follow,
) -> Result<usize, String> {
    let info = &slot.info;
    let keys = Keys::of(&info.id);
    let shared = slot.shared();
    let mut published = 0;
    loop {
        let start = match &f.last_id {
            Some(id) => format!("({id}"),
            None => "-".to_string(),
        };
        let page: StreamRangeReply = redis::cmd("XRANGE")
            .arg(&keys.reports)
            .arg(start)
            .arg("+")
            .arg("COUNT")
            .arg(PAGE)
            .query_async(&mut b.conn())
            .await
            .map_err(|e| e.to_string())?;
        let done = page.ids.len() < PAGE;
        for entry in page.ids {
            f.last_id = Some(entry.id.clone());
            let (Some(sequence), Some(bytes)) = (
                field(&entry.map, "s")
                    .and_then(|s| std::str::from_utf8(s).ok()?.parse::<u64>().ok()),
                field(&entry.map, "r"),
            ) else {
                tracing::warn!(
                    "cluster '{}': stream entry {} is not a report",
                    info.id,
                    entry.id
                );
                continue;
            };
            if sequence <= slot.last_sequence() {
                continue;
            }
            let skip = |why: &str| {
                tracing::warn!(
                    "cluster '{}': report {sequence} of the shared store is not served: {why}",
                    info.id
                );
            };
            let head = match format::decode_head(bytes) {
                Ok(head) => head,
                Err(e) => {
                    skip(&e.to_string());
                    continue;
                }
            };
            let previous = slot.latest();
            let follows = previous
                .as_ref()
                .is_some_and(|p| p.sequence + 1 == sequence);
            if !head.keyframe && !follows {
                // Its base is a report this server never read: wait for the next keyframe.
                f.last_schema = None;
                continue;
            }
            let schema = match b.schema(shared, &keys, head.schema).await {
                Ok(schema) => schema,
                Err(e) => {
                    skip(&e);
                    continue;
                }
            };
            let report = format::decode_report(
                sequence,
                bytes,
                Context {
                    cluster: &info.id,
                    connector: &info.connector,
                    schema: Arc::clone(&schema),
                    base: previous.as_ref().filter(|_| follows).map(|p| &*p.values),
                    encoded_bytes: &shared.encoded_bytes,
                },
            );
            let report = match report {
                Ok(report) => report,
                Err(e) => {
                    skip(&e.to_string());
                    continue;
                }
            };
            if !follows && slot.stored() > 0 {
                slot.reset_history();
            }
            slot.publish(slot.lock(), &Arc::new(report));
            f.since_keyframe = if head.keyframe {
                0
            } else {
                f.since_keyframe + 1
            };
            f.last_schema = Some((schema, head.schema));
            f.schemas.insert(head.schema);
            published += 1;
        }
        if done {
            break;
        }
    }
    if let Some(cutoff) = b.retention.cutoff(SystemTime::now()) {
        slot.expire(cutoff);
    }
    Ok(published)
}

fn field<'a>(map: &'a std::collections::HashMap<String, Value>, name: &str) -> Option<&'a [u8]> {
    match map.get(name)? {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

/// Reads every cluster of the store that this server serves (all of them with
/// `keep_unconfigured`, which gives unknown ones a slot with their stored info).
pub(in crate::store) async fn sweep(store: &Store, b: &Backend) -> Result<(), String> {
    let ids: Vec<String> = redis::cmd("SMEMBERS")
        .arg(CLUSTERS)
        .query_async(&mut b.conn())
        .await
        .map_err(|e| e.to_string())?;
    read_clusters(store, b, ids).await
}

/// Reads each of `ids` that this server serves, [`READS_IN_FLIGHT`] at a time (each cluster's
/// own reads stay in order behind its follow lock), and answers the first error. After an
/// error no new read starts (a store that stopped answering would hold each one for its
/// timeout), but the reads in flight run to their end: one dropped between taking an entry and
/// publishing it would skip that report for good.
async fn read_clusters(store: &Store, b: &Backend, ids: Vec<String>) -> Result<(), String> {
    let failed = AtomicBool::new(false);
    let failed = &failed;
    let reads = futures::stream::iter(ids).map(|id| async move {
        if failed.load(Ordering::Relaxed) {
            return Ok(());
        }
        let read = match slot_of(store, b, &id).await {
            Ok(Some(slot)) => read_cluster(b, &slot).await,
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        if read.is_err() {
            failed.store(true, Ordering::Relaxed);
        }
        read
    });
    let mut reads = reads.buffer_unordered(READS_IN_FLIGHT);
    let mut first_error = None;
    while let Some(read) = reads.next().await {
        if let Err(e) = read {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

async fn read_cluster(b: &Backend, slot: &ClusterSlot) -> Result<(), String> {
    let follow = b.follow_of(&slot.info.id);
    let mut f = follow.lock().await;
    catch_up(b, slot, &mut f).await.map(|_| ())
}

/// The slot of cluster `id`: made from its stored info when this server serves every cluster.
async fn slot_of(store: &Store, b: &Backend, id: &str) -> Result<Option<Arc<ClusterSlot>>, String> {
    if let Some(slot) = store.cluster(id) {
        return Ok(Some(slot));
    }
    if !b.keep_unconfigured || crate::names::cluster_id_problem(id).is_some() {
        return Ok(None);
    }
    let bytes: Option<Vec<u8>> = redis::cmd("GET")
        .arg(Keys::of(id).info)
        .query_async(&mut b.conn())
        .await
        .map_err(|e| e.to_string())?;
    let Some(bytes) = bytes else {
        return Ok(None);
    };
    match format::decode_info(id, &bytes) {
        Ok(info) => Ok(Some(store.add_cluster(info))),
        Err(e) => {
            tracing::warn!("cluster '{id}' of the shared store is not served: its info: {e}");
            Ok(None)
        }
    }
}

/// Follows the store until `store` is dropped: notices as they come, a sweep every few
/// seconds and after every failure; the store's health is kept up to date.
pub fn follow(store: &Arc<Store>) {
    let Some(b) = store.shared.redis.clone() else {
        return;
    };
    let store = Arc::downgrade(store);
    tokio::spawn(async move {
        let mut reader: Option<conn::Conn> = None;
        let mut after: Option<String> = None;
        let mut next_sweep = Instant::now() + SWEEP_EVERY;
        loop {
            let Some(strong) = store.upgrade() else { break };
            let result = round(&strong, &b, &mut reader, &mut after, &mut next_sweep).await;
            drop(strong);
            let failed = result.is_err();
            b.mark(result);
            if failed {
                reader = None;
                next_sweep = Instant::now();
                tokio::time::sleep(RETRY_AFTER).await;
            }
        }
    });
}

/// One blocking read of notices (and a sweep when one is due).
async fn round(
    store: &Store,
    b: &Backend,
    reader: &mut Option<conn::Conn>,
    after: &mut Option<String>,
    next_sweep: &mut Instant,
) -> Result<(), String> {
    if reader.is_none() {
        *reader = Some(conn::connect(&b.options, NOTICE_BLOCK + Duration::from_secs(2)).await?);
    }
    let conn = reader.as_mut().expect("connected above");
    if after.is_none() {
        // Notices from now on; the sweep below reads what came before.
        let newest: StreamRangeReply = redis::cmd("XREVRANGE")
            .arg(NOTICES)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(conn)
            .await
            .map_err(|e| e.to_string())?;
        *after = Some(newest.ids.first().map_or("0-0".into(), |e| e.id.clone()));
        *next_sweep = Instant::now();
    }
    if Instant::now() >= *next_sweep {
        sweep(store, b).await?;
        *next_sweep = Instant::now() + SWEEP_EVERY;
    }
    let reply: redis::streams::StreamReadReply = redis::cmd("XREAD")
        .arg("COUNT")
        .arg(1000)
        .arg("BLOCK")
        .arg(NOTICE_BLOCK.as_millis() as u64)
        .arg("STREAMS")
        .arg(NOTICES)
        .arg(after.as_deref().unwrap_or("0-0"))
        .query_async::<Option<redis::streams::StreamReadReply>>(conn)
        .await
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    let mut wanted: Vec<String> = Vec::new();
    for key in reply.keys {
        for entry in key.ids {
            *after = Some(entry.id.clone());
            let Some(id) = field(&entry.map, "c").and_then(|c| std::str::from_utf8(c).ok()) else {
                continue;
            };
            let sequence: u64 = field(&entry.map, "s")
                .and_then(|s| std::str::from_utf8(s).ok()?.parse().ok())
                .unwrap_or(u64::MAX);
            let known = store.cluster(id).map_or(0, |s| s.last_sequence());
            if sequence > known && !wanted.iter().any(|w| w == id) {
                wanted.push(id.to_string());
            }
        }
    }
    read_clusters(store, b, wanted).await?;
    // Answers from the store mean it is back, also when nothing came.
    Ok(())
}
