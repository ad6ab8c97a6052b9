//! The bounded history of one cluster: the newest report whole, older ones with their values
//! packed against the next newer report. Reads decode from the newest backwards and never
//! drain anything.

use super::{
    Origin,
    packed::Packed,
    report::{Encoding, Report, Schema},
};
use crate::rules::Fired;
use dbmon_connector_api::{NodeStatus, Status};
use std::{
    collections::VecDeque,
    sync::{Arc, OnceLock},
    time::{Duration, SystemTime},
};

/// Up to `capacity` reports of one cluster.
#[derive(Debug)]
pub struct History {
    capacity: usize,
    latest: Option<Arc<Report>>,
    /// Newest first.
    older: VecDeque<Older>,
}

/// An older report, its values packed against the next newer report's. It keeps only what a
/// report does not share with its newer one: the cluster id is the history's; the node
/// statuses, reasons and fired rules only when they differ from the newer report's (a verdict
/// that repeats word for word is kept once; reasons that carry changing figures still cost a
/// copy per report); an error and an origin, which most reports lack, behind one pointer.
#[derive(Debug)]
struct Older {
    sequence: u64,
    collected_at: SystemTime,
    duration: Duration,
    last_success: Option<SystemTime>,
    consecutive_failures: u32,
    status: Status,
    connector: Arc<str>,
    schema: Arc<Schema>,
    values: Packed,
    /// `None`: the same as the newer report's.
    node_status: Option<Box<[NodeStatus]>>,
    /// `None`: nothing of its own.
    rare: Option<Box<Rare>>,
    /// The encoding the report had when it left the top, if one was kept; else made by the
    /// first reader, and shared with every later one.
    encoding: OnceLock<Arc<Encoding>>,
}

/// What an older report has of its own, beyond its values.
#[derive(Debug)]
struct Rare {
    /// `None`: the same as the newer report's.
    reasons: Option<Vec<String>>,
    /// `None`: the same as the newer report's.
    fired: Option<Vec<Fired>>,
    error: Option<String>,
    origin: Option<Origin>,
}

impl Older {
    /// `report` kept below `newer`.
    fn new(report: &Report, newer: &Report) -> Older {
        let values = if Arc::ptr_eq(&report.schema, &newer.schema) {
            Packed::new(&report.values, &newer.values)
        } else {
            Packed::Raw(report.values.clone())
        };
        let rare = Rare {
            reasons: (report.reasons != newer.reasons).then(|| report.reasons.clone()),
            fired: (report.fired != newer.fired).then(|| report.fired.clone()),
            error: report.error.clone(),
            origin: report.origin.clone(),
        };
        let own = rare.reasons.is_some()
            || rare.fired.is_some()
            || rare.error.is_some()
            || rare.origin.is_some();
        let encoding = OnceLock::new();
        if report.encoding.is_kept() {
            let _ = encoding.set(Arc::clone(&report.encoding));
        }
        Older {
            sequence: report.sequence,
            collected_at: report.collected_at,
            duration: report.duration,
            last_success: report.last_success,
            consecutive_failures: report.consecutive_failures,
            status: report.status,
            connector: Arc::clone(&report.connector),
            schema: Arc::clone(&report.schema),
            values,
            node_status: (report.node_status != newer.node_status)
                .then(|| report.node_status.clone()),
            rare: own.then(|| Box::new(rare)),
            encoding,
        }
    }

    fn node_status(&self) -> Option<&[NodeStatus]> {
        self.node_status.as_deref()
    }

    fn reasons(&self) -> Option<&[String]> {
        self.rare.as_ref()?.reasons.as_deref()
    }

    fn fired(&self) -> Option<&[Fired]> {
        self.rare.as_ref()?.fired.as_deref()
    }

    /// The report, given the next newer one.
    fn report(&self, newer: &Report) -> Report {
        let shared = Shared {
            node_status: self.node_status().unwrap_or(&newer.node_status),
            reasons: self.reasons().unwrap_or(&newer.reasons),
            fired: self.fired().unwrap_or(&newer.fired),
        };
        Report {
            values: self.values.unpack(&newer.values),
            ..self.head(newer, shared)
        }
    }

