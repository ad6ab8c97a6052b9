//! The line loop: classifies each line and hands it to the sample or comment parser.

use std::iter::FusedIterator;

use crate::bytes::{NAME_START, is, line_end, skip_name, skip_space};
use crate::error::{Failure, ParseError};
use crate::metadata::{Comment, parse_comment};
use crate::sample::{Sample, parse_sample};
use crate::{Entry, Format};

/// Iterator over the entries of an exposition body.
///
/// Yields one item per sample, HELP, TYPE or UNIT line; blank lines and other
/// comments are skipped. A bad line yields an `Err` and iteration resumes on the
/// next line, so a caller may either skip bad lines or stop at the first one.
///
/// In [`Format::OpenMetrics`], `# EOF` ends the iteration; a body without it
/// yields a last `Err` (it is incomplete), and so does text after it.
#[derive(Debug, Clone)]
pub struct Parser<'a> {
    src: &'a str,
    pos: usize,
    line: usize,
    format: Format,
    done: bool,
}

impl<'a> Parser<'a> {
    /// Starts parsing `body` in the Prometheus 0.0.4 text format; nothing is read
    /// until the first call to `next`.
    pub fn new(body: &'a str) -> Self {
        Self::with_format(body, Format::Prometheus)
    }

    /// Starts parsing `body` in `format`, usually
    /// [`Format::from_content_type`] of the response it came in.
    pub fn with_format(body: &'a str, format: Format) -> Self {
        Parser {
            src: body,
            pos: 0,
            line: 0,
            format,
            done: false,
        }
    }

    /// Only the samples whose metric name `keep` accepts, for a reader that needs a few
    /// families of a large body: every other line is passed over at its line feed.
    ///
    /// A sample line that is passed over is read only as far as its name, which must be
    /// followed by `{` or a blank; its labels and value are not checked. Comment lines are
    /// not read at all, except that OpenMetrics' `# EOF` still ends the body. So errors come
    /// for the samples kept and for lines that do not start like a sample (an HTML page, say),
    /// each with its line number as from [`Parser`].
    pub fn samples_where<F: FnMut(&str) -> bool>(self, keep: F) -> SamplesWhere<'a, F> {
        SamplesWhere { parser: self, keep }
    }

    /// What follows `# EOF` (from `next`): nothing but blank space, or an error.
    #[cold]
    fn after_eof(&mut self, next: usize) -> Option<Result<Entry<'a>, ParseError>> {
        self.pos = self.src.len();
        let rest = &self.src.as_bytes()[next..];
        if rest.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        Some(Err(ParseError {
            line: self.line + 1,
            message: "text after # EOF, which must end the body".into(),
        }))
    }

    #[cold]
    fn missing_eof(&self) -> ParseError {
        ParseError {
            line: self.line + 1,
            message: "the body ends without # EOF: it is incomplete (cut short?)".into(),
        }
    }

    #[cold]
    fn fail(&mut self, failure: Failure) -> ParseError {
        let b = self.src.as_bytes();
        self.pos = (line_end(b, failure.at) + 1).min(b.len());
        ParseError {
            line: self.line,
            message: failure.message,
        }
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self.format {
            Format::Prometheus => self.advance::<false>(),
            Format::OpenMetrics => self.advance::<true>(),
        }
    }
}

impl<'a> Parser<'a> {
    /// The next entry; `OM` is whether the body is OpenMetrics.
    #[inline(always)]
    fn advance<const OM: bool>(&mut self) -> Option<Result<Entry<'a>, ParseError>> {
        let b = self.src.as_bytes();
        while !self.done && self.pos < b.len() {
            self.line += 1;
            let start = skip_space(b, self.pos);
            let Some(&first) = b.get(start) else {
                self.pos = b.len();
                break;
            };
            match first {
                b'\n' => self.pos = start + 1,
                b'#' => match parse_comment::<OM>(self.src, start) {
                    Ok((Comment::Entry(entry), next)) => {
                        self.pos = next;
                        return Some(Ok(entry));
                    }
                    Ok((Comment::Plain, next)) => self.pos = next,
                    Ok((Comment::Eof, next)) => {
                        self.done = true;
                        return self.after_eof(next);
                    }
                    Err(failure) => return Some(Err(self.fail(failure))),
                },
                _ => match parse_sample::<OM>(self.src, start) {
                    Ok((sample, next)) => {
                        self.pos = next;
                        return Some(Ok(Entry::Sample(sample)));
                    }
                    Err(failure) => return Some(Err(self.fail(failure))),
                },
            }
        }
        if !self.done {
            self.done = true;
            if OM {
                return Some(Err(self.missing_eof()));
            }
        }
        None
    }
}

impl FusedIterator for Parser<'_> {}

/// The samples of a body that a name filter keeps: see [`Parser::samples_where`].
#[derive(Debug, Clone)]
pub struct SamplesWhere<'a, F> {
    parser: Parser<'a>,
    keep: F,
}

impl<'a, F: FnMut(&str) -> bool> Iterator for SamplesWhere<'a, F> {
    type Item = Result<Sample<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.parser.format {
            Format::Prometheus => self.advance::<false>(),
            Format::OpenMetrics => self.advance::<true>(),
        }
    }
}

impl<'a, F: FnMut(&str) -> bool> SamplesWhere<'a, F> {
    #[inline(always)]
    fn advance<const OM: bool>(&mut self) -> Option<Result<Sample<'a>, ParseError>> {
        let p = &mut self.parser;
        let src = p.src;
        let b = src.as_bytes();
        while !p.done && p.pos < b.len() {
            let start = skip_space(b, p.pos);
            let Some(&first) = b.get(start) else {
                p.line += 1;
                p.pos = b.len();
                break;
            };
            if OM && first == b'#' && b[start..].starts_with(b"# EOF") {
                p.line += 1;
                match parse_comment::<true>(src, start) {
                    Ok((Comment::Eof, next)) => {
                        p.done = true;
                        return p.after_eof(next).and_then(Result::err).map(Err);
                    }
                    // `# EOFX`: a plain comment.
                    Ok((_, next)) => {
                        p.pos = next;
                        continue;
                    }
                    Err(failure) => return Some(Err(p.fail(failure))),
                }
            }
            if first != b'#' && first != b'\n' {
                let name_end = if is(first, NAME_START) {
                    skip_name::<true>(b, start + 1)
                } else {
                    start
                };
                // Both ends are next to name bytes, which are ASCII.
                let name = crate::bytes::ascii_slice(src, start, name_end);
                let well_started =
                    name_end > start && matches!(b.get(name_end), Some(b'{' | b' ' | b'\t'));
                if !well_started || (self.keep)(name) {
                    p.line += 1;
                    match parse_sample::<OM>(src, start) {
                        Ok((sample, next)) => {
                            p.pos = next;
                            if well_started {
                                return Some(Ok(sample));
                            }
                            continue;
                        }
                        Err(failure) => return Some(Err(p.fail(failure))),
                    }
                }
            }
            p.line += 1;
            p.pos = (line_end(b, start) + 1).min(b.len());
        }
        if !p.done {
            p.done = true;
            if OM {
                return Some(Err(p.missing_eof()));
            }
        }
        None
    }
}

impl<'a, F: FnMut(&str) -> bool> FusedIterator for SamplesWhere<'a, F> {}
