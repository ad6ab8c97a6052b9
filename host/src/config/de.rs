//! A serde deserializer over the positioned tree. Its errors name the path and the position of
//! the node they are about, say in words what was expected and what was found (never a
//! password), and every unknown key of a mapping is reported, not only the first.
//!
//! Every struct of the model denies unknown fields: this deserializer reports a key that is not
//! among a struct's fields and leaves it out.

use super::tree::{Kind, Node, Problem, leave_out, prefixed};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use std::{cell::RefCell, fmt};
use yaml_rust2::Yaml;

/// `node` as a `T`; `None` after pushing every problem found onto `problems`.
///
/// serde stops a struct at its first bad field. To find the others in the same pass, the key
/// holding the bad value is left out and the node read again, until it reads or the error is
/// only the consequence of a key left out (a required one now missing).
pub fn from_node<T: DeserializeOwned>(
    node: &Node,
    path: &str,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    let mut node = node.clone();
    let mut left_out: Vec<String> = Vec::new();
    let mut all: Vec<Problem> = Vec::new();
    let value = loop {
        let found = RefCell::new(Vec::new());
        let result = T::deserialize(NodeDe {
            node: &node,
            path: path.to_string(),
            found: &found,
        });
        for problem in found.into_inner() {
            if !all.contains(&problem) {
                all.push(problem);
            }
        }
        let e = match result {
            Ok(value) => break all.is_empty().then_some(value),
            Err(e) => e.at(&node, path),
        };
        if let (ErrorKind::Missing(field), Some(at)) = (&e.kind, &e.path)
            && left_out.contains(&join(at, field))
        {
            break None;
        }
        let Some((problem, at)) = e.located.zip(e.path) else {
            break None;
        };
        all.push(problem);
        match leave_out(&mut node, path, &at) {
            Some(key_path) if left_out.len() < 100 => left_out.push(key_path),
            _ => break None,
        }
    };
    all.sort_by_key(|p| p.position);
    problems.extend(all);
    value
}

/// A deserialization error; once it has met its node it holds the whole message.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    located: Option<Problem>,
    /// The path of the node it was placed at.
    path: Option<String>,
}

#[derive(Debug)]
enum ErrorKind {
    /// What the node should have been, in words.
    Expected(String),
    /// One of these names.
    OneOf(&'static [&'static str]),
    /// A required key is absent.
    Missing(&'static str),
    /// Said by the type itself (a bad duration).
    Message(String),
    /// The problems already found say it.
    Reported,
}

impl Error {
    fn new(kind: ErrorKind) -> Error {
        Error {
            kind,
            located: None,
            path: None,
        }
    }

    /// Places the error at `node`, unless a node inside it already holds it.
    fn at(mut self, node: &Node, path: &str) -> Error {
        if self.located.is_none() && !matches!(self.kind, ErrorKind::Reported) {
            let got = found(node, path);
            let message = match &self.kind {
                ErrorKind::Expected(words) if path.is_empty() => {
                    format!("the file must be {words}; got {got}")
                }
                ErrorKind::Expected(words) => format!("expected {words}; got {got}"),
                ErrorKind::OneOf(names) => {
                    format!("expected one of {}; got {got}", names.join(", "))
                }
                ErrorKind::Missing(field) => format!("`{field}:` is missing; it is required"),
                ErrorKind::Message(message) => message.clone(),
                ErrorKind::Reported => unreachable!("not placed"),
            };
            let message = match &self.kind {
                ErrorKind::Message(message) if !path.is_empty() => after_subject(message, path),
                _ => prefixed(path, &message),
            };
            self.located = Some(Problem {
                position: node.position,
                message,
            });
            self.path = Some(path.to_string());
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.located, &self.kind) {
            (Some(p), _) => f.write_str(&p.message),
            (None, ErrorKind::Expected(words)) => write!(f, "expected {words}"),
            (None, ErrorKind::OneOf(names)) => write!(f, "expected one of {}", names.join(", ")),
            (None, ErrorKind::Missing(field)) => write!(f, "`{field}:` is missing"),
            (None, ErrorKind::Message(message)) => f.write_str(message),
            (None, ErrorKind::Reported) => f.write_str("reported"),
        }
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Error::new(ErrorKind::Message(message.to_string()))
    }

