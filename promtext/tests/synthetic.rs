//! The generated CockroachDB-shaped body other crates benchmark with.

use std::collections::HashSet;

use dbmon_promtext::{Entry, MetricType, Parser, synthetic::cockroach_like_vars};

#[test]
fn parses_without_errors_within_the_advertised_size() {
    let body = cockroach_like_vars(1);
    let mut samples = 0;
    for entry in Parser::new(&body) {
        if let Entry::Sample(_) = entry.unwrap_or_else(|e| panic!("{e}")) {
            samples += 1;
        }
    }
    assert!((2_500..=3_500).contains(&samples), "{samples} samples");
    assert!(
        (150_000..=200_000).contains(&body.len()),
        "{} bytes",
        body.len()
    );
}

#[test]
fn is_deterministic_and_labelled_with_the_node() {
    assert_eq!(cockroach_like_vars(7), cockroach_like_vars(7));
    assert_ne!(cockroach_like_vars(7), cockroach_like_vars(8));
    let body = cockroach_like_vars(7);
    for entry in Parser::new(&body).map(Result::unwrap) {
        if let Entry::Sample(s) = entry
            && s.name != "build_timestamp"
        {
            assert_eq!(s.label("node_id").as_deref(), Some("7"), "{s:?}");
        }
    }
}

#[test]
fn has_cockroach_families_and_histograms() {
    let body = cockroach_like_vars(1);
    let mut types = Vec::new();
    let mut helps = HashSet::new();
    let mut buckets: std::collections::HashMap<&str, usize> = Default::default();
    let mut build = None;
    for entry in Parser::new(&body).map(Result::unwrap) {
        match entry {
            Entry::Type { metric, kind } => types.push((metric, kind)),
            Entry::Help { metric, .. } => {
                helps.insert(metric);
            }
            Entry::Sample(s) if s.name.ends_with("_bucket") => {
                *buckets.entry(s.name).or_default() += 1;
            }
            Entry::Sample(s) if s.name == "build_timestamp" => build = Some(s),
            _ => {}
        }
    }
    let names: HashSet<_> = types.iter().map(|(m, _)| *m).collect();
    assert_eq!(names.len(), types.len(), "each family is typed once");
    assert_eq!(names, helps, "each family has HELP and TYPE");
    assert!(names.len() >= 300, "{} families", names.len());
    for expected in [
        "sql_select_count",
        "ranges_unavailable",
        "capacity_available",
        "liveness_livenodes",
        "sys_rss",
        "clock_offset_meannanos",
        "queue_replicate_pending",
    ] {
        assert!(names.contains(expected), "{expected} missing");
    }
    let histograms = types
        .iter()
        .filter(|(_, k)| *k == MetricType::Histogram)
        .count();
    assert_eq!(histograms, 12);
    assert_eq!(buckets.len(), 12);
    assert!(
        buckets.values().all(|n| (50..=61).contains(n)),
        "{buckets:?}"
    );
    assert!(buckets.contains_key("liveness_heartbeatlatency_bucket"));
    let build = build.expect("build_timestamp series");
    assert_eq!(build.value, 1.681737728e9);
    assert_eq!(build.label("tag").as_deref(), Some("v23.1.11"));
}

#[test]
fn mixes_value_shapes_like_a_real_scrape() {
    let body = cockroach_like_vars(1);
    assert!(body.contains("} 0\n"));
    assert!(body.contains("e+"), "exponent values");
    assert!(body.lines().any(|l| !l.starts_with('#')
        && l.ends_with(|c: char| c.is_ascii_digit())
        && l.contains("} 0.")));
    assert!(body.contains("\\n"), "a HELP text with an escaped newline");
}
