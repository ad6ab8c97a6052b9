use super::{
    State,
    metrics::{Durations, exposition},
    naming::{self, Exposed},
    text::{Exposition, Kind, Refused, escape_into, format_value},
};
use crate::{
    api::Watchers,
    ingest::Collectors,
    live::Live,
    plugins::{Registry, convert},
    store::{ClusterInfo, Collection, MetricKind, Outcome, Store},
};
use dbmon_connector_api::{NodeStatus, Report as Builder};
use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, SystemTime},
};

fn escaped(text: &str, quote: bool) -> String {
    let mut out = String::new();
    escape_into(&mut out, text, quote);
    out
}

#[test]
fn label_values_and_help_are_escaped_as_the_format_says() {
    assert_eq!(escaped(r#"a\b"c"#, true), r#"a\\b\"c"#);
    assert_eq!(escaped("two\nlines", true), r"two\nlines");
    // In help, a quote stays as it is.
    assert_eq!(escaped(r#"say "hi"\n"#, false), r#"say "hi"\\n"#);
    assert_eq!(escaped("é ✓", true), "é ✓");
}

#[test]
fn values_are_written_as_prometheus_reads_them() {
    assert_eq!(format_value(3.0), "3");
    assert_eq!(format_value(0.25), "0.25");
    assert_eq!(format_value(0.0), "0");
    assert_eq!(format_value(f64::NAN), "NaN");
    assert_eq!(format_value(f64::INFINITY), "+Inf");
    assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
    assert_eq!(format_value(1e300), "1e300");
    assert_eq!(format_value(2.5e-9), "2.5e-9");
    for v in [1e300, 2.5e-9, 123456.789, -7.0] {
        assert_eq!(format_value(v).parse::<f64>().unwrap(), v);
    }
}

#[test]
fn names_are_sanitised_to_the_metric_name_rule() {
    assert_eq!(naming::sanitize("load1"), "load1");
    assert_eq!(naming::sanitize("disk.used-percent"), "disk_used_percent");
    assert_eq!(naming::sanitize("memAvailable"), "mem_available");
    assert_eq!(naming::sanitize("HTTPRequests"), "httprequests");
    assert_eq!(naming::sanitize("a:b"), "a_b");
    assert_eq!(naming::sanitize("9lives"), "_9lives");
    assert_eq!(naming::sanitize(""), "_");
    assert_eq!(naming::sanitize("µs"), "_s");
    let valid = |s: &str| {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    for weird in ["", "0", "a b", "ü", "--", "{x}", "\"q\""] {
        assert!(valid(&naming::sanitize(weird)), "{weird:?}");
    }
    assert_eq!(naming::prefix("system"), "system_");
    assert_eq!(naming::prefix("my-connector"), "my_connector_");
    assert_eq!(naming::prefix("dbmon"), "connector_dbmon_");
}

fn family(name: &str, unit: &str, kind: MetricKind) -> (String, &'static str, Kind, f64) {
    let Exposed {
        family,
        suffix,
        kind,
        scale,
    } = naming::exposed("c_", name, unit, kind);
    (family, suffix, kind, scale)
}

#[test]
fn connector_series_follow_the_naming_conventions() {
    use MetricKind::*;
    let gauge = |name: &str| (name.to_string(), "", Kind::Gauge, 1.0);
    assert_eq!(family("load1", "", Gauge), gauge("c_load1"));
    assert_eq!(family("x", "", Unknown).2, Kind::Untyped);
    // Times in seconds.
    assert_eq!(
        family("round_trip_ms", "ms", Gauge),
        ("c_round_trip_seconds".into(), "", Kind::Gauge, 1e-3)
    );
    assert_eq!(family("offset_ns", "", Gauge).0, "c_offset_seconds");
    assert_eq!(family("offset_ns", "", Gauge).3, 1e-9);
    assert_eq!(
        family("latency_p99", "ms", Gauge).0,
        "c_latency_p99_seconds"
    );
    assert_eq!(
        family("uptime_seconds", "seconds", Gauge),
        gauge("c_uptime_seconds")
    );
    assert_eq!(family("age_hours", "", Gauge).3, 3600.0);
    // Not a unit without one: `_s`, `_min`.
    assert_eq!(family("cpu_min", "", Gauge).0, "c_cpu_min");
    assert_eq!(family("used_percent", "percent", Gauge).0, "c_used_percent");
    assert_eq!(family("rate", "queries/s", Gauge).0, "c_rate");
    // _total for counters only.
    assert_eq!(family("requests", "", Counter).0, "c_requests_total");
    assert_eq!(family("requests_total", "", Counter).0, "c_requests_total");
    assert_eq!(family("busy_ms", "ms", Counter).0, "c_busy_seconds_total");
    assert_eq!(family("processes_total", "", Gauge).0, "c_processes");
    assert_eq!(family("total", "", Gauge).0, "c_total");
    // Gauges do not take the suffixes of histograms and summaries.
    assert_eq!(family("cpu_count", "", Gauge).0, "c_cpu_count_value");
    assert_eq!(family("x_sum", "", Unknown).0, "c_x_sum_value");
    assert_eq!(family("x_count", "", Counter).0, "c_x_count_total");
    // Histograms and summaries: one family of their parts.
    assert_eq!(
        family("lat_bucket", "", Histogram),
        ("c_lat".into(), "_bucket", Kind::Histogram, 1.0)
    );
    assert_eq!(family("lat_sum", "", Histogram).1, "_sum");
    assert_eq!(family("lat_count", "", Histogram).1, "_count");
    assert_eq!(family("lat_created", "", Histogram), gauge("c_lat_created"));
    assert_eq!(family("lat", "", Histogram).2, Kind::Untyped);
    assert_eq!(
        family("q", "", Summary),
        ("c_q".into(), "", Kind::Summary, 1.0)
    );
    assert_eq!(
        family("q_count", "", Summary),
        ("c_q".into(), "_count", Kind::Summary, 1.0)
    );
    assert_eq!(family("q_created", "", Summary).2, Kind::Gauge);
}

#[test]
fn labels_keep_clear_of_the_hosts_and_the_reserved_ones() {
    assert_eq!(naming::label_name("mount", Kind::Gauge), "mount");
    assert_eq!(
        naming::label_name("cluster", Kind::Gauge),
        "exported_cluster"
    );
    assert_eq!(naming::label_name("node", Kind::Counter), "exported_node");
    assert_eq!(naming::label_name("le", Kind::Gauge), "exported_le");
    assert_eq!(naming::label_name("le", Kind::Histogram), "le");
    assert_eq!(naming::label_name("quantile", Kind::Summary), "quantile");
    assert_eq!(
        naming::label_name("quantile", Kind::Histogram),
        "exported_quantile"
    );
    assert_eq!(naming::label_name("__name__", Kind::Gauge), "name__");
    assert_eq!(naming::label_name("fsType", Kind::Gauge), "fs_type");
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn a_family_has_one_help_and_type_and_its_samples_together() {
    let mut out = Exposition::default();
    let a = labels(&[("x", "1")]);
    let b = labels(&[("x", "2")]);
    out.sample("f", Kind::Gauge, "first help", "", &a, 1.0)
        .unwrap();
    out.sample("g", Kind::Counter, "g", "", &a, 5.0).unwrap();
    out.sample("f", Kind::Gauge, "other help", "", &b, 2.0)
        .unwrap();
    assert_eq!(
        out.sample("f", Kind::Gauge, "", "", &a, 3.0),
        Err(Refused::Duplicate)
    );
    assert!(matches!(
        out.sample("f", Kind::Counter, "", "", &labels(&[("x", "3")]), 3.0),
        Err(Refused::OtherKind {
            kind: Kind::Gauge,
            ..
        })
    ));
    // The same labels in another order are the same series.
    let ab = labels(&[("x", "1"), ("y", "2")]);
    let ba = labels(&[("y", "2"), ("x", "1")]);
    out.sample("h", Kind::Gauge, "h", "", &ab, 1.0).unwrap();
    assert_eq!(
        out.sample("h", Kind::Gauge, "h", "", &ba, 1.0),
        Err(Refused::Duplicate)
    );
    // Declared and never given a sample: not written.
    out.family("empty", Kind::Gauge, "nothing");
    let text = out.finish();
    assert_eq!(
        text,
        "# HELP f first help\n# TYPE f gauge\nf{x=\"1\"} 1\nf{x=\"2\"} 2\n\
         # HELP g g\n# TYPE g counter\ng{x=\"1\"} 5\n\
         # HELP h h\n# TYPE h gauge\nh{x=\"1\",y=\"2\"} 1\n"
    );
}

fn info(id: &str, connector: &str) -> ClusterInfo {
    ClusterInfo {
        id: id.into(),
        connector: connector.into(),
        endpoints: vec![],
        interval: Duration::from_secs(10),
        timeout: Duration::from_secs(5),
    }
}

fn state(store: Arc<Store>) -> State {
    State {
        durations: Arc::new(Durations::default()),
        store,
        collectors: Arc::new(Collectors::new([])),
        live: Arc::new(Live::new(
            Arc::new(Registry::default()),
            Arc::new([]),
            HashMap::new(),
        )),
        watchers: Arc::new(Watchers::default()),
        deliveries: Arc::default(),
    }
}

fn collected(sequence: u64, at: SystemTime, report: Builder) -> Collection {
    Collection {
        sequence,
        started_at: at,
        duration: Duration::from_millis(40),
        outcome: Outcome::Collected(convert::collected(&report.into_ffi()).unwrap()),
        origin: None,
    }
}

fn lines(text: &str, prefix: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

/// One `# TYPE` per family, and every sample right after its family's.
fn assert_families_whole(text: &str) {
    let mut seen = std::collections::HashSet::new();
    let mut current = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap().to_string();
            assert!(seen.insert(name.clone()), "{name} twice in\n{text}");
            current = name;
        } else if !line.starts_with('#') {
            assert!(
                line.starts_with(&current),
                "{line} outside its family in\n{text}"
            );
        }
    }
}

#[test]
fn the_exposition_has_each_clusters_state_counters_and_series() {
    let store = Arc::new(Store::new([info("db-1", "pg"), info("new", "pg")], 10));
    let now = SystemTime::now();
    let mut r = Builder::new();
    r.metric("connections", 7.0)
        .gauge()
        .help("Open \"client\" connections");
    r.metric("round_trip_ms", 12.0).gauge().unit("ms");
    r.metric("queries", 1e6).counter().label("db", "a\"b\\c\nd");
    let node = r.node("n1", NodeStatus::Live);
    r.node_metric(node, "connections", 3.0)
        .gauge()
        .label("cluster", "x");
    r.degraded("replica lag 12s");
    let slot = store.cluster("db-1").unwrap();
    slot.record_now(collected(1, now - Duration::from_secs(1), r));
    let state = state(Arc::clone(&store));
    state
        .durations
        .observe(&"pg".into(), Duration::from_millis(40));
    let text = exposition(&state, now);
    assert_eq!(
        lines(&text, "dbmon_cluster_up"),
        [
            "dbmon_cluster_up{cluster=\"db-1\",connector=\"pg\"} 1",
            "dbmon_cluster_up{cluster=\"new\",connector=\"pg\"} 0"
        ]
    );
    let status = lines(&text, "dbmon_cluster_status{cluster=\"db-1\"");
    assert_eq!(status.len(), 5, "{text}");
    let db1 = "cluster=\"db-1\",connector=\"pg\"";
    assert!(status.contains(&format!(
        "dbmon_cluster_status{{{db1},status=\"degraded\"}} 1"
    )));
    assert!(status.contains(&format!(
        "dbmon_cluster_status{{{db1},status=\"healthy\"}} 0"
    )));
    assert!(
        text.contains(
            "dbmon_cluster_status{cluster=\"new\",connector=\"pg\",status=\"unknown\"} 1"
        )
    );
    assert!(text.contains(
        "# HELP pg_connections Open \"client\" connections\n# TYPE pg_connections gauge\n"
    ));
    assert_eq!(
        lines(&text, "pg_connections{"),
        [
            format!("pg_connections{{{db1}}} 7"),
            format!("pg_connections{{{db1},node=\"n1\",exported_cluster=\"x\"}} 3")
        ]
    );
    assert!(
        text.contains(&format!("pg_round_trip_seconds{{{db1}}} 0.012\n")),
        "{text}"
    );
    assert!(text.contains("# TYPE pg_queries_total counter\n"));
    assert!(
        text.contains(&format!(
            "pg_queries_total{{{db1},db=\"a\\\"b\\\\c\\nd\"}} 1000000\n"
        )),
        "{text}"
    );
    assert!(text.contains(&format!("dbmon_collections_total{{{db1}}} 1\n")));
    assert!(text.contains("dbmon_collection_failures_total{cluster=\"new\",connector=\"pg\"} 0\n"));
    let bucket = "dbmon_collection_duration_seconds_bucket{connector=\"pg\"";
    assert!(text.contains(&format!("{bucket},le=\"0.025\"}} 0\n")));
    assert!(text.contains(&format!("{bucket},le=\"0.05\"}} 1\n")));
    assert!(text.contains(&format!("{bucket},le=\"+Inf\"}} 1\n")));
    assert!(text.contains("dbmon_collection_duration_seconds_count{connector=\"pg\"} 1\n"));
    assert!(text.contains(&format!(
        "dbmon_build_info{{version=\"{}\"",
        env!("CARGO_PKG_VERSION")
    )));
    assert!(text.contains("dbmon_watchers 0\n"));
    // No alerts configured: no alert families.
    assert!(!text.contains("dbmon_alert"), "{text}");
    assert_families_whole(&text);
}

#[test]
fn a_stale_cluster_keeps_up_and_status_and_loses_its_series() {
    let store = Arc::new(Store::new([info("a", "pg")], 10));
    let collected_at = SystemTime::now() - Duration::from_secs(60);
    let mut r = Builder::new();
    r.metric("connections", 7.0).gauge();
    store
        .cluster("a")
        .unwrap()
        .record_now(collected(1, collected_at, r));
    let state = state(store);
    let fresh = exposition(&state, collected_at + Duration::from_secs(30));
    assert!(fresh.contains("pg_connections{"), "{fresh}");
    assert!(fresh.contains("dbmon_cluster_up{cluster=\"a\",connector=\"pg\"} 1"));
    // 3 intervals of 10s and a timeout of 5s later: stale.
    let stale = exposition(&state, collected_at + Duration::from_secs(36));
    assert!(!stale.contains("pg_connections"), "{stale}");
    assert!(stale.contains("dbmon_cluster_up{cluster=\"a\",connector=\"pg\"} 0"));
    assert!(
        stale.contains("dbmon_cluster_status{cluster=\"a\",connector=\"pg\",status=\"healthy\"} 1")
    );
    assert!(stale.contains("dbmon_cluster_last_report_timestamp_seconds{cluster=\"a\""));
}

#[test]
fn a_failed_collection_is_down_and_unreachable() {
    let store = Arc::new(Store::new([info("a", "pg")], 10));
    store.cluster("a").unwrap().record_now(Collection {
        sequence: 1,
        started_at: SystemTime::now(),
        duration: Duration::from_secs(5),
        outcome: Outcome::TimedOut(Duration::from_secs(5)),
        origin: None,
    });
    let text = exposition(&state(store), SystemTime::now());
    assert!(text.contains("dbmon_cluster_up{cluster=\"a\",connector=\"pg\"} 0"));
    assert!(text.contains("status=\"unreachable\"} 1"));
    assert!(text.contains("dbmon_collection_timeouts_total{cluster=\"a\",connector=\"pg\"} 1"));
    assert!(text.contains("dbmon_collection_failures_total{cluster=\"a\",connector=\"pg\"} 1"));
}

#[test]
fn a_connector_cannot_take_the_hosts_family_names() {
    let store = Arc::new(Store::new([info("a", "dbmon")], 10));
    let mut r = Builder::new();
    r.metric("cluster_up", 5.0).gauge();
    store
        .cluster("a")
        .unwrap()
        .record_now(collected(1, SystemTime::now(), r));
    let text = exposition(&state(store), SystemTime::now());
    assert!(text.contains("connector_dbmon_cluster_up{cluster=\"a\",connector=\"dbmon\"} 5"));
    assert_eq!(lines(&text, "dbmon_cluster_up").len(), 1, "{text}");
}

#[test]
fn histograms_and_summaries_keep_their_family() {
    let store = Arc::new(Store::new([info("a", "prometheus")], 10));
    let mut r = Builder::new();
    let histogram = MetricKind::Histogram;
    let summary = MetricKind::Summary;
    r.metric("lat_bucket", 1.0)
        .kind(histogram)
        .label("le", "0.5");
    r.metric("lat_bucket", 2.0)
        .kind(histogram)
        .label("le", "+Inf");
    r.metric("lat_sum", 0.7).kind(histogram);
    r.metric("lat_count", 2.0).kind(histogram);
    r.metric("q", 0.1).kind(summary).label("quantile", "0.9");
    r.metric("q_sum", 3.0).kind(summary);
    r.metric("q_count", 30.0).kind(summary);
    store
        .cluster("a")
        .unwrap()
        .record_now(collected(1, SystemTime::now(), r));
    let text = exposition(&state(store), SystemTime::now());
    let base = "cluster=\"a\",connector=\"prometheus\"";
    let expected = format!(
        "# TYPE prometheus_lat histogram\n\
         prometheus_lat_bucket{{{base},le=\"0.5\"}} 1\n\
         prometheus_lat_bucket{{{base},le=\"+Inf\"}} 2\n\
         prometheus_lat_sum{{{base}}} 0.7\n\
         prometheus_lat_count{{{base}}} 2\n"
    );
    assert!(text.contains(&expected), "{text}");
    let expected = format!(
        "# TYPE prometheus_q summary\n\
         prometheus_q{{{base},quantile=\"0.9\"}} 0.1\n\
         prometheus_q_sum{{{base}}} 3\n\
         prometheus_q_count{{{base}}} 30\n"
    );
    assert!(text.contains(&expected), "{text}");
    assert_families_whole(&text);
}

#[test]
fn firing_rules_are_series_of_their_cluster_counting_where_they_hold() {
    let store = Arc::new(Store::new([info("db-1", "pg")], 10));
    let now = SystemTime::now();
    let mut r = Builder::new();
    r.metric("lag", 40.0).gauge();
    let mut c = collected(1, now - Duration::from_secs(1), r);
    let fired = |rule: &str, status, reason: &str, places| crate::rules::Fired {
        rule: rule.into(),
        status,
        reason: reason.into(),
        places,
    };
    let (degraded, unhealthy) = (
        dbmon_connector_api::Status::Degraded,
        dbmon_connector_api::Status::Unhealthy,
    );
    if let crate::store::Outcome::Collected(report) = &mut c.outcome {
        report.judged(crate::rules::Verdict {
            status: unhealthy,
            fired: vec![
                fired("lag", degraded, "a lags", 1),
                fired("lag", degraded, "lag: and 4 more places", 4),
                fired("lag \"high\"", unhealthy, "lag", 1),
            ],
        });
    }
    store.cluster("db-1").unwrap().record_now(c);
    let text = exposition(&state(Arc::clone(&store)), now);
    assert_families_whole(&text);
    assert_eq!(
        lines(&text, "dbmon_cluster_rule_firing{"),
        [
            "dbmon_cluster_rule_firing{cluster=\"db-1\",connector=\"pg\",rule=\"lag\",status=\"degraded\"} 5",
            "dbmon_cluster_rule_firing{cluster=\"db-1\",connector=\"pg\",rule=\"lag \\\"high\\\"\",status=\"unhealthy\"} 1",
        ]
    );
}
