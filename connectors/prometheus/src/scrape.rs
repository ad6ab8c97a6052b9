//! One scrape of one target: fetch, parse with the borrowing parser, append to the report.

use crate::options::NameFilter;
use dbmon_connector_api::Report;
use dbmon_promtext::{Entry, Format, Parser};

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
    for entry in Parser::with_format(body, format) {
        let sample = match entry {
            Ok(Entry::Sample(sample)) => sample,
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
        let mut metric = report.metric(sample.name, sample.value);
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
