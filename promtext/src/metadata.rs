//! Comment lines: `# HELP`, `# TYPE`, OpenMetrics `# UNIT` and `# EOF`, and plain comments.

use std::borrow::Cow;

use crate::bytes::{NAME_START, SPACE, TOKEN_END, find_byte, find_class, is};
use crate::bytes::{ascii_slice, line_end_noting_backslash, skip_class, skip_name, skip_space};
use crate::error::{Failure, quoted};
use crate::{Entry, Format};

/// The type declared by a `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// Monotonically increasing total.
    Counter,
    /// Value that can go up and down.
    Gauge,
    /// Cumulative buckets (`_bucket{le=..}`) plus `_sum` and `_count`.
    Histogram,
    /// Quantiles (`{quantile=..}`) plus `_sum` and `_count`.
    Summary,
    /// Prometheus' type for metrics without a declared type.
    Untyped,
    /// OpenMetrics gauge histogram (`_bucket`, `_gsum`, `_gcount`).
    GaugeHistogram,
    /// OpenMetrics state set: one 0/1 series per state.
    StateSet,
    /// OpenMetrics info metric: a constant 1 carrying labels.
    Info,
    /// OpenMetrics' name for a metric without a declared type.
    Unknown,
}

impl MetricType {
    /// The keyword used for this type in the exposition format.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
            MetricType::Untyped => "untyped",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::StateSet => "stateset",
            MetricType::Info => "info",
            MetricType::Unknown => "unknown",
        }
    }

    fn from_keyword(kw: &str) -> Option<Self> {
        Some(match kw {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "summary" => MetricType::Summary,
            "untyped" => MetricType::Untyped,
            "gaugehistogram" => MetricType::GaugeHistogram,
            "stateset" => MetricType::StateSet,
            "info" => MetricType::Info,
            "unknown" => MetricType::Unknown,
            _ => return None,
        })
    }
}

/// What a comment line turned out to be.
pub(crate) enum Comment<'a> {
    /// HELP, TYPE or UNIT.
    Entry(Entry<'a>),
    /// Any other comment; the caller skips it.
    Plain,
    /// OpenMetrics' `# EOF`: the body ends here.
    Eof,
}

/// Parses the comment line whose `#` is at `hash`; returns it and the index
/// just past the line's `\n`.
///
/// Only OpenMetrics has an end marker, and it is exactly `# EOF` (a `\r` before the line feed
/// is tolerated, as everywhere): `#EOF` or `# EOF x` would otherwise end a body early without
/// a word. In the 0.0.4 format `# EOF` is a comment like any other.
pub(crate) fn parse_comment<const OM: bool>(
    src: &str,
    hash: usize,
) -> Result<(Comment<'_>, usize), Failure> {
    let b = src.as_bytes();
    let (eol, backslash) = line_end_noting_backslash(b, hash);
    let next = (eol + 1).min(b.len());
    if OM && (hash == 0 || b[hash - 1] == b'\n') {
        let line = src[hash..eol].strip_suffix('\r').unwrap_or(&src[hash..eol]);
        if line == "# EOF" {
            return Ok((Comment::Eof, next));
        }
    }
    let kw_start = skip_space(b, hash + 1);
    // The keyword is the token after the `#`: four letters, then a blank or the line's end.
    let keyword = match b.get(kw_start..kw_start + 4) {
        Some(b"HELP") => "HELP",
        Some(b"TYPE") => "TYPE",
        Some(b"UNIT") => "UNIT",
        _ => return Ok((Comment::Plain, next)),
    };
    let kw_end = kw_start + 4;
    if b.get(kw_end).is_some_and(|&c| !is(c, TOKEN_END)) {
        return Ok((Comment::Plain, next));
    }
    let name_start = skip_space(b, kw_end);
    if name_start >= eol {
        // A bare `# HELP` is prose, not metadata; the Go parser agrees.
        return Ok((Comment::Plain, next));
    }
    let name_end = skip_name::<true>(b, name_start);
    if !is(b[name_start], NAME_START) || (name_end < eol && !is(b[name_end], SPACE)) {
        let end = find_class(b, name_start, TOKEN_END).min(eol);
        let bad = quoted(&src[name_start..end]);
        return Err(Failure::new(
            name_start,
            format!("bad metric name {bad} in {keyword}"),
        ));
    }
    // Both ends are next to name bytes, which are ASCII.
    let metric = ascii_slice(src, name_start, name_end);
    // Strip the `\r` of a `\r\n` line, and the separator blanks after the name.
    let text_end = if eol > name_end && b[eol - 1] == b'\r' {
        eol - 1
    } else {
        eol
    };
    let text_start = skip_class(b, name_end, SPACE).min(text_end);
    // At or after the name's end and blanks, and at the line's `\r`, `\n` or end.
    let text = ascii_slice(src, text_start, text_end);

    let entry = match keyword {
        "HELP" => Entry::Help {
            metric,
            // Only the text can hold the line's backslash: a name that does is refused above.
            text: if backslash {
                unescape_help(
                    text,
                    if OM {
                        Format::OpenMetrics
                    } else {
                        Format::Prometheus
                    },
                )
            } else {
                Cow::Borrowed(text)
            },
        },
        "TYPE" => {
            let kind_text = text.trim_end_matches([' ', '\t']);
            let Some(kind) = MetricType::from_keyword(kind_text) else {
                let message = if kind_text.is_empty() {
                    format!("missing type for {metric}")
                } else {
                    format!("unknown metric type {}", quoted(kind_text))
                };
                return Err(Failure::new(text_start, message));
            };
            Entry::Type { metric, kind }
        }
        _ => Entry::Unit {
            metric,
            unit: text.trim_end_matches([' ', '\t']),
        },
    };
    Ok((Comment::Entry(entry), next))
}

/// Resolves `\\` and `\n` in HELP text, and `\"` in OpenMetrics, whose HELP text is
/// escaped like a label value (in 0.0.4 a `\"` there is text). Other backslashes are kept as
/// written: OpenMetrics allows that, and 0.0.4 exporters get it wrong often enough that
/// rejecting the line would lose the metric's documentation for nothing.
fn unescape_help(text: &str, format: Format) -> Cow<'_, str> {
    let Some(first) = find_byte(text.as_bytes(), 0, b'\\') else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..first]);
    let mut chars = text[first..].chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('\\') => out.push('\\'),
            Some('"') if format == Format::OpenMetrics => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_keyword_round_trips() {
        for kind in [
            MetricType::Counter,
            MetricType::Gauge,
            MetricType::Histogram,
            MetricType::Summary,
            MetricType::Untyped,
            MetricType::GaugeHistogram,
            MetricType::StateSet,
            MetricType::Info,
            MetricType::Unknown,
        ] {
            assert_eq!(MetricType::from_keyword(kind.as_str()), Some(kind));
        }
        assert_eq!(MetricType::from_keyword("Counter"), None);
    }

    #[test]
    fn help_unescape_keeps_unknown_escapes() {
        for format in [Format::Prometheus, Format::OpenMetrics] {
            assert_eq!(unescape_help(r"a\tb\\c\nd\", format), "a\\tb\\c\nd\\");
            assert!(matches!(
                unescape_help("plain\ttext", format),
                Cow::Borrowed(_)
            ));
        }
    }

    #[test]
    fn help_quotes_unescape_only_in_openmetrics() {
        assert_eq!(
            unescape_help(r#"say \"hi\""#, Format::OpenMetrics),
            r#"say "hi""#
        );
        assert_eq!(
            unescape_help(r#"say \"hi\""#, Format::Prometheus),
            r#"say \"hi\""#
        );
    }
}
