//! What `dbmon top` knows of one cluster: its listing, its latest report and a short history.

use super::verdict::Verdict;
use dbmon_proto as proto;
use std::{
    collections::VecDeque,
    time::{Duration, SystemTime},
};

/// Values kept per series for the sparklines: enough for a line across a wide terminal.
pub const HISTORY: usize = 60;

/// The newest `HISTORY` values of a series, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    values: VecDeque<f64>,
}

impl History {
    /// Appends `value`, dropping the oldest once `HISTORY` are kept.
    pub fn push(&mut self, value: f64) {
        if self.values.len() == HISTORY {
            self.values.pop_front();
        }
        self.values.push_back(value);
    }

    /// The kept values, oldest first.
    pub fn values(&self) -> impl ExactSizeIterator<Item = f64> + '_ {
        self.values.iter().copied()
    }

    /// The newest value.
    pub fn last(&self) -> Option<f64> {
        self.values.back().copied()
    }
}

/// One cluster as the view shows it.
#[derive(Debug, Clone)]
pub struct ClusterState {
    /// Its id.
    pub id: String,
    /// Its connector's name.
    pub connector: String,
    /// The collector that collects it; empty when the server does.
    pub collector: String,
    /// The latest verdict.
    pub verdict: Verdict,
    /// Why the verdict is not healthy.
    pub reasons: Vec<String>,
    /// What the server said about it besides the report (why it is stale, the store's
    /// state), as of the last listing; cleared by a newer report.
    pub notes: Vec<String>,
    /// Whether the server called it stale at the last listing (cleared by a newer report).
    pub listed_stale: bool,
    /// Its collection interval, when listed.
    pub interval: Option<Duration>,
    /// When its latest report was collected.
    pub last_report_at: Option<SystemTime>,
    /// Its latest report (the only one kept whole).
    pub latest: Option<proto::Report>,
    /// Collection durations in milliseconds, per report.
    pub durations: History,
}

impl ClusterState {
    /// A cluster known by id only, until its listing or a report says more.
    pub fn new(id: &str) -> ClusterState {
        ClusterState {
            id: id.to_string(),
            connector: String::new(),
            collector: String::new(),
            verdict: Verdict::Unknown,
            reasons: Vec::new(),
            notes: Vec::new(),
            listed_stale: false,
            interval: None,
            last_report_at: None,
            latest: None,
            durations: History::default(),
        }
    }

    /// Takes what the server's listing says.
    pub fn list(&mut self, cluster: &proto::Cluster) {
        self.connector.clone_from(&cluster.connector);
        self.collector.clone_from(&cluster.collector);
        self.interval = cluster.interval.and_then(|d| Duration::try_from(d).ok());
        let listed_at = time(cluster.last_report_at.as_ref());
        // The listing speaks for the cluster unless a newer report is already here.
        if self.last_report_at.is_none() || listed_at >= self.last_report_at {
            self.verdict = Verdict::from_code(cluster.status);
            self.reasons.clone_from(&cluster.reasons);
            self.last_report_at = listed_at.or(self.last_report_at);
            self.listed_stale = cluster.stale;
            self.notes = [&cluster.store_note, &cluster.stale_reason]
                .into_iter()
                .filter(|note| !note.is_empty())
                .cloned()
                .collect();
        }
    }

    /// Takes `report` when it is newer than the latest one; says whether it was.
    pub fn record(&mut self, report: proto::Report) -> bool {
        let collected_at = time(report.collected_at.as_ref());
        let newer = match (&self.latest, collected_at) {
            (None, _) | (_, None) => true,
            (Some(latest), Some(at)) => time(latest.collected_at.as_ref()).is_none_or(|l| at > l),
        };
        if !newer {
            return false;
        }
        self.connector.clone_from(&report.connector);
        self.collector.clone_from(&report.collector);
        self.verdict = Verdict::from_code(report.status);
        self.reasons.clone_from(&report.reasons);
        self.notes.clear();
        self.listed_stale = false;
        self.last_report_at = collected_at.or(self.last_report_at);
        self.durations.push(millis(report.duration.as_ref()));
        self.latest = Some(report);
        true
    }

    /// Stale at `now`: the server said so, or no report came for three intervals.
    pub fn stale(&self, now: SystemTime) -> bool {
        let overdue = match (self.interval, self.last_report_at) {
            (Some(interval), Some(at)) => now.duration_since(at).unwrap_or_default() > interval * 3,
            _ => false,
        };
        self.listed_stale || overdue
    }

    /// How long ago its latest report was collected, at `now`.
    pub fn age(&self, now: SystemTime) -> Option<Duration> {
        Some(now.duration_since(self.last_report_at?).unwrap_or_default())
    }

    /// The first `n` cluster-level metrics of the latest report.
    pub fn key_metrics(&self, n: usize) -> &[proto::Metric] {
        let metrics = self.latest.as_ref().map_or(&[][..], |r| &r.metrics[..]);
        &metrics[..n.min(metrics.len())]
    }
}

/// A proto timestamp as a `SystemTime`.
pub fn time(t: Option<&prost_types::Timestamp>) -> Option<SystemTime> {
    SystemTime::try_from(*t?).ok()
}

/// A proto duration in milliseconds (0 when unset).
pub fn millis(d: Option<&prost_types::Duration>) -> f64 {
    d.map_or(0.0, |d| d.seconds as f64 * 1e3 + d.nanos as f64 / 1e6)
}
