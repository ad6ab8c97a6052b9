//! One scrape of one target: fetch, parse with the borrowing parser, append to the report.

use crate::options::NameFilter;
use dbmon_connector_api::{MetricKind, Report};
use dbmon_promtext::{Entry, Format, MetricType, Parser};

/// What one target gave.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Samples added to the report.
    pub samples: usize,
    /// Samples the filter dropped.
    pub dropped: usize,
    /// Lines that did not parse.
    pub errors: usize,
    /// The first of them, for the reason text.
    pub first_error: Option<String>,
}

/// Appends the samples of `body`, read as `format`, that `filter` keeps to `report`, each labelled with
/// `instance` when given (several targets in one cluster); a sample's own `instance` label is
/// then renamed `exported_instance`.
pub fn append_samples(
    report: &mut Report,
    body: &str,
    format: Format,
    filter: &NameFilter,
    instance: Option<&str>,
) -> Parsed {
    let mut parsed = Parsed::default();
    let keep_all = filter.keeps_all();
    // Consecutive samples usually share a name (histogram buckets): decide once per name.
    let mut last_name = "";
    let mut last_kept = true;
    // The family of the last `# TYPE` line, and the kind of the last sample name seen.
    let mut family: (&str, MetricType) = ("", MetricType::Untyped);
    let mut kind = (None, MetricKind::Unknown);
    for entry in Parser::with_format(body, format) {
        let sample = match entry {
            Ok(Entry::Sample(sample)) => sample,
            Ok(Entry::Type { metric, kind }) => {
                family = (metric, kind);
                continue;
            }
            Ok(_) => continue,
            Err(e) => {
                parsed.errors += 1;
                parsed.first_error.get_or_insert_with(|| e.to_string());
                continue;
            }
        };
        if !keep_all {
            if sample.name != last_name {
                last_name = sample.name;
                last_kept = filter.keeps(sample.name);
            }
            if !last_kept {
                parsed.dropped += 1;
                continue;
            }
        }
        parsed.samples += 1;
        if kind.0 != Some(sample.name) {
            kind = (Some(sample.name), kind_of(sample.name, family));
        }
        let mut metric = report.metric(sample.name, sample.value).kind(kind.1);
        for label in sample.labels() {
            // A target's own `instance` (a federation endpoint, a pushgateway) would clash with
            // ours: it is kept under Prometheus's name for it, as `honor_labels: false` does.
            let name = match (label.name, instance) {
                ("instance", Some(_)) => "exported_instance",
                (name, _) => name,
            };
            metric = metric.label(name, &label.value);
        }
        if let Some(instance) = instance {
            metric.label("instance", instance);
        }
    }
    parsed
}

/// The kind of series `name` under the last `# TYPE` family: the family's own name or one of
/// the suffixes its type adds (`_bucket`, `_sum`, `_count`, `_total`, ...); else unknown.
fn kind_of(name: &str, (family, declared): (&str, MetricType)) -> MetricKind {
    let Some(suffix) = name.strip_prefix(family).filter(|_| !family.is_empty()) else {
        return MetricKind::Unknown;
    };
    let suffixes: &[&str] = match declared {
        MetricType::Counter => &["", "_total", "_created"],
        MetricType::Histogram | MetricType::GaugeHistogram => {
            &["_bucket", "_sum", "_count", "_created", "_gsum", "_gcount"]
        }
        MetricType::Summary => &["", "_sum", "_count", "_created"],
        MetricType::Gauge | MetricType::StateSet => &[""],
        MetricType::Info => &["_info", ""],
        _ => &[],
    };
    if !suffixes.contains(&suffix) {
        return MetricKind::Unknown;
    }
    match declared {
        MetricType::Counter => MetricKind::Counter,
        MetricType::Gauge | MetricType::StateSet | MetricType::Info => MetricKind::Gauge,
        MetricType::Histogram | MetricType::GaugeHistogram => MetricKind::Histogram,
        MetricType::Summary => MetricKind::Summary,
        _ => MetricKind::Unknown,
    }
}

#[cfg(test)]
mod kind_tests {
    use super::*;

    #[test]
    fn series_take_the_kind_of_their_declared_family() {
        let body = "# TYPE up gauge\nup 1\n# TYPE req counter\nreq_total 5\nreq_created 1\n\
                    # TYPE lat histogram\nlat_bucket{le=\"1\"} 2\nlat_sum 3\nlat_count 2\n\
                    # TYPE q summary\nq{quantile=\"0.5\"} 1\nq_count 4\n# TYPE other gauge\nstray 7\n\
                    untyped_thing 1\n";
        let mut report = Report::new();
        let filter = NameFilter::default();
        append_samples(&mut report, body, Format::Prometheus, &filter, None);
        let kinds: Vec<(&str, MetricKind)> =
            report.series().map(|s| (s.name(), s.kind())).collect();
        use MetricKind::*;
        assert_eq!(
            kinds,
            [
                ("up", Gauge),
                ("req_total", Counter),
                ("req_created", Counter),
                ("lat_bucket", Histogram),
                ("lat_sum", Histogram),
                ("lat_count", Histogram),
                ("q", Summary),
                ("q_count", Summary),
                ("stray", Unknown),
                ("untyped_thing", Unknown),
            ]
        );
    }
}
