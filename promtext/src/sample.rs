//! Sample lines: `name[{labels}] value [timestamp] [# exemplar]`.

use std::borrow::Cow;

use crate::bytes::{
    NAME_START, TOKEN_END, ascii_slice, find_class, is, line_end, skip_name, skip_space,
};
use crate::error::{Failure, quoted};
use crate::labels::{self, Labels, unescape_value};
use crate::value::{fast_value_at, parse_seconds_timestamp, parse_timestamp, parse_value};

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    /// Metric name as written, e.g. `sql_select_count` or `sys_rss_bucket`.
    pub name: &'a str,
    /// The value; `NaN` and the infinities are kept as such.
    pub value: f64,
    /// Optional timestamp in milliseconds since the Unix epoch (OpenMetrics writes seconds:
    /// they are converted).
    pub timestamp_ms: Option<i64>,
    raw_labels: &'a str,
    escaped: bool,
    plain: bool,
}

impl<'a> Sample<'a> {
    /// Iterates the labels, parsing them on demand from [`raw_labels`](Self::raw_labels).
    #[inline]
    pub fn labels(&self) -> Labels<'a> {
        Labels::new(self.raw_labels, self.escaped, self.plain)
    }

    /// The text between `{` and `}` exactly as written; `""` without a label set.
    ///
    /// Useful as a cheap series key: identical label text means identical labels.
    #[inline]
    pub fn raw_labels(&self) -> &'a str {
        self.raw_labels
    }

    /// Value of the first label called `name`, unescaped only if it has escapes.
    pub fn label(&self, name: &str) -> Option<Cow<'a, str>> {
        let mut labels = self.labels();
        while let Some((n, raw, has_escape)) = labels.next_raw() {
            if n == name {
                return Some(if has_escape {
                    Cow::Owned(unescape_value(raw))
                } else {
                    Cow::Borrowed(raw)
                });
            }
        }
        None
    }
}

/// Parses the sample line starting at `start` (a metric name character is
/// expected there) and returns it with the index just past the line's `\n`.
///
/// In OpenMetrics a line must end with its line feed: a body cut inside its last line (`m 12`
/// of `m 12345`) would otherwise give a wrong value. The 0.0.4 format asks for one too, but
/// Prometheus reads a last line without it, and so does this parser.
#[inline]
/// `OM` is whether the body is OpenMetrics: a constant, so the 0.0.4 path carries no test.
pub(crate) fn parse_sample<const OM: bool>(
    src: &str,
    start: usize,
) -> Result<(Sample<'_>, usize), Failure> {
    let b = src.as_bytes();
    if !is(b[start], NAME_START) {
        let end = find_class(b, start, TOKEN_END);
        return Err(Failure::new(
            start,
            format!("bad metric name {}", quoted(&src[start..end])),
        ));
    }
    let name_end = skip_name::<true>(b, start + 1);
    // Both ends are next to name bytes, which are ASCII.
    let name = ascii_slice(src, start, name_end);
    let mut i = skip_space(b, name_end);
    let mut raw_labels = "";
    let mut escaped = false;
    let mut plain = true;
    if b.get(i) == Some(&b'{') {
        let set = labels::validate::<OM>(b, i)?;
        // Just past the `{` at `i`, and at the `}` that `validate` found.
        raw_labels = ascii_slice(src, i + 1, set.end - 1);
        escaped = set.escaped;
        plain = set.plain;
        i = set.end;
    } else if i == name_end && i < b.len() && b[i] != b'\n' {
        let end = find_class(b, start, TOKEN_END);
        return Err(Failure::new(
            i,
            format!("bad metric name {}", quoted(&src[start..end])),
        ));
    }

    // How exporters write the rest: a space (already skipped without labels), a value, the
    // line feed. Anything else (more blanks, a timestamp, an exemplar, a value the fast path
    // declines, an error) is read again from `i` below.
    let value_at = if b.get(i) == Some(&b' ') { i + 1 } else { i };
    if let Some((value, end)) = fast_value_at(b, value_at)
        && b.get(end) == Some(&b'\n')
    {
        let sample = Sample {
            name,
            value,
            timestamp_ms: None,
            raw_labels,
            escaped,
            plain,
        };
        return Ok((sample, end + 1));
    }
    i = skip_space(b, i);

    let (value, value_end) = match fast_value_at(b, i) {
        Some(fast) => fast,
        None => slow_value(src, i, name)?,
    };
    i = skip_space(b, value_end);

    let mut timestamp_ms = None;
    if i < b.len() && b[i] != b'\n' && b[i] != b'#' {
        let ts_end = find_class(b, i, TOKEN_END);
        let token = &src[i..ts_end];
        let parsed = match OM {
            false => parse_timestamp(token),
            true => parse_seconds_timestamp(token),
        };
        timestamp_ms = Some(
            parsed.ok_or_else(|| Failure::new(i, format!("bad timestamp {}", quoted(token))))?,
        );
        i = skip_space(b, ts_end);
    }

    match b.get(i) {
        Some(b'\n') => i += 1,
        None if OM => return Err(cut_short(i)),
        None => {}
        // An OpenMetrics exemplar (`# {trace_id="..."} 0.5`): ingestors may drop them, and
        // this parser does; the sample stays.
        Some(b'#') => {
            let eol = line_end(b, i);
            if OM && eol == b.len() {
                return Err(cut_short(eol));
            }
            i = (eol + 1).min(b.len());
        }
        Some(_) => {
            let end = find_class(b, i, TOKEN_END);
            return Err(Failure::new(
                i,
                format!("unexpected text after sample: {}", quoted(&src[i..end])),
            ));
        }
    }
    let sample = Sample {
        name,
        value,
        timestamp_ms,
        raw_labels,
        escaped,
        plain,
    };
    Ok((sample, i))
}

/// The value token at `i` when the fast path declined it: `NaN`, infinities, long mantissas
/// and errors.
#[cold]
#[inline(never)]
fn slow_value(src: &str, i: usize, name: &str) -> Result<(f64, usize), Failure> {
    let b = src.as_bytes();
    let value_end = find_class(b, i, TOKEN_END);
    if value_end == i {
        return Err(Failure::new(i, format!("missing value for {name}")));
    }
    let token = &src[i..value_end];
    let Some(value) = parse_value(token) else {
        return Err(Failure::new(i, format!("bad value {}", quoted(token))));
    };
    Ok((value, value_end))
}

#[cold]
fn cut_short(at: usize) -> Failure {
    Failure::new(
        at,
        "the body ends inside this line, before its line feed (cut short?)",
    )
}
