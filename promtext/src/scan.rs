//! The line loop: classifies each line and hands it to the sample or comment parser.

use std::iter::FusedIterator;

use crate::bytes::{line_end, skip_space};
use crate::error::{Failure, ParseError};
use crate::metadata::{Comment, parse_comment};
use crate::sample::parse_sample;
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
