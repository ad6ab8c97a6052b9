//! The collector's reports not yet acknowledged by the server, oldest first, bounded by bytes:
//! when a new report does not fit, the oldest go (counted). A session sends from its cursor on;
//! a new session starts again from the oldest, so everything unacknowledged is sent again
//! after a reconnect.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
};
use tokio::sync::Notify;

/// One report ready for the wire: an encoded `CollectorMessage`.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its cluster.
    pub cluster: Arc<str>,
    /// The collector's sequence for that cluster.
    pub sequence: u64,
    /// The encoded message.
    pub bytes: Arc<[u8]>,
}

/// Reports awaiting acknowledgement, shared by the forwarder that adds them and the session
/// that sends them.
#[derive(Debug)]
pub struct Buffer {
    state: Mutex<State>,
    added: Notify,
}

#[derive(Debug, Default)]
struct State {
    entries: VecDeque<Entry>,
    /// Index in `entries` of the next one the current session sends.
    cursor: usize,
    bytes: usize,
    max_bytes: usize,
    /// Per cluster, the highest sequence acknowledged.
    acked: HashMap<Arc<str>, u64>,
    dropped: u64,
}

/// What the buffer holds, for the server's `ListCollectors` and the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// Reports held.
    pub reports: usize,
    /// Their bytes.
    pub bytes: usize,
    /// Reports dropped since the start because the buffer was full.
    pub dropped: u64,
}

impl Buffer {
    /// An empty buffer holding at most `max_bytes` (one report more than that is still held
    /// alone, so that no report is too big to send).
    pub fn new(max_bytes: usize) -> Buffer {
        Buffer {
            state: Mutex::new(State {
                max_bytes,
                ..State::default()
            }),
            added: Notify::new(),
        }
    }

    /// Adds the newest report; returns how many old ones were dropped to make room.
    pub fn push(&self, entry: Entry) -> u64 {
        let mut s = self.lock();
        let mut dropped = 0;
        while !s.entries.is_empty() && s.bytes + entry.bytes.len() > s.max_bytes {
            let old = s.entries.pop_front().expect("not empty");
            s.bytes -= old.bytes.len();
            s.cursor = s.cursor.saturating_sub(1);
            dropped += 1;
        }
        s.dropped += dropped;
        s.bytes += entry.bytes.len();
        s.entries.push_back(entry);
        drop(s);
        self.added.notify_one();
        dropped
    }

    /// The next report the session sends, waiting for one.
    pub async fn next(&self) -> Entry {
        loop {
            let added = self.added.notified();
            {
                let mut s = self.lock();
                if let Some(entry) = s.entries.get(s.cursor).cloned() {
                    s.cursor += 1;
                    return entry;
                }
            }
            added.await;
        }
    }

    /// A new session: sending starts again from the oldest report; those the server says it
    /// stored already (`stored`, per cluster) are dropped first.
    pub fn restart(&self, stored: &HashMap<String, u64>) {
        let mut s = self.lock();
        for (cluster, sequence) in stored {
            let acked = s.acked.entry(cluster.as_str().into()).or_default();
            *acked = (*acked).max(*sequence);
        }
        s.cursor = 0;
        s.forget_acked();
        drop(s);
        self.added.notify_one();
    }

    /// The server stored every report of `cluster` up to `sequence`.
    pub fn ack(&self, cluster: &str, sequence: u64) {
        let mut s = self.lock();
        match s.acked.get_mut(cluster) {
            Some(acked) => *acked = (*acked).max(sequence),
            None => {
                s.acked.insert(cluster.into(), sequence);
            }
        }
        s.forget_acked();
    }

