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

    /// Drops the reports collected before `cutoff` (the newest too, when it is that old).
    pub fn drop_older_than(&mut self, cutoff: SystemTime) {
        while self
            .older
            .back()
            .is_some_and(|(r, _)| r.collected_at < cutoff)
        {
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

    /// Where the oldest report newer than sequence `after` is. Decoding it is left to
    /// [`Found::decode`], which needs no lock on the history.
    pub fn next_after(&self, after: u64) -> Found {
        let Some(latest) = &self.latest else {
            return Found::Next(Next::UpToDate);
        };
        if latest.sequence <= after {
            return Found::Next(Next::UpToDate);
        }
        let oldest = self
            .older
            .back()
            .map_or(latest.sequence, |(r, _)| r.sequence);
        if oldest > after + 1 {
            return Found::Next(Next::Gone {
                missed: after + 1..oldest,
            });
        }
        if latest.sequence == after + 1 {
            return Found::Next(Next::Report(Arc::clone(latest)));
        }
        // Each older report's values are packed against the next newer one's: take the
        // packings from the newest down to the wanted one.
        let steps = self
            .older
            .iter()
            .position(|(head, _)| head.sequence <= after + 1)
            .map_or(self.older.len(), |i| i + 1);
        let chain: Vec<Packed> = self
            .older
            .iter()
            .take(steps)
            .map(|(_, p)| p.clone())
            .collect();
        let head = self.older[steps - 1].0.clone();
        Found::Packed(Box::new(Unpack {
            newest: Arc::clone(latest),
            chain,
            head,
        }))
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
