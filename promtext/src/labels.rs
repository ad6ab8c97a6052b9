//! Label sets: strict validation while a sample line is scanned, and lazy,
//! allocation-free iteration over the already validated text afterwards.

use std::borrow::Cow;
use std::iter::FusedIterator;

use crate::bytes::{
    LABEL_START, SPACE, ascii_slice, find_byte, find_quote_stop, is, skip_name, skip_space,
};
use crate::error::Failure;

/// Result of validating a label set.
pub(crate) struct LabelSet {
    /// Index just past the closing `}`.
    pub(crate) end: usize,
    /// Whether any value holds a backslash; lets iteration skip escape handling.
    pub(crate) escaped: bool,
    /// Whether the set is written the way exporters write it: `name="value"` pairs joined by
    /// bare commas, no blanks, no escapes. Iteration then only looks for `=` and `"`.
    pub(crate) plain: bool,
}

/// Validates the label set whose `{` is at `open`.
///
/// Doing the full syntax check here, once, is what allows [`Labels`] to be a
/// trivial re-scan that never fails. An escape other than `\\`, `\"` and `\n` is an
/// error in the 0.0.4 format (as in its reference parser) and a backslash kept as written in
/// OpenMetrics, whose grammar allows a backslash before any other character.
///
/// Sets written the plain way (see [`LabelSet::plain`]) are checked by a loop that expects
/// each delimiter where exporters put it; anything else (blanks, escapes, errors) is read
/// again from the `{` by the general loop, which alone produces errors.
#[inline]
pub(crate) fn validate<const OM: bool>(b: &[u8], open: usize) -> Result<LabelSet, Failure> {
    let mut i = open + 1;
    while let Some(&c) = b.get(i) {
        if c == b'}' {
            return Ok(LabelSet {
                end: i + 1,
                escaped: false,
                plain: true,
            });
        }
        if !is(c, LABEL_START) {
            break;
        }
        let name_end = skip_name::<false>(b, i + 1);
        if b.get(name_end) != Some(&b'=') || b.get(name_end + 1) != Some(&b'"') {
            break;
        }
        let close = find_quote_stop(b, name_end + 2);
        if b.get(close) != Some(&b'"') {
            break;
        }
        match b.get(close + 1) {
            Some(b',') => i = close + 2,
            Some(b'}') => {
                return Ok(LabelSet {
                    end: close + 2,
                    escaped: false,
                    plain: true,
                });
            }
            _ => break,
        }
    }
    validate_general::<OM>(b, open)
}

/// [`validate`] for any label set, and the one that reports what is wrong.
#[cold]
#[inline(never)]
fn validate_general<const OM: bool>(b: &[u8], open: usize) -> Result<LabelSet, Failure> {
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
        i = skip_space(b, skip_name::<false>(b, i + 1));
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
            i = find_quote_stop(b, i);
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
        plain: false,
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
    plain: bool,
}

impl<'a> Labels<'a> {
    /// `raw` must have passed [`validate`], which gave `escaped` and `plain`.
    #[inline]
    pub(crate) fn new(raw: &'a str, escaped: bool, plain: bool) -> Self {
        Labels {
            rest: raw,
            escaped,
            plain,
        }
    }

    /// Next label as (name, raw value, value has escapes), without unescaping.
    ///
    /// The text passed [`validate`], so this only looks for delimiters: the name ends
    /// at its `=` (less any blanks before it), and the value at the first `"` that no
    /// backslash escapes.
    #[inline]
    pub(crate) fn next_raw(&mut self) -> Option<(&'a str, &'a str, bool)> {
        if self.plain {
            return self.next_plain();
        }
        let s = self.rest;
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() && (b[i] == b',' || is(b[i], SPACE)) {
            i += 1;
        }
        let name_start = i;
        let eq = find_byte(b, name_start, b'=');
        let open = eq.map(|eq| skip_space(b, eq + 1));
        let (Some(eq), Some(open)) = (eq, open.filter(|&o| b.get(o) == Some(&b'"'))) else {
            self.rest = "";
            return None;
        };
        let mut name_end = eq;
        while name_end > name_start && is(b[name_end - 1], SPACE) {
            name_end -= 1;
        }
        let value_start = open + 1;
        let mut has_escape = false;
        let value_end = if self.escaped {
            let mut j = value_start;
            while j < b.len() && b[j] != b'"' {
                if b[j] == b'\\' {
                    has_escape = true;
                    j += 1;
                }
                j += 1;
            }
            j.min(b.len())
        } else {
            find_byte(b, value_start, b'"').unwrap_or(b.len())
        };
        self.rest = s.get(value_end + 1..).unwrap_or("");
        Some((
            &s[name_start..name_end],
            &s[value_start..value_end],
            has_escape,
        ))
    }

    /// [`next_raw`](Self::next_raw) for plain text: `name="value"` pairs joined by commas.
    #[inline]
    fn next_plain(&mut self) -> Option<(&'a str, &'a str, bool)> {
        let s = self.rest;
        let b = s.as_bytes();
        let name_start = usize::from(b.first() == Some(&b','));
        let eq = find_byte(b, name_start, b'=')?;
        // Plain text has the opening quote right after the `=`; checked all the same, as the
        // slices below rely on it.
        if b.get(eq + 1) != Some(&b'"') {
            self.rest = "";
            return None;
        }
        let value_start = eq + 2;
        let value_end = find_byte(b, value_start, b'"').unwrap_or(b.len());
        // Every index here is 0, `b.len()`, or at or just past a `,`, `=` or `"` of `s`.
        self.rest = ascii_slice(s, (value_end + 1).min(b.len()), b.len());
        Some((
            ascii_slice(s, name_start, eq),
            ascii_slice(s, value_start, value_end),
            false,
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
    fn plain_sets_take_the_plain_path_and_others_do_not() {
        for plain in ["{}", "{a=\"b\"}", "{a=\"b\",c_1=\"\"}", "{a=\"b\",}"] {
            assert!(check(plain).is_ok_and(|s| s.plain), "{plain}");
        }
        for other in [
            "{ }",
            "{a = \"b\"}",
            "{a=\"b\" }",
            "{a=\"\\\\\"}",
            "{a=\"b\" ,c=\"d\"}",
        ] {
            assert!(check(other).is_ok_and(|s| !s.plain), "{other}");
        }
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
