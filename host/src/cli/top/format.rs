//! Short texts for the view: ages, metric values with units, text sparklines.

use dbmon_proto as proto;
use std::time::Duration;

/// An age as `4s`, `2m05s`, `3h10m` or `2d04h`; `-` when unknown.
pub fn age(age: Option<Duration>) -> String {
    let Some(age) = age else {
        return "-".into();
    };
    let s = age.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

/// A number in at most 4 significant digits, without trailing zeros (`12.5`, `3`, `1234`).
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v == v.trunc() && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    let digits = if v.abs() >= 1000.0 {
        0
    } else if v.abs() >= 100.0 {
        1
    } else if v.abs() >= 10.0 {
        2
    } else {
        3
    };
    let text = format!("{v:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A value with its unit: bytes in KiB/MiB/GiB/TiB, percent with `%`, others as `v unit`.
pub fn value(v: f64, unit: &str) -> String {
    match unit {
        "bytes" => bytes(v),
        "percent" => format!("{}%", number(v)),
        "" => number(v),
        unit => format!("{} {unit}", number(v)),
    }
}

fn bytes(v: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut scaled = v;
    let mut unit = 0;
    while scaled.abs() >= 1024.0 && unit + 1 < UNITS.len() {
        scaled /= 1024.0;
        unit += 1;
    }
    format!("{} {}", number(scaled), UNITS[unit])
}

/// `name` or `name{k="v",...}`.
pub fn series(metric: &proto::Metric) -> String {
    super::super::render::series_key(metric)
}

/// `name=value` of a metric, short, for the list.
pub fn key_metric(metric: &proto::Metric) -> String {
    format!("{}={}", metric.name, value(metric.value, &metric.unit))
}

/// The newest `width` values as block characters, scaled from 0 to the largest shown.
pub fn sparkline(values: impl ExactSizeIterator<Item = f64>, width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let skip = values.len().saturating_sub(width);
    let shown: Vec<f64> = values.skip(skip).collect();
    let max = shown.iter().copied().fold(0.0_f64, f64::max);
    shown
        .iter()
        .map(|&v| {
            if max <= 0.0 || !v.is_finite() {
                BARS[0]
            } else {
                BARS[((v / max * 7.0).round() as usize).min(7)]
            }
        })
        .collect()
}