    /// The report without its values: the cluster id from any newer report of the history,
    /// what it shares with newer reports as given.
    fn head(&self, newer: &Report, shared: Shared<'_>) -> Report {
        let encoding = self
            .encoding
            .get_or_init(|| Arc::new(newer.encoding.sibling()));
        let rare = self.rare.as_deref();
        Report {
            cluster: Arc::clone(&newer.cluster),
            connector: Arc::clone(&self.connector),
            sequence: self.sequence,
            collected_at: self.collected_at,
            duration: self.duration,
            status: self.status,
            reasons: shared.reasons.to_vec(),
            fired: shared.fired.to_vec(),
            error: rare.and_then(|r| r.error.clone()),
            consecutive_failures: self.consecutive_failures,
            last_success: self.last_success,
            schema: Arc::clone(&self.schema),
            values: Box::default(),
            node_status: shared.node_status.into(),
            encoding: Arc::clone(encoding),
            origin: rare.and_then(|r| r.origin.clone()),
        }
    }
}

/// What an older report may share with newer ones, found.
struct Shared<'a> {
    node_status: &'a [NodeStatus],
    reasons: &'a [String],
    fired: &'a [Fired],
}

impl History {
    /// An empty history keeping `capacity` (≥ 1) reports.
    pub fn new(capacity: usize) -> History {
        History {
            capacity: capacity.max(1),
            latest: None,
            older: VecDeque::new(),
        }
    }

    /// Reports kept at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The newest report.
    pub fn latest(&self) -> Option<&Arc<Report>> {
        self.latest.as_ref()
    }

    /// Whether nothing is stored yet.
    pub fn is_empty(&self) -> bool {
        self.latest.is_none()
    }

    /// Room kept for older reports (what a full history must not exceed).
    #[cfg(test)]
    pub fn older_room(&self) -> usize {
        self.older.capacity()
    }

    /// Reports stored.
    pub fn len(&self) -> usize {
        self.latest.iter().count() + self.older.len()
    }

    /// Adds the newest report, dropping the oldest beyond capacity.
    pub fn push(&mut self, report: Arc<Report>) {
        let previous = self.latest.replace(Arc::clone(&report));
        if let Some(previous) = previous.filter(|_| self.capacity > 1) {
            let keep = self.capacity - 1;
            // Room for the one leaving before the one coming: a full deque would double.
            self.older.truncate(keep - 1);
            if self.older.len() == self.older.capacity() {
                // Grown by doubling up to exactly what is kept: a full history of 99 older
                // reports would otherwise sit in room for 128.
                let room = (self.older.len() * 2).max(4).min(keep);
                self.older.reserve_exact(room - self.older.len());
            }
            self.older.push_front(Older::new(&previous, &report));
        }
    }

    /// Drops the reports collected before `cutoff` (the newest too, when it is that old).
    pub fn drop_older_than(&mut self, cutoff: SystemTime) {
        while self.older.back().is_some_and(|r| r.collected_at < cutoff) {
            self.older.pop_back();
        }
        if self.older.is_empty()
            && self
                .latest
                .as_ref()
                .is_some_and(|r| r.collected_at < cutoff)
        {
            self.latest = None;
        }
    }

    /// Up to `limit` reports (0: all), newest first, stopping at the first collected at or
    /// before `since`.
    pub fn newest(&self, limit: usize, since: Option<SystemTime>) -> Vec<Arc<Report>> {
        let limit = if limit == 0 { usize::MAX } else { limit };
        let mut out: Vec<Arc<Report>> = Vec::new();
        let Some(latest) = &self.latest else {
            return out;
        };
        let fresh = |collected_at: SystemTime| since.is_none_or(|s| collected_at > s);
        if !fresh(latest.collected_at) {
            return out;
        }
        out.push(Arc::clone(latest));
        for older in &self.older {
            if out.len() >= limit || !fresh(older.collected_at) {
                break;
            }
            // Each older report is kept against the next newer one.
            let newer = out.last().expect("the latest is in");
            let report = older.report(newer);
            out.push(Arc::new(report));
        }
        out
    }

