//! Turns the YAML parser's messages into advice: what is wrong in words, at the place to fix
//! (an unclosed quote or bracket at its opening, a badly indented line at its start).

use super::locate::Position;
use super::tree::{OpenFrame, Problem, prefixed};
use yaml_rust2::scanner::ScanError;

/// Explains `error`, met while reading the node at `path` inside the `open` collections, after
/// the scalar `last` (its path and position).
pub fn explain(
    error: &ScanError,
    text: &str,
    open: &[OpenFrame],
    path: &str,
    last: Option<(&str, Position)>,
) -> Problem {
    let mark = error.marker();
    let at = Position {
        line: mark.line(),
        column: mark.col() + 1,
    };
    let info = error.info();
    let flow = open
        .iter()
        .rev()
        .find(|f| matches!(char_at(text, f.position), Some('[' | '{')));
    let mut path = path;
    let (position, message) = if is_quote_error(info) {
        // The parser marks the opening quote.
        quote(text, at)
    } else if let Some(flow) = flow.filter(|f| {
        info.contains("flow sequence") || info.contains("flow mapping") || f.position.line < at.line
    }) {
        // A bracket left open swallows the lines after it.
        path = &flow.path;
        bracket(at, flow)
    } else if info.contains("mapping values are not allowed") {
        if let Some((last_path, _)) = last.filter(|(_, p)| p.line == at.line) {
            path = last_path;
        }
        let message = "mapping values are not allowed here: a value containing ': ' must be \
                       quoted, or a key is indented wrongly";
        (at, message.to_string())
    } else if info.contains("tab") || char_at(text, at) == Some('\t') {
        path = "";
        let message = "a tab indents this line: YAML is indented with spaces only";
        (at, message.to_string())
    } else if info.contains("block collection") || info.contains("block mapping") {
        // The parser's path is a guess at where the line belongs.
        path = "";
        indentation(text, at, open)
    } else if info.contains("indentation") {
        path = "";
        let message = "this line is indented wrongly: indent it like the other keys of its \
                       mapping";
        (line_start(text, at), message.to_string())
    } else if info.contains("trailing content after double-quoted") {
        let message = "text follows a closing quote: quote the whole value, or move the text \
                       into the quotes";
        (at, message.to_string())
    } else if info.contains("unknown anchor") {
        let message =
            "this alias (*name) refers to no anchor: define it with &name on an earlier value";
        (at, message.to_string())
    } else {
        (at, info.to_string())
    };
    Problem {
        position,
        message: prefixed(path, &message),
    }
}

fn is_quote_error(info: &str) -> bool {
    info.contains("quoted scalar") && !info.contains("escape") && !info.contains("hexadecimal")
}

/// An unclosed quote, or a closed one whose value goes on at a smaller indentation.
fn quote(text: &str, opening: Position) -> (Position, String) {
    let Some(start) = byte_offset(text, opening) else {
        return (opening, "unclosed quote".into());
    };
    let quote = text[start..].chars().next().unwrap_or('"');
    let Position { line, column } = opening;
    let message = if closes(&text[start + quote.len_utf8()..], quote) {
        format!(
            "the quoted value opened at {line}:{column} goes on to a line indented less than its \
             key: indent the following lines more, or keep the value on one line"
        )
    } else {
        format!(
            "unclosed quote (opened at {line}:{column}): end the value with {quote}, or write \
             {quote}{quote} for a quote inside it"
        )
    };
    (opening, message)
}

/// Whether the quoted value that starts in `rest` ends.
fn closes(rest: &str, quote: char) -> bool {
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if quote == '"' => {
                chars.next();
            }
            '\'' if quote == '\'' && chars.peek() == Some(&'\'') => {
                chars.next();
            }
            c if c == quote => return true,
            _ => {}
        }
    }
    false
}

/// A flow list or mapping that is not closed where the parser needed it to be.
fn bracket(at: Position, opening: &OpenFrame) -> (Position, String) {
    let (bracket, close, what) = if opening.is_seq {
        ('[', ']', "list")
    } else {
        ('{', '}', "mapping")
    };
    let Position { line, column } = at;
    let message = format!(
        "'{bracket}' is not closed: expected ',' or '{close}' by {line}:{column}; close the \
         {what} with '{close}', or quote a value that contains ',', '{close}' or ': '"
    );
    (opening.position, message)
}

/// A block line that fits neither the list nor the mapping around it.
fn indentation(text: &str, at: Position, open: &[OpenFrame]) -> (Position, String) {
    let here = line_start(text, at);
    let message = match open.last() {
        Some(f) if f.is_seq => format!(
            "this line does not fit the list at {}:{}: an item starts with '- ' at column {}; \
             indent the line like the keys it belongs with",
            f.position.line, f.position.column, f.position.column
        ),
        Some(f) => format!(
            "this line does not fit the mapping at {}:{}: its keys start at column {}; indent the \
             line like its sibling keys, or quote a value that contains ': ' or ' #'",
            f.position.line, f.position.column, f.position.column
        ),
        None => "this line is indented wrongly".to_string(),
    };
    (here, message)
}

/// The first non-blank character of `at`'s line.
fn line_start(text: &str, at: Position) -> Position {
    let line = text
        .lines()
        .nth(at.line.saturating_sub(1))
        .unwrap_or_default();
    let blanks = line.chars().take_while(|c| *c == ' ').count();
    if blanks == line.chars().count() {
        return at;
    }
    Position {
        line: at.line,
        column: blanks + 1,
    }
}

fn byte_offset(text: &str, at: Position) -> Option<usize> {
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i + 1 == at.line {
            let (inside, _) = line.char_indices().nth(at.column.checked_sub(1)?)?;
            return Some(offset + inside);
        }
        offset += line.len();
    }
    None
}

fn char_at(text: &str, at: Position) -> Option<char> {
    byte_offset(text, at).and_then(|i| text[i..].chars().next())
}
