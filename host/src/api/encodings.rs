//! Reports converted and encoded for the wire once, for every GetReports call and Watch
//! stream that sends them. The encoding is kept with the stored report ([`Encoding`]): made
//! by the first reader that needs it, dropped when the report leaves the history, and all
//! kept encodings bounded by bytes (past the bound a reader encodes its own copy).
//!
//! [`Encoding`]: crate::store::Encoding

use super::convert;
use crate::store::Report;
use std::sync::Arc;

/// A wire report, encoded once for every call and stream that sends it.
pub type Encoded = Arc<[u8]>;

/// At most this many bytes of encodings are kept, over all stored reports.
const MAX_HELD_BYTES: usize = 64 << 20;

/// `report` encoded (a `dbmon.v1.Report`), shared with every other call and stream that
/// sends it.
pub fn encoded(report: &Report) -> Encoded {
    report.encoding.get_or_make(MAX_HELD_BYTES, || {
        #[cfg(test)]
        CONVERSIONS.with(|c| c.set(c.get() + 1));
        prost::Message::encode_to_vec(&convert::report(report))
    })
}

#[cfg(test)]
thread_local! {
    /// Reports converted and encoded on this thread.
    pub static CONVERSIONS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The encodings Watch streams send (kept with the reports: nothing of its own).
#[derive(Debug, Default)]
pub struct Encodings(());

impl Encodings {
    /// `report` encoded, shared with every other stream and call that sends it.
    pub fn of(&self, report: &Report) -> Encoded {
        encoded(report)
    }

    /// Nothing to drop: encodings are kept with their reports, not per stream.
    pub fn clear(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ClusterInfo, Collection, Outcome, Store};
    use std::time::{Duration, SystemTime};

    pub(crate) fn store(history: usize) -> Store {
        let info = ClusterInfo {
            id: "a".into(),
            connector: "c".into(),
            endpoints: vec![],
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
        };
        Store::new([info], history)
    }

    fn report(store: &Store, sequence: u64) -> Arc<Report> {
        let mut b = dbmon_connector_api::Report::new();
        b.metric("m", sequence as f64).label("k", "v");
        store.cluster("a").unwrap().record_now(Collection {
            sequence,
            started_at: SystemTime::now(),
            duration: Duration::from_millis(1),
            outcome: Outcome::Collected(crate::plugins::convert::collected(&b.into_ffi()).unwrap()),
            origin: None,
        })
    }

    #[test]
    fn streams_sending_the_same_report_share_one_encoding() {
        let store = store(2);
        let encodings = Encodings::default();
        let first = report(&store, 1);
        let one = encodings.of(&first);
        let two = encodings.of(&first);
        assert!(Arc::ptr_eq(&one, &two));
        let decoded: dbmon_proto::Report = prost::Message::decode(&*one).unwrap();
        assert_eq!((decoded.cluster_id.as_str(), decoded.sequence), ("a", 1));
        // A newer report gets its own; the older one's is kept while the report is stored.
        let second = report(&store, 2);
        let three = encodings.of(&second);
        assert!(!Arc::ptr_eq(&one, &three));
        let again = store.cluster("a").unwrap().reports(0, None);
        assert!(
            Arc::ptr_eq(&encodings.of(&again[1]), &one),
            "kept in the history"
        );
        assert_eq!(store.encoded_bytes(), one.len() + three.len());
        // Once the report leaves the history, so does its encoding.
        drop((first, again));
        report(&store, 3);
        assert_eq!(Arc::strong_count(&one), 2, "only the test holds it");
        assert_eq!(store.encoded_bytes(), three.len());
    }

    #[test]
    fn past_the_budget_a_reader_encodes_its_own_copy() {
        let store = store(3);
        let r = report(&store, 1);
        let bytes = r.encoding.get_or_make(4, || vec![0; 5]);
        assert_eq!(bytes.len(), 5);
        assert!(!r.encoding.is_kept());
        assert_eq!(store.encoded_bytes(), 0);
        let kept = r.encoding.get_or_make(5, || vec![1; 5]);
        assert!(Arc::ptr_eq(&kept, &r.encoding.get_or_make(5, Vec::new)));
        assert_eq!(store.encoded_bytes(), 5);
    }
}
