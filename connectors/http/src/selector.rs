//! Paths into a JSON document: JSONPath (RFC 9535, through serde_json_path) when the text
//! starts with `$`, JSON Pointer (RFC 6901, serde_json's `pointer`) when it starts with `/`.

use serde_json::Value;
use serde_json_path::JsonPath;
use std::fmt;

/// A checked path.
#[derive(Clone)]
pub enum Selector {
    /// A JSONPath query: any number of values.
    Query(JsonPath, String),
    /// A JSON Pointer: at most one value (`""` is the whole document).
    Pointer(String),
}

impl Selector {
    /// Parses `text`; the error says where in the expression it went wrong.
    pub fn parse(text: &str) -> Result<Selector, String> {
        if text.starts_with('$') {
            return JsonPath::parse(text)
                .map(|query| Selector::Query(query, text.to_string()))
                .map_err(|e| {
                    format!(
                        "'{text}' is not a valid JSONPath: {}, {}",
                        place(text, e.position()),
                        e.message()
                    )
                });
        }
        if text.is_empty() || text.starts_with('/') {
            if let Some(bad) = bad_escape(text) {
                return Err(format!(
                    "'{text}' is not a valid JSON Pointer: '~' at character {bad} must be \
                     followed by 0 or 1 (~0 is '~', ~1 is '/')"
                ));
            }
            return Ok(Selector::Pointer(text.to_string()));
        }
        Err(format!(
            "'{text}' is neither a JSONPath (starting with $, like $.status) nor a JSON \
             Pointer (starting with /, like /status)"
        ))
    }

    /// The values `document` has at this path, in document order.
    pub fn select<'a>(&self, document: &'a Value) -> Vec<&'a Value> {
        match self {
            Selector::Query(query, _) => query.query(document).all(),
            Selector::Pointer(pointer) => document.pointer(pointer).into_iter().collect(),
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Query(_, text) | Selector::Pointer(text) => f.write_str(text),
        }
    }
}

impl fmt::Debug for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Where the parser stopped, marked in the expression: `at character 9 ($.status>[<)`, or
/// `at the end ($[1><)`. serde_json_path gives the offset of the character it could not take,
/// counted from 0 (the length of the text when it ran out), whatever its docs say.
fn place(text: &str, offset: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = offset.min(chars.len());
    let before: String = chars[..at].iter().collect();
    match chars.get(at) {
        Some(c) => {
            let after: String = chars[at + 1..].iter().collect();
            format!("at character {} ({before}>{c}<{after})", at + 1)
        }
        None => format!("at the end ({before}><)"),
    }
}

/// The 1-based position of a `~` not followed by `0` or `1`.
fn bad_escape(pointer: &str) -> Option<usize> {
    let chars: Vec<char> = pointer.chars().collect();
    chars
        .iter()
        .enumerate()
        .find(|(i, c)| **c == '~' && !matches!(chars.get(i + 1), Some('0' | '1')))
        .map(|(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jsonpath_and_pointer_select_the_same_value() {
        let doc = json!({"a": {"b/c": [1, 2, 3]}, "s": "green"});
        let q = Selector::parse("$.a['b/c'][1]").unwrap();
        let p = Selector::parse("/a/b~1c/1").unwrap();
        assert_eq!(q.select(&doc), [&json!(2)]);
        assert_eq!(p.select(&doc), [&json!(2)]);
        assert_eq!(
            Selector::parse("$.a['b/c'][*]").unwrap().select(&doc).len(),
            3
        );
        assert!(Selector::parse("/nope").unwrap().select(&doc).is_empty());
        assert_eq!(Selector::parse("").unwrap().select(&doc), [&doc]);
    }

    #[test]
    fn a_bad_expression_names_the_position() {
        let e = Selector::parse("$.a b").err().unwrap();
        assert_eq!(
            e,
            "'$.a b' is not a valid JSONPath: at character 4 ($.a> <b), parser error"
        );
        let e = Selector::parse("$.status[").err().unwrap();
        assert!(e.contains(": at character 9 ($.status>[<), "), "{e}");
        let e = Selector::parse("$[1").err().unwrap();
        assert!(
            e.ends_with(": at the end ($[1><), in long-hand segment, expected closing ']'"),
            "{e}"
        );
        let e = Selector::parse("/a~2").err().unwrap();
        assert!(e.contains("'~' at character 3"), "{e}");
        let e = Selector::parse("status").err().unwrap();
        assert!(e.contains("neither a JSONPath"), "{e}");
    }
}
