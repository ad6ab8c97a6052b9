//! One `Watch` stream: the current report of each wanted cluster, then every new one.
//!
//! A watcher holds no queue of reports. The store's feed carries small notices; the watcher
//! keeps, per cluster, the sequence it sent last and reads the next report from the history
//! only when the client is ready for it (tonic polls the stream as HTTP/2 flow control lets the
//! last message out). So a client that stops reading pins at most the one report in flight,
//! however large the reports and however many such clients there are.
//!
//! A watcher is behind when the reports that arrived since it started and that it has yet to
//! send add up to more than `api.watch_max_lag_bytes`, or when one of them has already left
//! the history. Its stream then ends with ABORTED, saying how to resume; the host logs it once.
//! That check runs when the stream is polled, which HTTP/2 stops doing while the client reads
//! nothing: for that case [`sweep`] closes the connection of a watcher that was not polled for
//! `api.watch_stall_timeout` while reports came in.

use super::encodings::{Encoded, Encodings};
use crate::{
    listener::Connections,
    store::{ClusterSlot, Next, Notice, Store},
};
use std::{
    collections::{HashMap, HashSet, VecDeque},
    net::SocketAddr,
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::sync::{broadcast, watch};
use tonic::Status;

/// Said when a stream ends early.
const RESUME_HINT: &str = "resume with GetReports(since = collected_at of the last report received) \
     and a new Watch";

/// The open watchers: how many, and what the sweeper needs to see of each.
#[derive(Debug)]
pub struct Watchers {
    open: AtomicUsize,
    pulses: Mutex<Vec<Weak<Pulse>>>,
    started: Instant,
    encodings: Encodings,
}

impl Default for Watchers {
    fn default() -> Self {
        Watchers {
            open: AtomicUsize::new(0),
            pulses: Mutex::default(),
            started: Instant::now(),
            encodings: Encodings::default(),
        }
    }
}

/// When a watcher was last polled, and how many reports the store had then.
#[derive(Debug)]
pub struct Pulse {
    peer: Option<SocketAddr>,
    polled_ms: AtomicU64,
    published: AtomicU64,
    closed: AtomicBool,
}

/// A place among the open watchers, given back when the stream is dropped.
#[derive(Debug)]
pub struct Seat {
    watchers: Arc<Watchers>,
    pulse: Arc<Pulse>,
}

impl Watchers {
    /// A seat for a watcher of `peer`, unless `max` are taken.
    pub fn take(self: &Arc<Self>, max: usize, peer: Option<SocketAddr>) -> Result<Seat, Status> {
        let taken = self.open.fetch_add(1, Ordering::AcqRel);
        if taken >= max {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(Status::resource_exhausted(format!(
                "too many open Watch streams ({max}, the limit api.max_watchers sets); \
                 close one or raise the limit"
            )));
        }
        let pulse = Arc::new(Pulse {
            peer,
            polled_ms: AtomicU64::new(self.now_ms()),
            published: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        });
        let mut pulses = self.pulses.lock().unwrap_or_else(|p| p.into_inner());
        pulses.retain(|p| p.strong_count() > 0);
        pulses.push(Arc::downgrade(&pulse));
        drop(pulses);
        Ok(Seat {
            watchers: Arc::clone(self),
            pulse,
        })
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Watch streams open now (`dbmon_watchers` on `/metrics`).
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

impl Seat {
    fn beat(&self, published: u64) {
        let pulse = &self.pulse;
        pulse
            .polled_ms
            .store(self.watchers.now_ms(), Ordering::Release);
        pulse.published.store(published, Ordering::Release);
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        if self.watchers.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.watchers.encodings.clear();
        }
    }
}

/// Closes the connections of watchers that were not polled for `stall` while reports came in:
/// their clients read nothing, so HTTP/2 flow control keeps the stream from ever being told
/// it is behind. Runs until `shutdown`, then once more with no patience left.
pub async fn sweep(
    watchers: Arc<Watchers>,
    store: Arc<Store>,
    connections: Connections,
    stall: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let every = (stall / 4).clamp(Duration::from_millis(100), Duration::from_secs(1));
    let mut stopping = false;
    loop {
        let patience = if stopping { every } else { stall };
        let now = watchers.now_ms();
        let published = store.published();
        let pulses: Vec<Arc<Pulse>> = watchers
            .pulses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for pulse in pulses {
            let idle =
                Duration::from_millis(now.saturating_sub(pulse.polled_ms.load(Ordering::Acquire)));
            let waiting = published > pulse.published.load(Ordering::Acquire);
            if idle < patience || !(waiting || stopping) || pulse.closed.load(Ordering::Acquire) {
                continue;
            }
            pulse.closed.store(true, Ordering::Release);
            let Some(peer) = pulse.peer else { continue };
            if connections.close(peer) {
                tracing::warn!(
                    "closed the connection of {peer}: its Watch stream read nothing for {} \
                     while reports were waiting",
                    humantime::format_duration(Duration::from_millis(idle.as_millis() as u64))
                );
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            changed = shutdown.changed(), if !stopping => {
                stopping = changed.is_err() || *shutdown.borrow();
            }
        }
    }
}

/// The state of one stream.
pub struct Watcher {
    store: Arc<Store>,
    /// `None`: every cluster.
    wanted: Option<HashSet<Arc<str>>>,
    /// Per cluster, the sequence sent last (0: none yet).
    sent: HashMap<Arc<str>, u64>,
    /// Per cluster, the newest sequence counted in `behind_bytes`.
    counted: HashMap<Arc<str>, u64>,
    /// Per cluster, the sequence of the starting report while it is unsent: it is what the
    /// client asked for, not lag.
    snapshot: HashMap<Arc<str>, u64>,
    /// Clusters that may have a report to send, oldest notice first; each at most once.
    pending: VecDeque<Arc<str>>,
    queued: HashSet<Arc<str>>,
    feed: broadcast::Receiver<Notice>,
    shutdown: watch::Receiver<bool>,
    /// About what the reports not yet sent (the snapshot aside) take on the wire.
    behind_bytes: usize,
    max_lag_bytes: usize,
    ended: bool,
    seat: Seat,
}

impl Watcher {
    /// A watcher of `wanted` (empty: all), subscribed before it reads the current reports so
    /// that no report falls between the two.
    pub fn new(
        store: Arc<Store>,
        wanted: Vec<String>,
        shutdown: watch::Receiver<bool>,
        max_lag_bytes: usize,
        seat: Seat,
    ) -> Watcher {
        let feed = store.subscribe();
        let wanted: Option<HashSet<Arc<str>>> =
            (!wanted.is_empty()).then(|| wanted.into_iter().map(Arc::from).collect());
        let mut watcher = Watcher {
            store,
            wanted,
            sent: HashMap::new(),
            counted: HashMap::new(),
            snapshot: HashMap::new(),
            pending: VecDeque::new(),
            queued: HashSet::new(),
            feed,
            shutdown,
            behind_bytes: 0,
            max_lag_bytes,
            ended: false,
            seat,
        };
        for slot in watcher.store.clusters() {
            if watcher.wants(&slot.info.id) {
                watcher.start(&slot);
            }
        }
        watcher
    }

    /// Starts following a cluster: from its newest report (the snapshot), not the history
    /// before it.
    fn start(&mut self, slot: &ClusterSlot) {
        let id = &slot.info.id;
        let latest = slot.latest().map_or(0, |r| r.sequence);
        self.sent.insert(Arc::clone(id), latest.saturating_sub(1));
        self.counted.insert(Arc::clone(id), latest);
        if latest > 0 {
            self.snapshot.insert(Arc::clone(id), latest);
            self.queue(id);
        }
    }

    /// A wanted cluster the store gained after this watcher started: every report of it is
    /// new to the watcher, from the first one still stored.
    fn start_added(&mut self, id: &Arc<str>) -> bool {
        if !self.wants(id) || self.sent.contains_key(id) {
            return false;
        }
        let Some(slot) = self.store.cluster(id) else {
            return false;
        };
        let oldest = slot.reports(0, None).last().map_or(0, |r| r.sequence);
        self.sent.insert(Arc::clone(id), oldest.saturating_sub(1));
        self.counted
            .insert(Arc::clone(id), oldest.saturating_sub(1));
        true
    }

    fn wants(&self, id: &str) -> bool {
        self.wanted.as_ref().is_none_or(|w| w.contains(id))
    }

    fn queue(&mut self, id: &Arc<str>) {
        if self.queued.insert(Arc::clone(id)) {
            self.pending.push_back(Arc::clone(id));
        }
    }

    fn note(&mut self, notice: Notice) {
        self.start_added(&notice.cluster);
        let Some(counted) = self.counted.get_mut(&notice.cluster) else {
            return;
        };
        if notice.sequence > *counted {
            *counted = notice.sequence;
            self.behind_bytes += notice.wire_bytes;
            self.queue(&notice.cluster);
        }
    }

    /// After missed notices: what is behind comes from the history itself.
    fn rescan(&mut self) {
        self.behind_bytes = 0;
        let store = Arc::clone(&self.store);
        for slot in store.clusters() {
            self.start_added(&slot.info.id);
        }
        let ids: Vec<Arc<str>> = self.sent.keys().cloned().collect();
        for id in ids {
            let Some(slot) = store.cluster(&id) else {
                continue;
            };
            let from = self.snapshot.get(&id).copied().unwrap_or(self.sent[&id]);
            let latest = slot.latest().map_or(0, |r| r.sequence);
            self.behind_bytes += slot.wire_bytes_after(from);
            self.counted.insert(Arc::clone(&id), latest.max(from));
            if latest > self.sent[&id] {
                self.queue(&id);
            }
        }
    }

    fn end(&mut self, status: Status) -> Option<Result<Encoded, Status>> {
        self.ended = true;
        Some(Err(status))
    }

    fn fell_behind(&mut self, why: String) -> Option<Result<Encoded, Status>> {
        let peer = self
            .seat
            .pulse
            .peer
            .map_or_else(|| "a client".into(), |p| p.to_string());
        tracing::warn!("ended the Watch stream of {peer}: it fell behind ({why})");
        self.end(Status::aborted(format!(
            "this Watch stream fell behind: {why}; {RESUME_HINT}"
        )))
    }

    /// The next message of the stream; `None` after it ended.
    pub async fn next(&mut self) -> Option<Result<Encoded, Status>> {
        if self.ended {
            return None;
        }
        loop {
            self.seat.beat(self.store.published());
            loop {
                match self.feed.try_recv() {
                    Ok(notice) => self.note(notice),
                    Err(broadcast::error::TryRecvError::Lagged(_)) => self.rescan(),
                    Err(_) => break,
                }
            }
            if *self.shutdown.borrow() {
                return self.end(stopping());
            }
            if self.behind_bytes > self.max_lag_bytes {
                let why = format!(
                    "about {} KiB of reports not yet read, the limit api.watch_max_lag_bytes \
                     sets is {} KiB",
                    self.behind_bytes / 1024,
                    self.max_lag_bytes / 1024
                );
                return self.fell_behind(why);
            }
            if let Some(id) = self.pending.pop_front() {
                self.queued.remove(&id);
                if let Some(sent) = self.send_next(&id) {
                    return sent;
                }
                continue;
            }
            tokio::select! {
                notice = self.feed.recv() => match notice {
                    Ok(notice) => self.note(notice),
                    Err(broadcast::error::RecvError::Lagged(_)) => self.rescan(),
                    Err(broadcast::error::RecvError::Closed) => return self.end(stopping()),
                },
                changed = self.shutdown.changed() => if changed.is_err() {
                    return self.end(stopping());
                },
            }
        }
    }

    /// `Some(message)` to send for cluster `id` (a report, or the stream's end); `None` when
    /// it has nothing new.
    fn send_next(&mut self, id: &Arc<str>) -> Option<Option<Result<Encoded, Status>>> {
        let slot = self.store.cluster(id)?;
        let sent = self.sent[id];
        match slot.next_after(sent) {
            Next::Report(report) => {
                self.sent.insert(Arc::clone(id), report.sequence);
                if self.snapshot.remove(id) != Some(report.sequence) {
                    self.behind_bytes = self.behind_bytes.saturating_sub(report.wire_bytes());
                }
                if slot.latest().is_some_and(|l| l.sequence > report.sequence) {
                    self.queue(id);
                }
                Some(Some(Ok(self.seat.watchers.encodings.of(&report))))
            }
            Next::UpToDate => None,
            Next::Gone { .. } if self.snapshot.contains_key(id) => {
                // The starting report left the history before it went out: start from the
                // newest instead.
                let latest = slot.latest().map_or(sent + 1, |r| r.sequence);
                self.sent.insert(Arc::clone(id), latest - 1);
                self.snapshot.insert(Arc::clone(id), latest);
                self.rescan();
                None
            }
            Next::Gone { missed } => {
                let why = format!(
                    "reports {}..{} of cluster '{id}' left the history before they could be sent",
                    missed.start,
                    missed.end - 1
                );
                Some(self.fell_behind(why))
            }
        }
    }
}

/// How open streams end when the host stops.
pub fn stopping() -> Status {
    Status::unavailable(
        "the dbmon server is stopping; reconnect when it is back and resume with \
         GetReports(since = collected_at of the last report received)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ClusterInfo, Collection, Outcome};
    use std::time::SystemTime;

    fn info(id: &str) -> ClusterInfo {
        ClusterInfo {
            id: id.into(),
            connector: "c".into(),
            endpoints: vec![],
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
        }
    }

    async fn record(store: &Store, id: &str, sequence: u64) {
        let mut b = dbmon_connector_api::Report::new();
        b.metric("m", sequence as f64);
        let collected = crate::plugins::convert::collected(&b.into_ffi()).unwrap();
        store
            .cluster(id)
            .unwrap()
            .record(Collection {
                sequence,
                started_at: SystemTime::now(),
                duration: Duration::from_millis(1),
                outcome: Outcome::Collected(collected),
                origin: None,
            })
            .await
            .unwrap();
    }

    async fn next_of(watcher: &mut Watcher) -> (String, u64) {
        let message = tokio::time::timeout(Duration::from_secs(5), watcher.next())
            .await
            .expect("a report within 5 s")
            .expect("the stream goes on")
            .expect("a report, not an error");
        let report: dbmon_proto::Report = prost::Message::decode(&*message).unwrap();
        (report.cluster_id, report.sequence)
    }

    fn watcher(store: &Arc<Store>, wanted: Vec<String>) -> (Watcher, watch::Sender<bool>) {
        let (stop, stopped) = watch::channel(false);
        let seat = Arc::new(Watchers::default()).take(4, None).unwrap();
        let watcher = Watcher::new(Arc::clone(store), wanted, stopped, 1 << 20, seat);
        (watcher, stop)
    }

    #[tokio::test]
    async fn a_watch_of_every_cluster_streams_clusters_added_after_it_opened() {
        let store = Arc::new(Store::new([info("a")], 10));
        record(&store, "a", 1).await;
        let (mut all, _stop) = watcher(&store, vec![]);
        let (mut only_a, _stop_a) = watcher(&store, vec!["a".into()]);
        assert_eq!(next_of(&mut all).await, ("a".into(), 1));
        assert_eq!(next_of(&mut only_a).await, ("a".into(), 1));
        let added = store.add_cluster(info("late"));
        assert!(Arc::ptr_eq(&added, &store.add_cluster(info("late"))));
        record(&store, "late", 5).await;
        record(&store, "late", 6).await;
        record(&store, "a", 2).await;
        assert_eq!(next_of(&mut all).await, ("late".into(), 5));
        let mut rest = vec![next_of(&mut all).await, next_of(&mut all).await];
        rest.sort();
        assert_eq!(rest, vec![("a".into(), 2), ("late".into(), 6)]);
        assert_eq!(
            next_of(&mut only_a).await,
            ("a".into(), 2),
            "a watch of named clusters does not take new ones"
        );
    }

    #[tokio::test]
    async fn a_watcher_that_missed_notices_finds_added_clusters_on_its_rescan() {
        let store = Arc::new(Store::new([info("a")], 10));
        let (mut all, _stop) = watcher(&store, vec![]);
        store.add_cluster(info("late"));
        record(&store, "late", 1).await;
        // As after a lagged feed: the watcher learns of the new cluster from the store.
        all.feed = store.subscribe();
        all.rescan();
        assert_eq!(next_of(&mut all).await, ("late".into(), 1));
    }
}