    fn invalid_type(_: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        Error::new(ErrorKind::Expected(in_words(&expected.to_string())))
    }

    fn invalid_value(_: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        Error::new(ErrorKind::Expected(in_words(&expected.to_string())))
    }

    fn invalid_length(_: usize, expected: &dyn de::Expected) -> Self {
        Error::new(ErrorKind::Expected(in_words(&expected.to_string())))
    }

    fn unknown_variant(_: &str, expected: &'static [&'static str]) -> Self {
        Error::new(ErrorKind::OneOf(expected))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let guess = guess(field, expected);
        Error::new(ErrorKind::Message(unknown_field(field, guess, expected)))
    }

    fn missing_field(field: &'static str) -> Self {
        Error::new(ErrorKind::Missing(field))
    }
}

/// A type's own message reads `subject: advice` (`invalid duration '-5s': durations are
/// positive`); the path goes after the subject, so the message still starts with what is wrong.
fn after_subject(message: &str, path: &str) -> String {
    match message.split_once(": ") {
        Some((subject, advice)) => format!("{subject} ({path}): {advice}"),
        None => format!("{message} ({path})"),
    }
}

/// serde's names of what a type expects, as an operator would say them.
fn in_words(expected: &str) -> String {
    let words = match expected {
        "a boolean" => "true or false",
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number (0 or more)",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "a string" | "a borrowed string" | "a character" => "text",
        "path string" => "a file path",
        "a sequence" => "a list",
        "a map" => "a mapping",
        other if other.starts_with("struct ") || other.starts_with("tuple struct ") => "a mapping",
        other => other,
    };
    words.to_string()
}

/// What the node holds, for "got …": the value as written, except a secret's.
pub fn found(node: &Node, path: &str) -> String {
    match &node.kind {
        Kind::Seq(_) => "a list".into(),
        Kind::Map(_) => "a mapping".into(),
        _ if node.is_null() => "nothing".into(),
        _ if path
            .split(['.', '['])
            .any(|step| step == "auth" || step.contains("password")) =>
        {
            "a value (not shown: it may be a secret)".into()
        }
        Kind::Scalar { text, plain } => {
            let text = without_userinfo(text);
            let mut shown: String = text.chars().take(60).collect();
            if shown.len() < text.len() {
                shown.push('…');
            }
            if *plain { shown } else { format!("'{shown}'") }
        }
    }
}

/// `text` with the `user:password@` of a URL in it replaced, so that a URL written in the
/// wrong place never shows its password in an error.
fn without_userinfo(text: &str) -> std::borrow::Cow<'_, str> {
    let Some(scheme_end) = text.find("://") else {
        return text.into();
    };
    let rest = &text[scheme_end + 3..];
    // The userinfo ends at the last '@' before the path.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!(
            "{}://<credentials>@{}",
            &text[..scheme_end],
            &rest[at + 1..]
        )
        .into(),
        None => text.into(),
    }
}

