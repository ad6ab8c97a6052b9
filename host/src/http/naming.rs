//! How a connector's series is named on `/metrics`: Prometheus' naming rules and the
//! conventions `promtool check metrics` checks, applied the same way to every connector.
//!
//! - The family is `<connector>_<metric>`, both sanitised: characters outside
//!   `[a-zA-Z0-9_]` become `_` (colons too: they are for recording rules), camelCase
//!   becomes snake_case, and a name that would start with a digit gets a `_`. The host's own
//!   metrics are `dbmon_*`; a connector named `dbmon` is exposed as `connector_dbmon_*`.
//! - Times are in seconds: a series whose unit (or, without a unit, whose name's last word)
//!   is `ms`, `us`, `ns`, `milliseconds`, ..., `minutes`, `hours` or `days` has its value
//!   converted and that suffix replaced by `_seconds` (`round_trip_ms` → `round_trip_seconds`).
//! - A counter ends in `_total` (appended when missing); any other kind does not (a trailing
//!   `_total` is dropped, as OpenTelemetry's Prometheus exporter does: `processes_total`, a
//!   gauge, is `processes`).
//! - A gauge or untyped series may not end in `_count`, `_sum` or `_bucket` (the suffixes of
//!   histograms and summaries): `_value` is appended (`cpu_count` → `cpu_count_value`).
//! - Histogram and summary series keep their names: `X_bucket` (with `le`), `X_sum` and
//!   `X_count` (summaries: `X` with `quantile`) form family `X`; `X_created` is a gauge
//!   family of its own. A series of such a kind that fits no part of the family is untyped.
//! - Label names are sanitised as metric names; `cluster`, `connector` and `node` (set by the
//!   host), and `le`/`quantile` outside histograms/summaries, get `exported_` in front, as
//!   Prometheus does to a target's labels that clash with its own.

use super::text::Kind;
use crate::store::MetricKind;

/// Where a connector's series goes on `/metrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct Exposed {
    /// The family's name.
    pub family: String,
    /// What follows the family's name in the sample's (`_bucket`, `_sum`, ...; often `""`).
    pub suffix: &'static str,
    /// The family's type.
    pub kind: Kind,
    /// Multiply the value by this (unit conversion to seconds; else 1).
    pub scale: f64,
}

/// The words a time unit goes by, with its length in seconds.
const TIME_UNITS: &[(&[&str], f64)] = &[
    (&["ns", "nanosecond", "nanoseconds"], 1e-9),
    (&["us", "µs", "microsecond", "microseconds"], 1e-6),
    (&["ms", "millisecond", "milliseconds"], 1e-3),
    (&["s", "sec", "secs", "second", "seconds"], 1.0),
    (&["min", "mins", "minute", "minutes"], 60.0),
    (&["h", "hour", "hours"], 3600.0),
    (&["d", "day", "days"], 86400.0),
];

/// The last words of a name that say its unit when the series has none.
const NAMED_TIME_UNITS: &[&str] = &[
    "ns",
    "ms",
    "nanoseconds",
    "microseconds",
    "milliseconds",
    "seconds",
    "minutes",
    "hours",
    "days",
];

/// The length in seconds of the time unit `word`, when it is one.
fn time_unit(word: &str) -> Option<f64> {
    let word = word.to_lowercase();
    TIME_UNITS
        .iter()
        .find(|(words, _)| words.contains(&word.as_str()))
        .map(|(_, seconds)| *seconds)
}