    /// What is held now.
    pub fn held(&self) -> Held {
        let s = self.lock();
        Held {
            reports: s.entries.len(),
            bytes: s.bytes,
            dropped: s.dropped,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    /// Drops acknowledged reports; acknowledgements of one cluster come in order, but clusters
    /// interleave, so acknowledged reports may sit behind unacknowledged ones for a while.
    fn forget_acked(&mut self) {
        let acked = &self.acked;
        let is_acked = |e: &Entry| acked.get(&e.cluster).is_some_and(|a| e.sequence <= *a);
        let before = self.entries.len();
        let sent_before = self.cursor;
        let mut index = 0;
        let mut cursor = self.cursor;
        let mut freed = 0;
        self.entries.retain(|e| {
            let keep = !is_acked(e);
            if !keep {
                freed += e.bytes.len();
                if index < sent_before {
                    cursor -= 1;
                }
            }
            index += 1;
            keep
        });
        if self.entries.len() != before {
            self.bytes -= freed;
            self.cursor = cursor;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(cluster: &str, sequence: u64, bytes: usize) -> Entry {
        Entry {
            cluster: cluster.into(),
            sequence,
            bytes: vec![0; bytes].into(),
        }
    }

    async fn sent(buffer: &Buffer) -> (String, u64) {
        let e = tokio::time::timeout(std::time::Duration::from_secs(1), buffer.next())
            .await
            .expect("an entry is ready");
        (e.cluster.to_string(), e.sequence)
    }

    #[tokio::test]
    async fn unacknowledged_reports_are_sent_again_after_a_restart() {
        let buffer = Buffer::new(1000);
        for s in 1..=3 {
            buffer.push(entry("a", s, 10));
        }
        buffer.push(entry("b", 1, 10));
        assert_eq!(sent(&buffer).await, ("a".into(), 1));
        assert_eq!(sent(&buffer).await, ("a".into(), 2));
        buffer.ack("a", 1);
        assert_eq!(
            sent(&buffer).await,
            ("a".into(), 3),
            "the cursor kept its place"
        );
        // The session breaks: everything unacknowledged goes again, in order.
        buffer.restart(&HashMap::new());
        assert_eq!(sent(&buffer).await, ("a".into(), 2));
        assert_eq!(sent(&buffer).await, ("a".into(), 3));
        assert_eq!(sent(&buffer).await, ("b".into(), 1));
        assert_eq!(buffer.held().reports, 3);
        // The server had stored a's reports up to 3 before the break.
        buffer.restart(&HashMap::from([("a".to_string(), 3)]));
        assert_eq!(sent(&buffer).await, ("b".into(), 1));
        assert_eq!(
            buffer.held(),
            Held {
                reports: 1,
                bytes: 10,
                dropped: 0
            }
        );
    }

    #[tokio::test]
    async fn a_full_buffer_drops_the_oldest_and_counts_them() {
        let buffer = Buffer::new(30);
        for s in 1..=3 {
            assert_eq!(buffer.push(entry("a", s, 10)), 0);
        }
        assert_eq!(sent(&buffer).await, ("a".into(), 1));
        assert_eq!(buffer.push(entry("a", 4, 20)), 2, "1 and 2 make room");
        assert_eq!(
            buffer.held(),
            Held {
                reports: 2,
                bytes: 30,
                dropped: 2
            }
        );
        assert_eq!(sent(&buffer).await, ("a".into(), 3));
        assert_eq!(sent(&buffer).await, ("a".into(), 4));
        // A report larger than the whole buffer is still held, alone.
        assert_eq!(buffer.push(entry("a", 5, 100)), 2);
        assert_eq!(buffer.held().reports, 1);
        assert_eq!(sent(&buffer).await, ("a".into(), 5));
    }

    #[tokio::test]
    async fn acknowledged_reports_behind_others_are_forgotten() {
        let buffer = Buffer::new(1000);
        buffer.push(entry("a", 1, 10));
        buffer.push(entry("b", 1, 10));
        buffer.push(entry("a", 2, 10));
        for _ in 0..3 {
            sent(&buffer).await;
        }
        buffer.ack("a", 2);
        assert_eq!(
            buffer.held(),
            Held {
                reports: 1,
                bytes: 10,
                dropped: 0
            }
        );
        buffer.push(entry("a", 3, 10));
        assert_eq!(sent(&buffer).await, ("a".into(), 3));
    }
}
