//! One `Watch` stream: the current report of each wanted cluster, then every new one.
//!
//! A watcher holds no queue of reports. The store's feed carries small notices; the watcher
//! keeps, per cluster, the sequence it sent last and reads the next report from the history
//! only when the client is ready for it (tonic polls the stream as HTTP/2 flow control lets the
//! last message out). So a client that stops reading pins at most the one report in flight,
//! however large the reports and however many such clients there are.
//!
//! A watcher is behind when the reports it has yet to send add up to more than
//! `api.watch_max_lag_bytes`, or when one of them has already left the history. Its stream then
//! ends with ABORTED, saying how to resume; the host logs it once.

use super::convert;
use crate::store::{Next, Notice, Store};
use dbmon_proto as proto;
use std::{
    collections::{HashMap, HashSet, VecDeque},
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};
use tokio::sync::{broadcast, watch};
use tonic::Status;

/// Why and to whom: shown when a stream ends early.
const RESUME_HINT: &str = "resume with GetReports(since = collected_at of the last report received) \
     and a new Watch";

/// Counts open watchers; one is held by each stream.
#[derive(Debug, Default)]
pub struct WatcherCount(AtomicUsize);

/// A place among the open watchers, given back when the stream is dropped.
#[derive(Debug)]
pub struct Seat(Arc<WatcherCount>);

impl WatcherCount {
    /// A seat, unless `max` are taken.
    pub fn take(self: &Arc<Self>, max: usize) -> Result<Seat, Status> {
        let taken = self.0.fetch_add(1, Ordering::AcqRel);
        if taken >= max {
            self.0.fetch_sub(1, Ordering::AcqRel);
            return Err(Status::resource_exhausted(format!(
                "too many open Watch streams ({max}, the limit api.max_watchers sets); \
                 close one or raise the limit"
            )));
        }
        Ok(Seat(Arc::clone(self)))
    }

    /// Open watchers.
    pub fn open(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The state of one stream.
pub struct Watcher {
    store: Arc<Store>,
    /// `None`: every cluster.
    wanted: Option<HashSet<Arc<str>>>,
    /// Per cluster, the sequence sent last (0: none yet).
    sent: HashMap<Arc<str>, u64>,
    /// Clusters that may have a report to send, oldest notice first; each at most once.
    pending: VecDeque<Arc<str>>,
    queued: HashSet<Arc<str>>,
    feed: broadcast::Receiver<Notice>,
    shutdown: watch::Receiver<bool>,
    /// About what the reports not yet sent take on the wire.
    behind_bytes: usize,
    max_lag_bytes: usize,
    peer: Option<SocketAddr>,
    ended: bool,
    _seat: Seat,
}

impl Watcher {
    /// A watcher of `wanted` (empty: all), subscribed before it reads the current reports so
    /// that no report falls between the two.
    pub fn new(
        store: Arc<Store>,
        wanted: Vec<String>,
        shutdown: watch::Receiver<bool>,
        max_lag_bytes: usize,
        peer: Option<SocketAddr>,
        seat: Seat,
    ) -> Watcher {
        let feed = store.subscribe();
        let wanted: Option<HashSet<Arc<str>>> =
            (!wanted.is_empty()).then(|| wanted.into_iter().map(Arc::from).collect());
        let mut watcher = Watcher {
            store,
            wanted,
            sent: HashMap::new(),
            pending: VecDeque::new(),
            queued: HashSet::new(),
            feed,
            shutdown,
            behind_bytes: 0,
            max_lag_bytes,
            peer,
            ended: false,
            _seat: seat,
        };
        let store = Arc::clone(&watcher.store);
        for slot in store.clusters() {
            let id = &slot.info.id;
            if !watcher.wants(id) {
                continue;
            }
            // The snapshot: the newest report, not the history before it.
            let latest = slot.latest();
            let from = latest.as_ref().map_or(0, |r| r.sequence - 1);
            watcher.sent.insert(Arc::clone(id), from);
            if let Some(latest) = latest {
                watcher.behind_bytes += latest.wire_bytes();
                watcher.queue(id);
            }
        }
        watcher
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
        let Some(&sent) = self.sent.get(&notice.cluster) else {
            return;
        };
        if notice.sequence > sent {
            self.behind_bytes += notice.wire_bytes;
            self.queue(&notice.cluster);
        }
    }

    /// After missed notices: what is behind comes from the history itself.
    fn rescan(&mut self) {
        self.behind_bytes = 0;
        let store = Arc::clone(&self.store);
        let ids: Vec<(Arc<str>, u64)> = self
            .sent
            .iter()
            .map(|(id, s)| (Arc::clone(id), *s))
            .collect();
        for (id, sent) in ids {
            if let Some(slot) = store.cluster(&id) {
                let bytes = slot.wire_bytes_after(sent);
                if bytes > 0 {
                    self.behind_bytes += bytes;
                    self.queue(&id);
                }
            }
        }
    }

    fn end(&mut self, status: Status) -> Option<Result<proto::Report, Status>> {
        self.ended = true;
        Some(Err(status))
    }

    fn fell_behind(&mut self, why: String) -> Option<Result<proto::Report, Status>> {
        let peer = self
            .peer
            .map_or_else(|| "a client".into(), |p| p.to_string());
        tracing::warn!("ended the Watch stream of {peer}: it fell behind ({why})");
        self.end(Status::aborted(format!(
            "this Watch stream fell behind: {why}; {RESUME_HINT}"
        )))
    }

    /// The next message of the stream; `None` after it ended.
    pub async fn next(&mut self) -> Option<Result<proto::Report, Status>> {
        if self.ended {
            return None;
        }
        loop {
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
                let Some(slot) = self.store.cluster(&id).cloned() else {
                    continue;
                };
                let sent = self.sent[&id];
                match slot.next_after(sent) {
                    Next::Report(report) => {
                        self.sent.insert(Arc::clone(&id), report.sequence);
                        self.behind_bytes = self.behind_bytes.saturating_sub(report.wire_bytes());
                        if slot.latest().is_some_and(|l| l.sequence > report.sequence) {
                            self.queue(&id);
                        }
                        return Some(Ok(convert::report(&report)));
                    }
                    Next::UpToDate => continue,
                    Next::Gone { missed } => {
                        let why = format!(
                            "reports {}..{} of cluster '{id}' left the history before they \
                             could be sent",
                            missed.start,
                            missed.end - 1
                        );
                        return self.fell_behind(why);
                    }
                }
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
}

/// How open streams end when the host stops.
pub fn stopping() -> Status {
    Status::unavailable(
        "the dbmon server is stopping; reconnect when it is back and resume with \
         GetReports(since = collected_at of the last report received)",
    )
}