/// The known name `field` is probably a misspelling of.
fn guess(field: &str, known: &[&'static str]) -> Option<&'static str> {
    let close = known
        .iter()
        .map(|k| (distance(field, k), *k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(1))
        .min();
    close.map(|(_, k)| k)
}

fn unknown_field(field: &str, guess: Option<&str>, expected: &[&str]) -> String {
    let hint = match guess {
        Some(known) => format!("did you mean `{known}`? "),
        None => String::new(),
    };
    format!(
        "unknown field `{field}` ({hint}expected one of: {})",
        expected.join(", ")
    )
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let replaced = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = replaced.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

/// The path of the value under `key`.
pub fn child(path: &str, key: &Node) -> String {
    join(path, key.key_text().unwrap_or("?"))
}

/// `path.key`, or `key` at the top.
fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

struct NodeDe<'a> {
    node: &'a Node,
    path: String,
    found: &'a RefCell<Vec<Problem>>,
}

impl NodeDe<'_> {
    fn scalar(&self) -> Option<&str> {
        match &self.node.kind {
            Kind::Scalar { text, .. } if !self.node.is_null() => Some(text),
            _ => None,
        }
    }
}

impl<'de> de::Deserializer<'de> for NodeDe<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let result = match &self.node.kind {
            Kind::Scalar { text, plain: false } => visitor.visit_str(text),
            Kind::Scalar { text, plain: true } => match Yaml::from_str(text) {
                Yaml::Null => visitor.visit_unit(),
                Yaml::Boolean(b) => visitor.visit_bool(b),
                Yaml::Integer(i) => visitor.visit_i64(i),
                real @ Yaml::Real(_) => match real.as_f64() {
                    Some(f) => visitor.visit_f64(f),
                    None => visitor.visit_str(text),
                },
                _ => visitor.visit_str(text),
            },
            Kind::Seq(items) => visitor.visit_seq(SeqDe {
                items: items.iter().enumerate(),
                path: &self.path,
                found: self.found,
            }),
            Kind::Map(entries) => visitor.visit_map(MapDe {
                entries: entries.iter().collect::<Vec<_>>().into_iter(),
                value: None,
                path: &self.path,
                found: self.found,
            }),
        };
        result.map_err(|e| e.at(self.node, &self.path))
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.scalar() {
            Some(text) => visitor
                .visit_str(text)
                .map_err(|e: Error| e.at(self.node, &self.path)),
            None => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let (node, path) = (self.node, self.path.clone());
        let result = if node.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        };
        result.map_err(|e| e.at(node, &path))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        let (node, path) = (self.node, self.path.clone());
        visitor
            .visit_newtype_struct(self)
            .map_err(|e| e.at(node, &path))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let Kind::Map(entries) = &self.node.kind else {
            // Not as a list of field values, as serde would allow.
            let error = <Error as de::Error>::invalid_type(de::Unexpected::Other("-"), &visitor);
            return Err(error.at(self.node, &self.path));
        };
        let mut known = Vec::new();
        let mut guessed = Vec::new();
        for entry @ (key, _) in entries {
            let name = key.key_text().unwrap_or("?");
            if fields.contains(&name) {
                known.push(entry);
                continue;
            }
            let guess = guess(name, fields);
            guessed.extend(guess);
            self.found.borrow_mut().push(Problem {
                position: key.position,
                message: prefixed(&self.path, &unknown_field(name, guess, fields)),
            });
        }
        let map = MapDe {
            entries: known.into_iter(),
            value: None,
            path: &self.path,
            found: self.found,
        };
        visitor.visit_map(map).map_err(|e| match e.kind {
            // "did you mean `connector`?" already says it.
            ErrorKind::Missing(field) if guessed.contains(&field) => {
                Error::new(ErrorKind::Reported)
            }
            _ => e.at(self.node, &self.path),
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.scalar() {
            Some(text) => visitor
                .visit_enum(text.into_deserializer())
                .map_err(|e: Error| e.at(self.node, &self.path)),
            None => self.deserialize_any(visitor),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit
        unit_struct seq tuple tuple_struct map
    }
}

struct SeqDe<'a, I> {
    items: I,
    path: &'a str,
    found: &'a RefCell<Vec<Problem>>,
}

impl<'de, 'a, I: Iterator<Item = (usize, &'a Node)>> de::SeqAccess<'de> for SeqDe<'a, I> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some((i, node)) = self.items.next() else {
            return Ok(None);
        };
        let path = format!("{}[{i}]", self.path);
        seed.deserialize(NodeDe {
            node,
            path,
            found: self.found,
        })
        .map(Some)
    }
}

struct MapDe<'a> {
    entries: std::vec::IntoIter<&'a (Node, Node)>,
    value: Option<&'a (Node, Node)>,
    path: &'a str,
    found: &'a RefCell<Vec<Problem>>,
}

impl<'de> de::MapAccess<'de> for MapDe<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(entry);
        seed.deserialize(NodeDe {
            node: &entry.0,
            path: self.path.to_string(),
            found: self.found,
        })
        .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let (key, node) = self.value.take().expect("a key before its value");
        seed.deserialize(NodeDe {
            node,
            path: child(self.path, key),
            found: self.found,
        })
    }
}
