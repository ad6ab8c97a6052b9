//! Server-drawn SVG: the overview's sparklines and the cluster page's plots. Only numbers and
//! escaped text go in.

use super::html::escape;
use serde::Serialize;
use std::fmt::Write as _;

/// Sparkline size, in CSS pixels.
const SPARK_WIDTH: f64 = 120.0;
const SPARK_HEIGHT: f64 = 24.0;
/// Plot size, in CSS pixels.
const PLOT_WIDTH: f64 = 240.0;
const PLOT_HEIGHT: f64 = 48.0;

/// A sparkline: the path to draw and what it shows in words (for screen readers).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Spark {
    /// The SVG path's `d`, in a [`SPARK_WIDTH`] × [`SPARK_HEIGHT`] box; empty without data.
    pub path: String,
    /// E.g. `collection time, last 20 reports: 2 to 9 ms, now 3 ms`.
    pub label: String,
}

impl Spark {
    /// The sparkline of `values` (oldest first) of something measured in `unit`.
    pub fn of(values: &[f64], unit: &str, what: &str) -> Spark {
        Spark {
            path: path(values, SPARK_WIDTH, SPARK_HEIGHT),
            label: describe(values, unit, what),
        }
    }

    /// As inline SVG.
    pub fn svg(&self) -> String {
        format!(
            "<svg class=\"spark\" width=\"{SPARK_WIDTH}\" height=\"{SPARK_HEIGHT}\" \
             viewBox=\"0 0 {SPARK_WIDTH} {SPARK_HEIGHT}\" role=\"img\" aria-label=\"{}\">\
             <path d=\"{}\"/></svg>",
            escape(&self.label),
            self.path
        )
    }
}

/// A plot of one metric's values over the stored history (oldest first), with its lowest and
/// highest value written beside it.
pub fn plot(values: &[f64], unit: &str, what: &str) -> String {
    let label = describe(values, unit, what);
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let (low, high) = bounds(&finite);
    let mut out = format!(
        "<svg class=\"plot\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
         role=\"img\" aria-label=\"{}\">",
        escape(&label),
        w = PLOT_WIDTH,
        h = PLOT_HEIGHT + 14.0,
    );
    if !finite.is_empty() {
        let _ = write!(
            out,
            "<line class=\"axis\" x1=\"0\" y1=\"{PLOT_HEIGHT}\" x2=\"{PLOT_WIDTH}\" \
             y2=\"{PLOT_HEIGHT}\"/><path d=\"{}\"/>\
             <text x=\"0\" y=\"{}\">min {}</text>\
             <text x=\"{PLOT_WIDTH}\" y=\"{}\" text-anchor=\"end\">max {}</text>",
            path(values, PLOT_WIDTH, PLOT_HEIGHT),
            PLOT_HEIGHT + 12.0,
            escape(&with_unit(low, unit)),
            PLOT_HEIGHT + 12.0,
            escape(&with_unit(high, unit)),
        );
    }
    out.push_str("</svg>");
    out
}

/// `values` scaled into a `width` × `height` box (the lowest at the bottom), as a path; a
/// value that is not finite breaks the line.
pub fn path(values: &[f64], width: f64, height: f64) -> String {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return String::new();
    }
    let (low, high) = bounds(&finite);
    let span = high - low;
    let step = if values.len() > 1 {
        width / (values.len() - 1) as f64
    } else {
        0.0
    };
    let margin = 1.5;
    let mut d = String::new();
    let mut pen_down = false;
    for (i, v) in values.iter().enumerate() {
        if !v.is_finite() {
            pen_down = false;
            continue;
        }
        let x = if values.len() == 1 {
            width / 2.0
        } else {
            i as f64 * step
        };
        let y = if span > 0.0 {
            margin + (high - v) / span * (height - 2.0 * margin)
        } else {
            height / 2.0
        };
        let _ = write!(d, "{}{:.1},{:.1}", if pen_down { "L" } else { "M" }, x, y);
        if values.len() == 1 {
            let _ = write!(d, "h0.1");
        }
        pen_down = true;
    }
    d
}

fn bounds(finite: &[f64]) -> (f64, f64) {
    let low = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let high = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (low, high)
}

/// What a series shows, in words: `collection time, last 20 reports: 2 to 9 ms, now 3 ms`.
fn describe(values: &[f64], unit: &str, what: &str) -> String {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let Some(now) = finite.last() else {
        return format!("{what}: no data yet");
    };
    let (low, high) = bounds(&finite);
    let n = values.len();
    let reports = if n == 1 { "report" } else { "reports" };
    format!(
        "{what}, last {n} {reports}: {} to {}, now {}",
        number(low),
        with_unit(high, unit),
        with_unit(*now, unit)
    )
}

/// A value with its unit: `3.25 ms`, `17`.
pub fn with_unit(value: f64, unit: &str) -> String {
    if unit.is_empty() {
        number(value)
    } else {
        format!("{} {unit}", number(value))
    }
}

/// A number as people read it: whole numbers without decimals, others to 3 significant
/// digits or so.
pub fn number(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    if value.fract() == 0.0 && value.abs() < 1e15 {
        return format!("{}", value as i64);
    }
    let magnitude = value.abs();
    let decimals = if magnitude >= 100.0 {
        1
    } else if magnitude >= 1.0 {
        2
    } else {
        3
    };
    let text = format!("{value:.decimals$}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "0" || text == "-0" {
        format!("{value:.2e}")
    } else {
        text.to_string()
    }
}
