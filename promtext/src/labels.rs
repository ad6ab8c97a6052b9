//! Label sets: strict validation while a sample line is scanned, and lazy,
//! allocation-free iteration over the already validated text afterwards.

use std::borrow::Cow;
use std::iter::FusedIterator;

use crate::bytes::{LABEL_CONT, LABEL_START, QUOTE_STOP, is, skip_class, skip_space};
use crate::error::Failure;

/// Result of validating a label set.
pub(crate) struct LabelSet {
    /// Index just past the closing `}`.
    pub(crate) end: usize,
    /// Whether any value holds a backslash; lets iteration skip escape handling.
    pub(crate) escaped: bool,
}

/// Validates the label set whose `{` is at `open`.
///
/// Doing the full syntax check here, once, is what allows [`Labels`] to be a
/// trivial re-scan that never fails. An escape other than `\\`, `\"` and `\n` is an
/// error in the 0.0.4 format (as in its reference parser) and a backslash kept as written in
/// OpenMetrics, whose grammar allows a backslash before any other character.
pub(crate) fn validate<const OM: bool>(b: &[u8], open: usize) -> Result<LabelSet, Failure> {
    let mut i = open + 1;
    let mut escaped = false;
    loop {
        i = skip_space(b, i);
        match b.get(i) {
            Some(b'}') => break,
            None | Some(b'\n') => return Err(Failure::new(i, "unterminated label set")),
            Some(&c) if !is(c, LABEL_START) => {
                return Err(Failure::new(i, "bad label name"));
            }
            _ => {}
        }
        i = skip_space(b, skip_class(b, i, LABEL_CONT));
        match b.get(i) {
            Some(b'=') => i = skip_space(b, i + 1),
            None | Some(b'\n') => return Err(Failure::new(i, "unterminated label set")),
            Some(_) => return Err(Failure::new(i, "bad label name")),
        }
        if b.get(i) != Some(&b'"') {
            return Err(Failure::new(i, "expected '\"' to open label value"));
        }
        i += 1;
        loop {
            while i < b.len() && !is(b[i], QUOTE_STOP) {
                i += 1;
            }
            match b.get(i) {
                Some(b'"') => break,
                Some(b'\\') => {
                    let known = matches!(b.get(i + 1), Some(b'\\' | b'"' | b'n'));
                    let kept = OM && b.get(i + 1).is_some_and(|&c| c != b'\n');
                    if !known && !kept {
                        return Err(Failure::new(i, "invalid escape sequence in label value"));
                    }
                    escaped = true;
                    i += 2;
                }
                _ => return Err(Failure::new(i, "unterminated quoted label value")),
            }
        }
        i = skip_space(b, i + 1);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => break,
            None | Some(b'\n') => return Err(Failure::new(i, "unterminated label set")),
            Some(_) => return Err(Failure::new(i, "expected ',' or '}' after label value")),
        }
    }
    Ok(LabelSet {
        end: i + 1,
        escaped,
    })
}

/// One label of a sample.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Label<'a> {
    /// Label name, borrowed from the body.
    pub name: &'a str,
    /// Unescaped value: borrowed from the body unless it contained an escape.
    pub value: Cow<'a, str>,
}

/// Iterator over the labels of a [`Sample`](crate::Sample), parsed lazily from
/// its raw label text.
#[derive(Debug, Clone)]
pub struct Labels<'a> {
    rest: &'a str,
    escaped: bool,
}

impl<'a> Labels<'a> {
    /// `raw` must have passed [`validate`]; `escaped` says whether it has backslashes.
    pub(crate) fn new(raw: &'a str, escaped: bool) -> Self {
        Labels { rest: raw, escaped }
    }

    /// Next label as (name, raw value, value has escapes), without unescaping.
    pub(crate) fn next_raw(&mut self) -> Option<(&'a str, &'a str, bool)> {
        let s = self.rest;
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() && (b[i] == b',' || is(b[i], crate::bytes::SPACE)) {
            i += 1;
        }
        let name_start = i;
        let name_end = skip_class(b, i, LABEL_CONT);
        // Opening quote: validation guarantees only spaces and '=' before it.
        let Some(open) = b[name_end..].iter().position(|&c| c == b'"') else {
            self.rest = "";
            return None;
        };
        let value_start = name_end + open + 1;
        let mut j = value_start;
        let mut has_escape = false;
        if self.escaped {
            while j < b.len() && b[j] != b'"' {
                if b[j] == b'\\' {
                    has_escape = true;
                    j += 1;
                }
                j += 1;
            }
        } else {
            j += b[value_start..]
                .iter()
                .position(|&c| c == b'"')
                .unwrap_or(b.len() - value_start);
        }
        let value_end = j.min(b.len());
        self.rest = s.get(value_end + 1..).unwrap_or("");
        Some((
            &s[name_start..name_end],
            &s[value_start..value_end],
            has_escape,
        ))
    }
}

impl<'a> Iterator for Labels<'a> {
    type Item = Label<'a>;

    #[inline]
    fn next(&mut self) -> Option<Label<'a>> {
        let (name, raw, has_escape) = self.next_raw()?;
        let value = if has_escape {
            Cow::Owned(unescape_value(raw))
        } else {
            Cow::Borrowed(raw)
        };
        Some(Label { name, value })
    }
}

impl FusedIterator for Labels<'_> {}

/// Resolves `\\`, `\"` and `\n` in a validated label value; any other backslash (only
/// OpenMetrics lets one through validation) is kept with the character after it.
pub(crate) fn unescape_value(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(c @ ('\\' | '"')) => out.push(c),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(set: &str) -> Result<LabelSet, Failure> {
        validate::<false>(set.as_bytes(), 0)
    }

    #[test]
    fn validation_reports_the_offending_position() {
        assert_eq!(check("{a=\"b\" c=\"d\"}").err().map(|f| f.at), Some(7));
        assert_eq!(check("{1a=\"b\"}").err().map(|f| f.at), Some(1));
        assert_eq!(check("{a=\"b\\x\"}").err().map(|f| f.at), Some(5));
    }

    #[test]
    fn validation_flags_escapes_only_when_present() {
        assert!(!check("{a=\"b\",c=\"}{,=\"}").ok().unwrap().escaped);
        assert!(check("{a=\"\\\\\"}").ok().unwrap().escaped);
    }

    #[test]
    fn unescape_handles_each_sequence() {
        assert_eq!(unescape_value(r#"a\\b\"c\nd"#), "a\\b\"c\nd");
        assert_eq!(unescape_value(r"a\tb"), r"a\tb");
    }

    #[test]
    fn openmetrics_keeps_unknown_escapes() {
        let set = b"{a=\"\\t\"}";
        assert!(validate::<false>(set, 0).is_err());
        assert!(validate::<true>(set, 0).is_ok_and(|s| s.escaped));
        // A backslash at the end of the line is still no escape.
        assert!(validate::<true>(b"{a=\"\\\n\"}", 0).is_err());
    }
}
