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
}