    /// Where the oldest report newer than sequence `after` is. Decoding it is left to
    /// [`Found::decode`], which needs no lock on the history.
    pub fn next_after(&self, after: u64) -> Found {
        let Some(latest) = &self.latest else {
            return Found::Next(Next::UpToDate);
        };
        if latest.sequence <= after {
            return Found::Next(Next::UpToDate);
        }
        let oldest = self.older.back().map_or(latest.sequence, |r| r.sequence);
        if oldest > after + 1 {
            return Found::Next(Next::Gone {
                missed: after + 1..oldest,
            });
        }
        if latest.sequence == after + 1 {
            return Found::Next(Next::Report(Arc::clone(latest)));
        }
        // Each older report is kept against the next newer one: take the packings from the
        // newest down to the wanted one.
        let steps = self
            .older
            .iter()
            .position(|r| r.sequence <= after + 1)
            .map_or(self.older.len(), |i| i + 1);
        let path = self.older.range(..steps);
        let chain: Vec<Packed> = path.clone().map(|r| r.values.clone()).collect();
        // Shared facts: from the wanted report, or the nearest newer one that has its own.
        let shared = Shared {
            node_status: path
                .clone()
                .rev()
                .find_map(Older::node_status)
                .unwrap_or(&latest.node_status),
            reasons: path
                .clone()
                .rev()
                .find_map(Older::reasons)
                .unwrap_or(&latest.reasons),
            fired: path.rev().find_map(Older::fired).unwrap_or(&latest.fired),
        };
        let head = self.older[steps - 1].head(latest, shared);
        Found::Packed(Box::new(Unpack {
            newest: Arc::clone(latest),
            chain,
            head,
        }))
    }

    /// About how many wire bytes the reports newer than sequence `after` take.
    pub fn wire_bytes_after(&self, after: u64) -> usize {
        let Some(latest) = self.latest.as_ref().filter(|r| r.sequence > after) else {
            return 0;
        };
        let mut reasons: &[String] = &latest.reasons;
        let mut total = latest.wire_bytes();
        for older in self.older.iter().take_while(|r| r.sequence > after) {
            reasons = older.reasons().unwrap_or(reasons);
            let error = older.rare.as_ref().and_then(|r| r.error.as_deref());
            total += super::report::wire_bytes(&older.schema, reasons, error);
        }
        total
    }
}

/// What [`History::next_after`] found: the answer, or what to decode it from.
#[derive(Debug)]
pub enum Found {
    /// The answer.
    Next(Next),
    /// A packed report.
    Packed(Box<Unpack>),
}

impl Found {
    /// The answer, decoding a packed report (the history's lock need not be held).
    pub fn decode(self) -> Next {
        match self {
            Found::Next(next) => next,
            Found::Packed(unpack) => {
                let Unpack {
                    newest,
                    chain,
                    mut head,
                } = *unpack;
                let mut values = newest.values.clone();
                for packed in &chain {
                    values = packed.unpack(&values);
                }
                head.values = values;
                Next::Report(Arc::new(head))
            }
        }
    }
}

/// A packed report with what it is packed against.
#[derive(Debug)]
pub struct Unpack {
    newest: Arc<Report>,
    /// From the newest's packing down to the wanted report's.
    chain: Vec<Packed>,
    head: Report,
}

/// The oldest report newer than a sequence, or why there is none.
#[derive(Debug)]
pub enum Next {
    /// The report that follows.
    Report(Arc<Report>),
    /// Nothing newer is stored.
    UpToDate,
    /// The reports that follow left the history; these sequences are lost to the reader.
    Gone {
        /// Sequences no longer stored.
        missed: std::ops::Range<u64>,
    },
}
