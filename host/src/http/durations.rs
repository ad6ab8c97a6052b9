//! `dbmon_collection_duration_seconds`: how long collections take, per connector, recorded
//! as the store announces each report ([`Store::subscribe`]): one task for the whole host,
//! whatever the number of clusters, and nothing on the agents' path.

use crate::store::{Notice, Store};
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, Weak},
    time::Duration,
};
use tokio::sync::broadcast::error::RecvError;

/// Upper bounds of the buckets, in seconds (`+Inf` is implied): from a fast local collection
/// to one that uses a long timeout.
pub const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// One connector's histogram.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Observations at most each bound of [`BUCKETS`] and above the one before.
    pub buckets: [u64; BUCKETS.len()],
    /// Sum of the observations, in seconds.
    pub sum: f64,
    /// Observations.
    pub count: u64,
}

impl Histogram {
    /// Counts one duration.
    pub fn observe(&mut self, d: Duration) {
        let seconds = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            self.buckets[i] += 1;
        }
        self.sum += seconds;
        self.count += 1;
    }

    /// `(le, cumulative count)` per bucket, `+Inf` last.
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        let mut total = 0;
        BUCKETS
            .iter()
            .zip(self.buckets.iter())
            .map(move |(le, n)| {
                total += n;
                (*le, total)
            })
            .chain(std::iter::once((f64::INFINITY, self.count)))
    }
}

/// Collection durations since the start, by connector.
#[derive(Debug, Default)]
pub struct Durations {
    by_connector: Mutex<BTreeMap<Arc<str>, Histogram>>,
}

impl Durations {
    /// Durations recorded from now on, as `store` announces reports, by a task that ends with
    /// the store. Needs a tokio runtime.
    pub fn follow(store: &Arc<Store>) -> Arc<Durations> {
        let durations = Arc::new(Durations::default());
        let notices = store.subscribe();
        tokio::spawn(record(
            Arc::downgrade(store),
            Arc::clone(&durations),
            notices,
        ));
        durations
    }

    /// Counts a collection of `connector` that took `d`.
    pub fn observe(&self, connector: &Arc<str>, d: Duration) {
        let mut all = self.by_connector.lock().unwrap_or_else(|p| p.into_inner());
        match all.get_mut(connector) {
            Some(h) => h.observe(d),
            None => {
                let mut h = Histogram::default();
                h.observe(d);
                all.insert(Arc::clone(connector), h);
            }
        }
    }

    /// Every connector's histogram now, by name.
    pub fn snapshot(&self) -> Vec<(Arc<str>, Histogram)> {
        let all = self.by_connector.lock().unwrap_or_else(|p| p.into_inner());
        all.iter()
            .map(|(c, h)| (Arc::clone(c), h.clone()))
            .collect()
    }
}

/// Reports a notice names that are still among a cluster's newest.
const LOOK_BACK: usize = 16;

async fn record(
    store: Weak<Store>,
    durations: Arc<Durations>,
    mut notices: tokio::sync::broadcast::Receiver<Notice>,
) {
    loop {
        let notice = match notices.recv().await {
            Ok(notice) => notice,
            // Those are not counted: a scrape shows a few collections fewer, never wrong ones.
            Err(RecvError::Lagged(missed)) => {
                tracing::debug!("collection durations: {missed} reports not counted");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let Some(store) = store.upgrade() else { return };
        let Some(slot) = store.cluster(&notice.cluster) else {
            continue;
        };
        let report = match slot.latest() {
            Some(r) if r.sequence == notice.sequence => Some(r),
            _ => slot
                .reports(LOOK_BACK, None)
                .into_iter()
                .find(|r| r.sequence == notice.sequence),
        };
        if let Some(report) = report {
            durations.observe(&report.connector, report.duration);
        }
    }
}
