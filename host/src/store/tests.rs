use super::*;
use dbmon_connector_api::Report as Builder;

fn store(history: usize) -> Store {
    let info = |id: &str| ClusterInfo {
        id: id.into(),
        connector: "c".into(),
        endpoints: vec![],
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
    };
    Store::new([info("a"), info("b")], history)
}

fn collected(seq: u64, values: &[f64]) -> Collection {
    let mut b = Builder::new();
    for (i, v) in values.iter().enumerate() {
        b.metric(&format!("m{i}"), *v).label("k", "v");
    }
    Collection {
        sequence: seq,
        started_at: SystemTime::UNIX_EPOCH + Duration::from_secs(seq),
        duration: Duration::from_millis(3),
        outcome: Outcome::Collected(b.into_ffi()),
    }
}

fn failed(seq: u64) -> Collection {
    Collection {
        sequence: seq,
        started_at: SystemTime::UNIX_EPOCH + Duration::from_secs(seq),
        duration: Duration::from_millis(3),
        outcome: Outcome::Failed("connection refused".into()),
    }
}

#[test]
fn keeps_history_reports_and_reads_do_not_drain() {
    let s = store(5);
    let a = s.cluster("a").unwrap();
    for seq in 1..=8 {
        a.record(collected(seq, &[seq as f64, 2.0, seq as f64 * 0.1]));
    }
    for _ in 0..2 {
        let all = a.reports(0, None);
        let seqs: Vec<u64> = all.iter().map(|r| r.sequence).collect();
        assert_eq!(seqs, vec![8, 7, 6, 5, 4]);
        for r in &all {
            let seq = r.sequence as f64;
            assert_eq!(&*r.values, &[seq, 2.0, seq * 0.1]);
        }
    }
    assert_eq!(a.reports(2, None).len(), 2);
    let since = SystemTime::UNIX_EPOCH + Duration::from_secs(6);
    let newer: Vec<u64> = a
        .reports(0, Some(since))
        .iter()
        .map(|r| r.sequence)
        .collect();
    assert_eq!(newer, vec![8, 7]);
    assert_eq!(s.cluster("b").unwrap().stored(), 0);
}

#[test]
fn reports_with_the_same_series_share_one_schema() {
    let s = store(10);
    let (a, b) = (s.cluster("a").unwrap(), s.cluster("b").unwrap());
    let r1 = a.record(collected(1, &[1.0, 2.0]));
    let r2 = a.record(collected(2, &[3.0, 4.0]));
    let r3 = b.record(collected(1, &[5.0, 6.0]));
    assert!(Arc::ptr_eq(&r1.schema, &r2.schema));
    assert!(Arc::ptr_eq(&r1.schema, &r3.schema));
    let r4 = a.record(collected(3, &[1.0]));
    assert!(!Arc::ptr_eq(&r1.schema, &r4.schema));
    let values: Vec<Vec<f64>> = a
        .reports(0, None)
        .iter()
        .map(|r| r.values.to_vec())
        .collect();
    assert_eq!(values, vec![vec![1.0], vec![3.0, 4.0], vec![1.0, 2.0]]);
}

#[test]
fn failures_count_up_and_keep_the_last_success() {
    let s = store(10);
    let a = s.cluster("a").unwrap();
    let ok = a.record(collected(1, &[1.0]));
    let f1 = a.record(failed(2));
    let f2 = a.record(failed(3));
    assert_eq!(f1.consecutive_failures, 1);
    assert_eq!(f2.consecutive_failures, 2);
    assert_eq!(f2.status, Status::Unreachable);
    assert_eq!(f2.error.as_deref(), Some("connection refused"));
    assert_eq!(f2.last_success, ok.last_success);
    assert!(f2.last_success.is_some());
    let back = a.record(collected(4, &[1.0]));
    assert_eq!(back.consecutive_failures, 0);
    assert_eq!(a.stats.failures.load(Ordering::Relaxed), 2);
}

#[test]
fn malformed_reports_become_errors() {
    let s = store(3);
    let a = s.cluster("a").unwrap();
    let mut ffi = Builder::new();
    ffi.metric("x", 1.0);
    let mut ffi = ffi.into_ffi();
    ffi.series[0].name.len = 999;
    let r = a.record(Collection {
        sequence: 1,
        started_at: SystemTime::now(),
        duration: Duration::ZERO,
        outcome: Outcome::Collected(ffi),
    });
    assert!(
        r.error.as_deref().unwrap().contains("malformed"),
        "{:?}",
        r.error
    );
}

#[tokio::test]
async fn watchers_receive_new_reports() {
    let s = store(3);
    let mut rx = s.subscribe();
    s.cluster("b").unwrap().record(collected(1, &[1.0]));
    let got = rx.recv().await.unwrap();
    assert_eq!(&*got.cluster, "b");
}

#[test]
fn next_after_walks_the_history_oldest_first_and_names_what_left_it() {
    let s = store(4);
    let a = s.cluster("a").unwrap();
    assert!(matches!(a.next_after(0), Next::UpToDate));
    for seq in 1..=6 {
        a.record(collected(seq, &[seq as f64, 7.0]));
    }
    // 3..=6 are stored.
    match a.next_after(0) {
        Next::Gone { missed } => assert_eq!(missed, 1..3),
        other => panic!("{other:?}"),
    }
    let mut cursor = 2;
    let mut seen = Vec::new();
    while let Next::Report(r) = a.next_after(cursor) {
        assert_eq!(&*r.values, &[r.sequence as f64, 7.0]);
        cursor = r.sequence;
        seen.push(cursor);
    }
    assert_eq!(seen, vec![3, 4, 5, 6]);
    assert!(matches!(a.next_after(6), Next::UpToDate));
    let one = a.latest().unwrap().wire_bytes();
    assert!(one > 0);
    assert_eq!(a.wire_bytes_after(4), 2 * one);
    assert_eq!(a.wire_bytes_after(6), 0);
}
