use crate::store::{ClusterInfo, Collection, OpenError, Options, Outcome, Retention, Store};
use std::{
    path::Path,
    time::{Duration, SystemTime},
};

fn info(id: &str) -> ClusterInfo {
    ClusterInfo {
        id: id.into(),
        connector: "c".into(),
        endpoints: vec!["db:5432".into()],
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
    }
}

fn open(dir: &Path, history: usize, ids: &[&str], keep: bool) -> Result<Store, OpenError> {
    let options = Options {
        path: Some(dir.to_owned()),
        retention: Retention {
            history,
            max_age: None,
        },
    };
    Store::open(&options, ids.iter().map(|id| info(id)), keep)
}

fn collection(sequence: u64, values: &[f64]) -> Collection {
    let mut b = dbmon_connector_api::Report::new();
    for (i, v) in values.iter().enumerate() {
        b.metric(&format!("m{i}"), *v).label("k", "v");
    }
    Collection {
        sequence,
        started_at: SystemTime::UNIX_EPOCH + Duration::from_millis(sequence * 1500),
        duration: Duration::from_millis(3),
        outcome: Outcome::Collected(crate::plugins::convert::collected(&b.into_ffi()).unwrap()),
        origin: None,
    }
}

fn values(store: &Store, id: &str) -> Vec<(u64, Vec<f64>)> {
    let slot = store.cluster(id).unwrap();
    let reports = slot.reports(0, None);
    reports
        .iter()
        .map(|r| (r.sequence, r.values.to_vec()))
        .collect()
}

#[tokio::test]
async fn reports_round_trip_keyframes_and_trims_keep_every_retained_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), 7, &["a"], false).unwrap();
    let a = store.cluster("a").unwrap();
    for seq in 1..=40 {
        // A schema change at 20 makes a keyframe out of turn.
        let width = if (20..25).contains(&seq) { 2 } else { 3 };
        let v: Vec<f64> = (0..width).map(|i| seq as f64 * 1.5 + i as f64).collect();
        a.record(collection(seq, &v)).await.unwrap();
    }
    a.record(Collection {
        outcome: Outcome::Failed("refused".into()),
        ..collection(41, &[])
    })
    .await
    .unwrap();
    let before = values(&store, "a");
    assert_eq!(before.len(), 7);
    drop((a, store));
    let again = open(dir.path(), 7, &["a"], false).unwrap();
    assert_eq!(values(&again, "a"), before);
    let a = again.cluster("a").unwrap();
    let latest = a.latest().unwrap();
    assert_eq!(latest.error.as_deref(), Some("refused"));
    assert_eq!(a.last_sequence(), 41);
    assert!(matches!(
        a.record(collection(41, &[1.0])).await,
        Err(crate::store::StoreError::Stale { .. })
    ));
    a.record(collection(42, &[1.0, 2.0, 3.0])).await.unwrap();
    drop((a, again));
    // A longer history after the restart finds only what the trims kept, whole.
    let wider = open(dir.path(), 100, &["a"], false).unwrap();
    let kept = values(&wider, "a");
    assert!(kept.len() >= 7 && kept.len() < 20, "{} kept", kept.len());
    assert_eq!(kept[0].0, 42);
    for (seq, v) in &kept[2..] {
        assert_eq!(v[0], *seq as f64 * 1.5, "report {seq}");
    }
}

#[tokio::test]
async fn clusters_not_configured_stay_on_disk_unless_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), 10, &[], false).unwrap();
    let pushed = store.add_cluster(info("pushed"));
    pushed.record(collection(5, &[1.0])).await.unwrap();
    drop((pushed, store));
    let all_in_one = open(dir.path(), 10, &["a"], false).unwrap();
    assert!(all_in_one.cluster("pushed").is_none());
    drop(all_in_one);
    let server = open(dir.path(), 10, &[], true).unwrap();
    let slot = server
        .cluster("pushed")
        .expect("kept with its persisted info");
    assert_eq!(slot.info.endpoints, vec!["db:5432".to_string()]);
    assert_eq!(slot.last_sequence(), 5);
    assert_eq!(values(&server, "pushed"), vec![(5, vec![1.0])]);
}

#[tokio::test]
async fn a_corrupt_file_is_refused_and_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), 10, &["a"], false).unwrap();
    store
        .cluster("a")
        .unwrap()
        .record(collection(1, &[1.0]))
        .await
        .unwrap();
    drop(store);
    let file = dir.path().join(super::FILE_NAME);
    let mut bytes = std::fs::read(&file).unwrap();
    for b in &mut bytes[..512] {
        *b ^= 0x5a;
    }
    std::fs::write(&file, &bytes).unwrap();
    let err = open(dir.path(), 10, &["a"], false).unwrap_err();
    assert_eq!(err.path, file, "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), bytes, "never wiped");
}

