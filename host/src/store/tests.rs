use super::*;
use crate::plugins::convert;
use dbmon_connector_api::{Report as Builder, Status};
use std::{sync::atomic::Ordering, time::SystemTime};

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
        outcome: Outcome::Collected(convert::collected(&b.into_ffi()).unwrap()),
        origin: None,
    }
}

fn failed(seq: u64) -> Collection {
    Collection {
        sequence: seq,
        started_at: SystemTime::UNIX_EPOCH + Duration::from_secs(seq),
        duration: Duration::from_millis(3),
        outcome: Outcome::Failed("connection refused".into()),
        origin: None,
    }
}

#[test]
fn keeps_history_reports_and_reads_do_not_drain() {
    let s = store(5);
    let a = s.cluster("a").unwrap();
    for seq in 1..=8 {
        a.record_now(collected(seq, &[seq as f64, 2.0, seq as f64 * 0.1]));
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
    let r1 = a.record_now(collected(1, &[1.0, 2.0]));
    let r2 = a.record_now(collected(2, &[3.0, 4.0]));
    let r3 = b.record_now(collected(1, &[5.0, 6.0]));
    assert!(Arc::ptr_eq(&r1.schema, &r2.schema));
    assert!(Arc::ptr_eq(&r1.schema, &r3.schema));
    let r4 = a.record_now(collected(3, &[1.0]));
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
    let ok = a.record_now(collected(1, &[1.0]));
    let f1 = a.record_now(failed(2));
    let f2 = a.record_now(failed(3));
    assert_eq!(f1.consecutive_failures, 1);
    assert_eq!(f2.consecutive_failures, 2);
    assert_eq!(f2.status, Status::Unreachable);
    assert_eq!(f2.error.as_deref(), Some("connection refused"));
    assert_eq!(f2.last_success, ok.last_success);
    assert!(f2.last_success.is_some());
    let back = a.record_now(collected(4, &[1.0]));
    assert_eq!(back.consecutive_failures, 0);
    assert_eq!(a.stats.failures.load(Ordering::Relaxed), 2);
}

#[test]
fn a_schema_equal_to_one_in_the_pool_is_shared_even_after_another_in_between() {
    let s = store(10);
    let (a, b) = (s.cluster("a").unwrap(), s.cluster("b").unwrap());
    let r1 = a.record_now(collected(1, &[1.0, 2.0]));
    let other = a.record_now(collected(2, &[1.0]));
    assert!(!Arc::ptr_eq(&r1.schema, &other.schema));
    // Not the previous report's schema, but the pool still holds it (r1 is stored).
    let r3 = a.record_now(collected(3, &[5.0, 6.0]));
    assert!(Arc::ptr_eq(&r1.schema, &r3.schema));
    let r4 = b.record_now(collected(1, &[7.0]));
    assert!(Arc::ptr_eq(&other.schema, &r4.schema));
}

#[test]
fn kinds_and_help_are_kept_and_part_of_the_schema() {
    let parts = |kind| SchemaParts {
        text: "upIs it up.".into(),
        series: vec![SeriesDef {
            name: Span::new(0, 2),
            help: Span::new(2, 9),
            kind,
            ..SeriesDef::default()
        }],
        ..SchemaParts::default()
    };
    let collection = |seq, kind| Collection {
        sequence: seq,
        started_at: SystemTime::UNIX_EPOCH + Duration::from_secs(seq),
        duration: Duration::ZERO,
        outcome: Outcome::Collected(
            Collected::new(
                Status::Healthy,
                vec![],
                parts(kind),
                [1.0].into(),
                [].into(),
            )
            .unwrap(),
        ),
        origin: None,
    };
    let s = store(3);
    let a = s.cluster("a").unwrap();
    let r1 = a.record_now(collection(1, MetricKind::Counter));
    let series = r1.schema.series()[0];
    assert_eq!(series.kind, MetricKind::Counter);
    assert_eq!(r1.schema.str(series.help), "Is it up.");
    let r2 = a.record_now(collection(2, MetricKind::Gauge));
    assert!(
        !Arc::ptr_eq(&r1.schema, &r2.schema),
        "another kind, another schema"
    );
    assert_eq!(r2.schema.series()[0].kind, MetricKind::Gauge);
}

#[test]
fn a_collected_report_is_checked_when_it_is_made() {
    let bad = SchemaParts {
        text: "x".into(),
        series: vec![SeriesDef {
            name: Span::new(0, 999),
            ..SeriesDef::default()
        }],
        ..SchemaParts::default()
    };
    let err = Collected::new(Status::Healthy, vec![], bad, [1.0].into(), [].into()).unwrap_err();
    assert!(err.contains("does not contain"), "{err}");
    let no_value = Collected::new(
        Status::Healthy,
        vec![],
        SchemaParts {
            text: "x".into(),
            series: vec![SeriesDef {
                name: Span::new(0, 1),
                ..SeriesDef::default()
            }],
            ..SchemaParts::default()
        },
        [].into(),
        [].into(),
    );
    assert!(no_value.is_err());
}

#[tokio::test]
async fn watchers_receive_new_reports() {
    let s = store(3);
    let mut rx = s.subscribe();
    s.cluster("b").unwrap().record_now(collected(1, &[1.0]));
    let got = rx.recv().await.unwrap();
    assert_eq!(&*got.cluster, "b");
}

#[test]
fn next_after_walks_the_history_oldest_first_and_names_what_left_it() {
    let s = store(4);
    let a = s.cluster("a").unwrap();
    assert!(matches!(a.next_after(0), Next::UpToDate));
    for seq in 1..=6 {
        a.record_now(collected(seq, &[seq as f64, 7.0]));
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

fn with_node(
    seq: u64,
    status: dbmon_connector_api::NodeStatus,
    reason: Option<&str>,
) -> Collection {
    let mut b = Builder::new();
    b.metric("m", seq as f64);
    b.node("n1", status);
    if let Some(reason) = reason {
        b.degraded(reason);
    }
    Collection {
        outcome: Outcome::Collected(convert::collected(&b.into_ffi()).unwrap()),
        ..collected(seq, &[])
    }
}

#[test]
fn older_reports_keep_their_own_node_statuses_reasons_and_errors() {
    use dbmon_connector_api::NodeStatus::{self, Dead as Down, Live};
    let s = store(10);
    let a = s.cluster("a").unwrap();
    a.record_now(with_node(1, Live, None));
    a.record_now(with_node(2, Down, Some("n1 is down")));
    a.record_now(with_node(3, Down, Some("n1 is down")));
    a.record_now(failed(4));
    a.record_now(with_node(5, Live, None));
    a.record_now(with_node(6, Live, None));
    type Seen = (u64, Vec<NodeStatus>, Vec<String>, Option<String>);
    fn seen(r: &Report) -> Seen {
        let reasons = r.reasons.clone();
        (r.sequence, r.node_status.to_vec(), reasons, r.error.clone())
    }
    fn want(seq: u64, nodes: &[NodeStatus], reasons: &[&str], error: Option<&str>) -> Seen {
        let reasons = reasons.iter().map(|r| r.to_string()).collect();
        (seq, nodes.to_vec(), reasons, error.map(str::to_string))
    }
    // As each report was recorded, newest first.
    let refused = "connection refused";
    let want = [
        want(6, &[Live], &[], None),
        want(5, &[Live], &[], None),
        want(4, &[], &[refused], Some(refused)),
        want(3, &[Down], &["n1 is down"], None),
        want(2, &[Down], &["n1 is down"], None),
        want(1, &[Live], &[], None),
    ];
    let all = a.reports(0, None);
    let listed: Vec<Seen> = all.iter().map(|r| seen(r)).collect();
    assert_eq!(listed, want);
    // What a watcher behind by all of them is behind by: report 2 shares its reason with 3.
    let wire: usize = all.iter().map(|r| r.wire_bytes()).sum();
    assert_eq!(a.wire_bytes_after(0), wire);
    // Read one at a time, oldest first, as a watcher that fell behind does.
    for (i, want) in want.iter().rev().enumerate() {
        let Next::Report(report) = a.next_after(i as u64) else {
            panic!("report {} is stored", i + 1);
        };
        assert_eq!(&seen(&report), want);
        assert_eq!(report.cluster.as_ref(), "a");
    }
}

#[test]
fn an_older_reports_encoding_is_made_once_for_every_reader() {
    let s = store(5);
    let a = s.cluster("a").unwrap();
    for seq in 1..=3 {
        a.record_now(collected(seq, &[seq as f64]));
    }
    let first = a.reports(0, None);
    let second = a.reports(0, None);
    for (one, other) in first.iter().zip(&second).skip(1) {
        assert!(
            Arc::ptr_eq(&one.encoding, &other.encoding),
            "{}",
            one.sequence
        );
    }
    let Next::Report(read) = a.next_after(0) else {
        panic!("report 1 is stored");
    };
    assert!(Arc::ptr_eq(&read.encoding, &first[2].encoding));
}

#[test]
fn a_full_history_keeps_room_for_exactly_its_older_reports() {
    let s = store(100);
    let a = s.cluster("a").unwrap();
    for seq in 1..=150 {
        a.record_now(collected(seq, &[seq as f64]));
        let history = a.lock();
        assert!(
            history.older_room() <= 99,
            "room for {}",
            history.older_room()
        );
    }
    assert_eq!(a.lock().len(), 100);
}
