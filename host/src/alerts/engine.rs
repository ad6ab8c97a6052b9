//! Follows the store's notices, runs each cluster's [`Tracker`], and hands the alerts to the
//! targets' queues: a new alert and a resolved one at once, firing ones again every `resend`.
//! One task for the whole host; it reads reports the store keeps anyway and never waits on a
//! target.

use super::{
    Deliveries,
    deliver::Queue,
    payload::{self, Alert, Facts},
    tracker::Tracker,
};
use crate::{
    config::Alerts,
    store::{Notice, Report, Store},
};
use dbmon_connector_api::Status;
use std::{
    collections::HashMap,
    sync::{Arc, Weak, atomic::Ordering},
    time::{Duration, Instant, SystemTime},
};
use tokio::sync::{broadcast::error::RecvError, watch};

/// How often firing alerts are checked for a resend.
const TICK: Duration = Duration::from_millis(250);
/// Reports a notice names that are still among a cluster's newest.
const LOOK_BACK: usize = 16;

/// A cluster's firing alert.
#[derive(Debug)]
struct Firing {
    status: Status,
    starts_at: SystemTime,
    connector: Arc<str>,
    reasons: Vec<String>,
    sent: Instant,
}

/// One cluster as the engine follows it.
#[derive(Debug)]
struct Cluster {
    tracker: Tracker,
    /// The newest sequence seen.
    sequence: u64,
    firing: Option<Firing>,
}

/// The engine's state.
pub struct Engine {
    settings: Alerts,
    queues: Vec<Queue>,
    deliveries: Arc<Deliveries>,
    clusters: HashMap<Arc<str>, Cluster>,
}

impl Engine {
    /// An engine that sends to `queues`.
    pub fn new(settings: Alerts, queues: Vec<Queue>, deliveries: Arc<Deliveries>) -> Engine {
        Engine {
            settings,
            queues,
            deliveries,
            clusters: HashMap::new(),
        }
    }

    /// Follows `store` until it is dropped or `stopped`.
    pub async fn run(
        mut self,
        store: Weak<Store>,
        mut notices: tokio::sync::broadcast::Receiver<Notice>,
        mut stopped: watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                notice = notices.recv() => {
                    let Some(store) = store.upgrade() else { return };
                    match notice {
                        Ok(notice) => self.on_notice(&store, &notice),
                        // Missed notices: each cluster's newest report stands for them.
                        Err(RecvError::Lagged(_)) => self.catch_up(&store),
                        Err(RecvError::Closed) => return,
                    }
                }
                _ = tick.tick() => self.resend_due(Instant::now(), SystemTime::now()),
                _ = stopped.wait_for(|s| *s) => return,
            }
        }
    }

    fn on_notice(&mut self, store: &Store, notice: &Notice) {
        let Some(slot) = store.cluster(&notice.cluster) else {
            return;
        };
        let report = match slot.latest() {
            Some(r) if r.sequence == notice.sequence => Some(r),
            _ => slot
                .reports(LOOK_BACK, None)
                .into_iter()
                .find(|r| r.sequence == notice.sequence),
        };
        if let Some(report) = report {
            self.observe(&report, SystemTime::now());
        }
    }

    fn catch_up(&mut self, store: &Store) {
        for slot in store.clusters() {
            if let Some(report) = slot.latest() {
                self.observe(&report, SystemTime::now());
            }
        }
    }

    /// One report of a cluster, at `now`; what changes is sent at once.
    pub fn observe(&mut self, report: &Report, now: SystemTime) {
        let for_reports = self.settings.for_reports;
        let cluster = self
            .clusters
            .entry(Arc::clone(&report.cluster))
            .or_insert_with(|| Cluster {
                tracker: Tracker::new(for_reports),
                sequence: 0,
                firing: None,
            });
        if report.sequence <= cluster.sequence {
            return;
        }
        cluster.sequence = report.sequence;
        let Some(transition) = cluster.tracker.observe(report.status, report.collected_at) else {
            if let Some(firing) = &mut cluster.firing
                && firing.status == report.status
            {
                firing.reasons.clone_from(&report.reasons);
            }
            return;
        };
        let mut batch = Vec::new();
        if transition.resolved.is_some()
            && let Some(old) = cluster.firing.take()
        {
            batch.push(alert(&self.settings, &report.cluster, &old, now));
        }
        if let Some((status, since)) = transition.fired {
            let firing = Firing {
                status,
                starts_at: since,
                connector: Arc::clone(&report.connector),
                reasons: report.reasons.clone(),
                sent: Instant::now(),
            };
            let ends = now + payload::firing_for(self.settings.resend);
            batch.push(alert(&self.settings, &report.cluster, &firing, ends));
            cluster.firing = Some(firing);
        }
        self.send(&batch);
    }

    /// Firing alerts not sent for `resend` by `now` (`wall` on the clock), again.
    pub fn resend_due(&mut self, now: Instant, wall: SystemTime) {
        let resend = self.settings.resend;
        let ends = wall + payload::firing_for(resend);
        let mut batch = Vec::new();
        for (id, cluster) in &mut self.clusters {
            if let Some(firing) = &mut cluster.firing
                && now.saturating_duration_since(firing.sent) >= resend
            {
                firing.sent = now;
                batch.push(alert(&self.settings, id, firing, ends));
            }
        }
        self.send(&batch);
    }

    /// Clusters whose alert is firing.
    pub fn firing(&self) -> usize {
        self.clusters
            .values()
            .filter(|c| c.firing.is_some())
            .count()
    }

    fn send(&self, batch: &[Alert]) {
        self.deliveries
            .firing
            .store(self.firing() as u64, Ordering::Relaxed);
        if batch.is_empty() {
            return;
        }
        let body: Arc<[u8]> = serde_json::to_vec(batch).expect("alerts serialize").into();
        for queue in &self.queues {
            queue.push(Arc::clone(&body));
        }
    }
}

fn alert(settings: &Alerts, cluster: &str, firing: &Firing, ends_at: SystemTime) -> Alert {
    Facts {
        cluster,
        connector: &firing.connector,
        status: firing.status,
        reasons: &firing.reasons,
        starts_at: firing.starts_at,
        external_url: settings.external_url.as_deref(),
    }
    .alert(ends_at)
}
