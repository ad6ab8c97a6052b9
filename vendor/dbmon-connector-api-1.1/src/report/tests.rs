//! Reading a report back gives what was built, whatever order labels were added in.

use super::{NodeStatus, Report, Status};

/// A report whose labels of different owners interleave, so that ranges had to move.
fn interleaved() -> Report {
    let mut report = Report::new();
    report.label("version", "15.2");
    let primary = report.node("db1", NodeStatus::Live);
    report.node_address(primary, "db1:5432");
    report.node_label(primary, "role", "primary");
    report.metric("size_bytes", 30.0).unit("bytes");
    report
        .metric("size_bytes", 10.0)
        .unit("bytes")
        .label("database", "a");
    // Added after other owners' labels: these ranges move to the end.
    report.label("cluster", "main");
    report.node_label(primary, "zone", "eu-1");
    report
        .metric("size_bytes", 20.0)
        .unit("bytes")
        .label("database", "b")
        .label("owner", "app");
    let standby = report.node("db2", NodeStatus::Initializing);
    report
        .node_metric(standby, "up", 0.0)
        .label("reason", "starting");
    report.node_metric(primary, "up", 1.0);
    report
}

#[test]
fn series_read_back_in_order_with_units_labels_and_nodes() {
    let report = interleaved();
    let series: Vec<_> = report.series().collect();
    assert_eq!(report.series().len(), 5);
    let names: Vec<&str> = series.iter().map(|s| s.name()).collect();
    assert_eq!(
        names,
        ["size_bytes", "size_bytes", "size_bytes", "up", "up"]
    );
    let values: Vec<f64> = series.iter().map(|s| s.value()).collect();
    assert_eq!(values, [30.0, 10.0, 20.0, 0.0, 1.0]);
    assert_eq!(series[0].unit(), Some("bytes"));
    assert_eq!(series[3].unit(), None);
    assert_eq!(series[0].labels().count(), 0);
    assert_eq!(series[1].labels().collect::<Vec<_>>(), [("database", "a")]);
    assert_eq!(
        series[2].labels().collect::<Vec<_>>(),
        [("database", "b"), ("owner", "app")]
    );
    assert_eq!(series[2].label("owner"), Some("app"));
    assert_eq!(series[2].label("missing"), None);
    assert_eq!(series[0].node(), None);
    let db2 = report.find_node("db2").unwrap();
    let db1 = report.find_node("db1").unwrap();
    assert_eq!(series[3].node(), Some(db2));
    assert_eq!(series[3].label("reason"), Some("starting"));
    assert_eq!(series[4].node(), Some(db1));
}

#[test]
fn report_and_node_labels_survive_being_moved() {
    let report = interleaved();
    assert_eq!(
        report.labels().collect::<Vec<_>>(),
        [("version", "15.2"), ("cluster", "main")]
    );
    assert_eq!(report.labels().get("cluster"), Some("main"));
    let db1 = report.find_node("db1").unwrap();
    let labels = report.node_labels(db1);
    assert_eq!(labels.len(), 2);
    assert_eq!(
        labels.rev().collect::<Vec<_>>(),
        [("zone", "eu-1"), ("role", "primary")]
    );
    let db2 = report.find_node("db2").unwrap();
    assert_eq!(report.node_labels(db2).count(), 0);
}

#[test]
fn node_getters() {
    let mut report = interleaved();
    let db1 = report.find_node("db1").unwrap();
    let db2 = report.find_node("db2").unwrap();
    assert_eq!(report.node_id(db1), "db1");
    assert_eq!(report.address_of(db1), Some("db1:5432"));
    assert_eq!(report.address_of(db2), None);
    assert_eq!(report.status_of(db2), NodeStatus::Initializing);
    report.node_status(db2, NodeStatus::Dead);
    assert_eq!(report.status_of(db2), NodeStatus::Dead);
    assert_eq!(report.find_node("db3"), None);
    // Ids are the connector's business: the first of two alike is found.
    let again = report.node("db1", NodeStatus::Live);
    assert_ne!(again, db1);
    assert_eq!(report.find_node("db1"), Some(db1));
}