#[test]
fn a_foreign_file_or_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let err = open(dir.path(), 10, &["a"], false).unwrap_err();
    assert!(err.path.ends_with("notes.txt"), "{err}");
    assert!(
        err.to_string().contains("not part of a dbmon store"),
        "{err}"
    );

    let other = tempfile::tempdir().unwrap();
    let file = other.path().join(super::FILE_NAME);
    let db = redb::Database::create(&file).unwrap();
    let txn = db.begin_write().unwrap();
    txn.open_table(redb::TableDefinition::<&str, u64>::new("theirs"))
        .unwrap();
    txn.commit().unwrap();
    drop(db);
    let err = open(other.path(), 10, &["a"], false).unwrap_err();
    assert!(err.to_string().contains("not a dbmon store"), "{err}");

    let newer = tempfile::tempdir().unwrap();
    drop(open(newer.path(), 10, &["a"], false).unwrap());
    let db = redb::Database::create(newer.path().join(super::FILE_NAME)).unwrap();
    let txn = db.begin_write().unwrap();
    txn.open_table(super::META)
        .unwrap()
        .insert("format", 99)
        .unwrap();
    txn.commit().unwrap();
    drop(db);
    let err = open(newer.path(), 10, &["a"], false).unwrap_err();
    assert!(err.to_string().contains("format 99"), "{err}");
}

#[tokio::test]
async fn the_writer_hashes_a_schema_once_not_per_report() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), 10, &["a", "b"], false).unwrap();
    let values: Vec<f64> = (0..500).map(f64::from).collect();
    for id in ["a", "b"] {
        let slot = store.cluster(id).unwrap();
        for seq in 1..=30 {
            slot.record(collection(seq, &values)).await.unwrap();
        }
    }
    let journal = store.shared.journal.as_ref().unwrap();
    // Once per cluster for its first report; each later one has its previous report's
    // schema, and hashing a schema of thousands of series cost more than writing the report.
    assert_eq!(journal.fingerprints(), 2);
    let slot = store.cluster("a").unwrap();
    slot.record(collection(31, &values[..10])).await.unwrap();
    assert_eq!(journal.fingerprints(), 3, "a new schema is hashed");
}

#[tokio::test]
async fn reading_a_store_back_keeps_only_a_bounded_page_cache() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), 40, &["a"], false).unwrap();
    let slot = store.cluster("a").unwrap();
    for seq in 1..=40u64 {
        let v: Vec<f64> = (0..3000).map(|i| (seq * 7919 + i) as f64 / 3.0).collect();
        slot.record(collection(seq, &v)).await.unwrap();
    }
    drop((slot, store));
    let file = std::fs::metadata(dir.path().join(super::FILE_NAME)).unwrap();
    assert!(
        file.len() > 2 * super::load::CACHE_BYTES as u64,
        "{}",
        file.len()
    );
    // redb's default cache (1 GiB) kept every page read back; the store's bound evicts.
    let again = open(dir.path(), 40, &["a"], false).unwrap();
    assert_eq!(again.cluster("a").unwrap().stored(), 40);
    let db = &again.catalog.as_ref().unwrap().db;
    assert!(db.cache_stats().evictions() > 0);
}

#[tokio::test]
async fn the_rules_that_fired_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), 5, &["a"], false).unwrap();
    let a = store.cluster("a").unwrap();
    let fired = crate::rules::Fired {
        rule: "quorum".into(),
        status: dbmon_connector_api::Status::Unhealthy,
        reason: "only 2 nodes".into(),
        places: 1,
    };
    let mut judged = collection(1, &[2.0]);
    if let Outcome::Collected(c) = &mut judged.outcome {
        c.judged(crate::rules::Verdict {
            status: fired.status,
            fired: vec![fired.clone()],
        });
    }
    a.record(judged).await.unwrap();
    a.record(collection(2, &[3.0])).await.unwrap();
    drop((a, store));
    let again = open(dir.path(), 5, &["a"], false).unwrap();
    let reports = again.cluster("a").unwrap().reports(0, None);
    let by_sequence = |s: u64| reports.iter().find(|r| r.sequence == s).unwrap();
    assert_eq!(by_sequence(1).fired, [fired]);
    assert_eq!(by_sequence(1).reasons, ["only 2 nodes"]);
    assert!(by_sequence(2).fired.is_empty());
}