/// `text` as a metric or label name: `[a-zA-Z0-9_]`, snake_case, not starting with a digit,
/// never empty.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    let mut previous: Option<char> = None;
    for c in text.chars() {
        if c.is_ascii_uppercase() {
            if previous.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit()) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else {
            out.push('_');
        }
        previous = Some(c);
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The prefix of a connector's families: `<connector>_`; `connector_dbmon_` for a connector
/// called `dbmon`, whose families would mix with the host's own.
pub fn prefix(connector: &str) -> String {
    let name = sanitize(connector);
    if name == "dbmon" {
        "connector_dbmon_".into()
    } else {
        format!("{name}_")
    }
}

/// How a series named `name`, in `unit`, of `kind` is exposed under `prefix`.
pub fn exposed(prefix: &str, name: &str, unit: &str, kind: MetricKind) -> Exposed {
    let name = sanitize(name);
    match kind {
        MetricKind::Histogram => {
            for suffix in ["_bucket", "_sum", "_count"] {
                if let Some(base) = name.strip_suffix(suffix).filter(|b| !b.is_empty()) {
                    return part(prefix, base, suffix, Kind::Histogram);
                }
            }
            created_or_untyped(prefix, &name)
        }
        MetricKind::Summary => {
            for suffix in ["_sum", "_count"] {
                if let Some(base) = name.strip_suffix(suffix).filter(|b| !b.is_empty()) {
                    return part(prefix, base, suffix, Kind::Summary);
                }
            }
            match name.strip_suffix("_created") {
                Some(base) if !base.is_empty() => created_or_untyped(prefix, &name),
                _ => part(prefix, &name, "", Kind::Summary),
            }
        }
        MetricKind::Counter => scalar(prefix, &name, unit, Kind::Counter),
        MetricKind::Gauge => scalar(prefix, &name, unit, Kind::Gauge),
        _ => scalar(prefix, &name, unit, Kind::Untyped),
    }
}

fn part(prefix: &str, base: &str, suffix: &'static str, kind: Kind) -> Exposed {
    Exposed {
        family: format!("{prefix}{base}"),
        suffix,
        kind,
        scale: 1.0,
    }
}

/// `X_created` of a histogram or summary is a gauge of its own; a histogram's series that is
/// none of its parts is untyped.
fn created_or_untyped(prefix: &str, name: &str) -> Exposed {
    let kind = if name.ends_with("_created") {
        Kind::Gauge
    } else {
        Kind::Untyped
    };
    scalar(prefix, name, "", kind)
}

/// A gauge's, counter's or untyped series' family, after the unit and suffix rules.
fn scalar(prefix: &str, name: &str, unit: &str, kind: Kind) -> Exposed {
    let mut base = match name.strip_suffix("_total") {
        Some(base) if !base.is_empty() => base.to_string(),
        _ => name.to_string(),
    };
    let mut scale = 1.0;
    let last_word = base.rsplit('_').next().unwrap_or("").to_string();
    // Without a unit, only a name's unambiguous last word says one (not `_s`, `_min`, `_us`).
    let named = time_unit(&last_word).filter(|_| NAMED_TIME_UNITS.contains(&last_word.as_str()));
    let unit_scale = if unit.trim().is_empty() {
        named
    } else {
        time_unit(unit.trim())
    };
    if let Some(seconds) = unit_scale {
        scale = seconds;
        if named.is_some() && base.len() > last_word.len() {
            base.truncate(base.len() - last_word.len() - 1);
        }
        base.push_str("_seconds");
    }
    if kind == Kind::Counter {
        base.push_str("_total");
    } else if ["_count", "_sum", "_bucket"]
        .iter()
        .any(|s| base.ends_with(s))
    {
        base.push_str("_value");
    }
    Exposed {
        family: format!("{prefix}{base}"),
        suffix: "",
        kind,
        scale,
    }
}

/// A series' own label name as exposed: sanitised, and kept apart from the host's labels and
/// from the labels reserved to histograms (`le`) and summaries (`quantile`).
pub fn label_name(key: &str, kind: Kind) -> String {
    let key = sanitize(key);
    let key = key.trim_start_matches("__");
    let key = if key.is_empty() { "_" } else { key };
    let reserved = match key {
        "cluster" | "connector" | "node" => true,
        "le" => kind != Kind::Histogram,
        "quantile" => kind != Kind::Summary,
        _ => false,
    };
    if reserved {
        format!("exported_{key}")
    } else {
        key.to_string()
    }
}