#[test]
fn value_exact_tells_an_unlabelled_total_from_labelled_series() {
    let report = interleaved();
    // The total was added first here; value() takes the first with at least no labels.
    assert_eq!(report.value("size_bytes"), Some(30.0));
    assert_eq!(report.value_exact("size_bytes", &[]), Some(30.0));
    assert_eq!(
        report.value_exact("size_bytes", &[("database", "a")]),
        Some(10.0)
    );
    // Any order; a subset or a superset is not a match.
    let b = [("owner", "app"), ("database", "b")];
    assert_eq!(report.value_exact("size_bytes", &b), Some(20.0));
    assert_eq!(report.value_exact("size_bytes", &[("database", "b")]), None);
    assert_eq!(
        report.value_with("size_bytes", &[("database", "b")]),
        Some(20.0)
    );
    let more = [("database", "a"), ("owner", "app")];
    assert_eq!(report.value_exact("size_bytes", &more), None);
    // Node metrics are not cluster-level ones.
    assert_eq!(report.value_exact("up", &[]), None);

    // Labelled series first, total last: only the exact lookup finds the total.
    let mut report = Report::new();
    report.metric("size_bytes", 10.0).label("database", "a");
    report.metric("size_bytes", 30.0);
    assert_eq!(report.value("size_bytes"), Some(10.0));
    assert_eq!(report.value_exact("size_bytes", &[]), Some(30.0));
}

#[test]
fn has_labels_and_labels_are() {
    let report = interleaved();
    let b = report
        .series()
        .find(|s| s.label("database") == Some("b"))
        .unwrap();
    assert!(b.has_labels(&[]));
    assert!(b.has_labels(&[("owner", "app")]));
    assert!(!b.has_labels(&[("owner", "ops")]));
    assert!(b.labels_are(&[("owner", "app"), ("database", "b")]));
    assert!(!b.labels_are(&[("owner", "app")]));
    // As many pairs, but one repeated: not the same set.
    assert!(!b.labels_are(&[("owner", "app"), ("owner", "app")]));
    let total = report.series().next().unwrap();
    assert!(total.labels_are(&[]));
}

#[test]
fn existing_lookups_still_find_node_metrics() {
    let report = interleaved();
    let db2 = report.find_node("db2").unwrap();
    assert_eq!(report.node_value(db2, "up", &[]), Some(0.0));
    assert_eq!(
        report.node_value(db2, "up", &[("reason", "starting")]),
        Some(0.0)
    );
    assert_eq!(report.node_value(db2, "up", &[("reason", "other")]), None);
    assert_eq!(report.value("up"), None);
}

#[test]
fn debug_shows_strings_not_spans() {
    let mut report = interleaved();
    report.degraded("db2 is starting");
    let text = format!("{report:?}");
    for expected in [
        "Degraded",
        "db2 is starting",
        "\"version\": \"15.2\"",
        "id: \"db1\"",
        "address: Some(\"db1:5432\")",
        "\"role\": \"primary\"",
        "name: \"size_bytes\"",
        "unit: Some(\"bytes\")",
        "node: Some(\"db2\")",
        "\"owner\": \"app\"",
        "value: 20.0",
    ] {
        assert!(text.contains(expected), "{expected} not in {text}");
    }
    assert!(!text.contains("Span"), "{text}");
    assert_eq!(report.status(), Status::Degraded);
}

#[test]
fn repeated_names_and_labels_are_stored_once() {
    let mut r = Report::new();
    for le in ["0.1", "1", "+Inf"] {
        r.metric("latency_bucket", 1.0)
            .label("node_id", "1")
            .label("le", le);
    }
    r.metric("other", 2.0).label("node_id", "1");
    // Each series reads back intact...
    let les: Vec<&str> = r.series().filter_map(|s| s.label("le")).collect();
    assert_eq!(les, ["0.1", "1", "+Inf"]);
    assert!(
        r.series()
            .take(3)
            .all(|s| s.name() == "latency_bucket" && s.label("node_id") == Some("1"))
    );
    assert_eq!(r.value_exact("other", &[("node_id", "1")]), Some(2.0));
    // ...while the arena holds each repeated string once.
    let text = r.into_ffi().text;
    assert_eq!(text.matches("latency_bucket").count(), 1);
    assert_eq!(text.matches("node_id").count(), 1);
}
