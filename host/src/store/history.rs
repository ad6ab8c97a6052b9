//! The bounded history of one cluster: the newest report whole, older ones with their values
//! packed against the next newer report. Reads decode from the newest backwards and never
//! drain anything.

use super::{packed::Packed, report::Report};
use std::{collections::VecDeque, sync::Arc, time::SystemTime};

/// Up to `capacity` reports of one cluster.
#[derive(Debug)]
pub struct History {
    capacity: usize,
    latest: Option<Arc<Report>>,
    /// Newest first; each report's `values` are empty, its values are in the `Packed`.
    older: VecDeque<(Report, Packed)>,
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

    /// The newest report.
    pub fn latest(&self) -> Option<&Arc<Report>> {
        self.latest.as_ref()
    }

    /// Whether nothing is stored yet.
    pub fn is_empty(&self) -> bool {
        self.latest.is_none()
    }

    /// Reports stored.
    pub fn len(&self) -> usize {
        self.latest.iter().count() + self.older.len()
    }

    /// Adds the newest report, dropping the oldest beyond capacity.
    pub fn push(&mut self, report: Arc<Report>) {
        let previous = self.latest.replace(Arc::clone(&report));
        if let Some(previous) = previous.filter(|_| self.capacity > 1) {
            let same_series = Arc::ptr_eq(&previous.schema, &report.schema);
            let packed = if same_series {
                Packed::new(&previous.values, &report.values)
            } else {
                Packed::Raw(previous.values.clone())
            };
            let mut head = Arc::unwrap_or_clone(previous);
            head.values = Box::default();
            self.older.push_front((head, packed));
        }
        self.older.truncate(self.capacity - 1);
    }

    /// Up to `limit` reports (0: all), newest first, stopping at the first collected at or
    /// before `since`.
    pub fn newest(&self, limit: usize, since: Option<SystemTime>) -> Vec<Arc<Report>> {
        let limit = if limit == 0 { usize::MAX } else { limit };
        let mut out: Vec<Arc<Report>> = Vec::new();
        let Some(latest) = &self.latest else {
            return out;
        };
        let fresh = |r: &Report| since.is_none_or(|s| r.collected_at > s);
        if !fresh(latest) {
            return out;
        }
        out.push(Arc::clone(latest));
        for (head, packed) in &self.older {
            if out.len() >= limit || !fresh(head) {
                break;
            }
            // Each older report's values are packed against the next newer one's.
            let newer = &out.last().expect("the latest is in").values;
            let mut report = head.clone();
            report.values = packed.unpack(newer);
            out.push(Arc::new(report));
        }
        out
    }

    /// The oldest report newer than sequence `after`, decoded; or why there is none.
    pub fn next_after(&self, after: u64) -> Next {
        let Some(latest) = &self.latest else {
            return Next::UpToDate;
        };
        if latest.sequence <= after {
            return Next::UpToDate;
        }
        let oldest = self
            .older
            .back()
            .map_or(latest.sequence, |(r, _)| r.sequence);
        if oldest > after + 1 {
            return Next::Gone {
                missed: after + 1..oldest,
            };
        }
        if latest.sequence == after + 1 {
            return Next::Report(Arc::clone(latest));
        }
        // Unpack from the newest down to the wanted one, keeping one set of values at a time.
        let mut values = latest.values.clone();
        for (head, packed) in &self.older {
            values = packed.unpack(&values);
            if head.sequence <= after + 1 {
                let mut report = head.clone();
                report.values = values;
                return Next::Report(Arc::new(report));
            }
        }
        Next::UpToDate
    }

    /// About how many wire bytes the reports newer than sequence `after` take.
    pub fn wire_bytes_after(&self, after: u64) -> usize {
        let latest = self.latest.iter().map(|r| &**r);
        latest
            .chain(self.older.iter().map(|(r, _)| r))
            .take_while(|r| r.sequence > after)
            .map(|r| r.wire_bytes())
            .sum()
    }
}

/// What [`History::next_after`] found.
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
