//! Reports encoded for the wire once, for every Watch stream that sends them.

use super::convert;
use crate::store::Report;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

/// A wire report, encoded once for every stream that sends it.
pub type Encoded = Arc<[u8]>;

/// The newest encoding of each cluster's report: watchers that keep up all send the same
/// report, and the first one encodes it for the others. What is held is bounded by bytes, and
/// dropped when the last watcher leaves.
#[derive(Debug, Default)]
pub struct Encodings {
    held: Mutex<Held>,
}

/// Encodings held: per cluster the newest one with its sequence, and their bytes in all.
#[derive(Debug, Default)]
struct Held {
    by_cluster: HashMap<Arc<str>, (u64, Encoded)>,
    bytes: usize,
}

/// At most this many bytes of encodings are held.
const MAX_HELD_BYTES: usize = 64 << 20;

impl Encodings {
    /// `report` encoded, shared with every other stream that sends it.
    pub fn of(&self, report: &Report) -> Encoded {
        let shared = |held: &Held| {
            held.by_cluster
                .get(&report.cluster)
                .filter(|(sequence, _)| *sequence == report.sequence)
                .map(|(_, bytes)| Arc::clone(bytes))
        };
        if let Some(bytes) = shared(&self.lock()) {
            return bytes;
        }
        let bytes: Encoded = prost::Message::encode_to_vec(&convert::report(report)).into();
        let mut held = self.lock();
        if let Some(theirs) = shared(&held) {
            return theirs;
        }
        let older = held
            .by_cluster
            .get(&report.cluster)
            .is_none_or(|(sequence, _)| *sequence < report.sequence);
        if older {
            if let Some((_, old)) = held.by_cluster.remove(&report.cluster) {
                held.bytes -= old.len();
            }
            if held.bytes + bytes.len() <= MAX_HELD_BYTES {
                held.bytes += bytes.len();
                let entry = (report.sequence, Arc::clone(&bytes));
                held.by_cluster.insert(Arc::clone(&report.cluster), entry);
            }
        }
        bytes
    }

    /// Drops every encoding held.
    pub fn clear(&self) {
        *self.lock() = Held::default();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ClusterInfo, Collection, Outcome, Store};
    use std::time::{Duration, SystemTime};

    fn report(store: &Store, sequence: u64) -> Arc<Report> {
        let mut b = dbmon_connector_api::Report::new();
        b.metric("m", sequence as f64).label("k", "v");
        store.cluster("a").unwrap().record(Collection {
            sequence,
            started_at: SystemTime::now(),
            duration: Duration::from_millis(1),
            outcome: Outcome::Collected(crate::plugins::convert::collected(&b.into_ffi()).unwrap()),
        })
    }

    #[test]
    fn streams_sending_the_same_report_share_one_encoding() {
        let info = ClusterInfo {
            id: "a".into(),
            connector: "c".into(),
            endpoints: vec![],
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
        };
        let store = Store::new([info], 5);
        let encodings = Encodings::default();
        let first = report(&store, 1);
        let one = encodings.of(&first);
        let two = encodings.of(&first);
        assert!(Arc::ptr_eq(&one, &two));
        let decoded: dbmon_proto::Report = prost::Message::decode(&*one).unwrap();
        assert_eq!((decoded.cluster_id.as_str(), decoded.sequence), ("a", 1));
        // A newer report gets its own, held in place of the older one.
        let second = report(&store, 2);
        let three = encodings.of(&second);
        assert!(!Arc::ptr_eq(&one, &three));
        assert_eq!(
            Arc::strong_count(&one),
            2,
            "the older one is no longer held"
        );
        assert!(Arc::ptr_eq(&three, &encodings.of(&second)));
        assert_eq!(encodings.lock().bytes, three.len());
        encodings.clear();
        assert_eq!(Arc::strong_count(&three), 1);
    }
}
