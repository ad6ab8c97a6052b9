//! The line loop: classifies each line and hands it to the sample or comment parser.

use std::iter::FusedIterator;

use crate::Entry;
use crate::bytes::{line_end, skip_space};
use crate::error::{Failure, ParseError};
use crate::metadata::{Comment, parse_comment};
use crate::sample::parse_sample;

/// Iterator over the entries of an exposition body.
///
/// Yields one item per sample, HELP, TYPE or UNIT line; blank lines and other
/// comments are skipped and `# EOF` ends the iteration. A bad line yields an
/// `Err` and iteration resumes on the next line, so a caller may either skip
/// bad lines or stop at the first one.
#[derive(Debug, Clone)]
pub struct Parser<'a> {
    src: &'a str,
    pos: usize,
    line: usize,
    done: bool,
}

impl<'a> Parser<'a> {
    /// Starts parsing `body`; nothing is read until the first call to `next`.
    pub fn new(body: &'a str) -> Self {
        Parser {
            src: body,
            pos: 0,
            line: 0,
            done: false,
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
                b'#' => match parse_comment(self.src, start) {
                    Ok((Comment::Entry(entry), next)) => {
                        self.pos = next;
                        return Some(Ok(entry));
                    }
                    Ok((Comment::Plain, next)) => self.pos = next,
                    Ok((Comment::Eof, _)) => self.done = true,
                    Err(failure) => return Some(Err(self.fail(failure))),
                },
                _ => match parse_sample(self.src, start) {
                    Ok((sample, next)) => {
                        self.pos = next;
                        return Some(Ok(Entry::Sample(sample)));
                    }
                    Err(failure) => return Some(Err(self.fail(failure))),
                },
            }
        }
        None
    }
}

impl FusedIterator for Parser<'_> {}
