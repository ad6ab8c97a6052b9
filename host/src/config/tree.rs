//! The YAML document as a tree whose every node knows where it starts, built from yaml-rust2's
//! events. Duplicate keys and syntax errors are found here, each at its own position.

use super::locate::Position;
use super::syntax;
use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Something wrong in the file, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where it is.
    pub position: Position,
    /// What is wrong, starting with the path of the setting when there is one.
    pub message: String,
}

/// One node of the document.
#[derive(Debug, Clone)]
pub struct Node {
    /// Where it starts (a block mapping starts at its first key).
    pub position: Position,
    /// What it holds.
    pub kind: Kind,
}

/// What a node holds.
#[derive(Debug, Clone)]
pub enum Kind {
    /// A scalar as written. Only a plain (unquoted, untagged) one may be a number, a boolean
    /// or nothing.
    Scalar { text: String, plain: bool },
    /// A list.
    Seq(Vec<Node>),
    /// A mapping, in file order, without duplicate keys.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// This value and every value inside it.
    fn size(&self) -> usize {
        1 + match &self.kind {
            Kind::Seq(items) => items.iter().map(Node::size).sum(),
            Kind::Map(entries) => entries.iter().map(|(k, v)| k.size() + v.size()).sum(),
            Kind::Scalar { .. } => 0,
        }
    }

    /// An empty value (`key:`, `~`, `null`).
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null"))
    }

    /// The text of a scalar, as a mapping key is compared.
    pub fn key_text(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }
}

/// The document, or nothing when the text holds none; with every problem found. A syntax error
/// ends the document (`root` is `None`); a duplicate key is dropped and reported.
pub struct Parsed {
    /// The document's top node.
    pub root: Option<Node>,
    /// Syntax errors and duplicate keys.
    pub problems: Vec<Problem>,
}

/// Parses `text` into a tree.
pub fn parse(text: &str) -> Parsed {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    // Event by event, not `Parser::load`, which recurses once per nesting level: a file
    // nested a hundred thousand levels deep would overflow the stack before any check.
    loop {
        match parser.next_token() {
            Ok((Event::StreamEnd, _)) => break,
            Ok((event, mark)) => {
                builder.on_event(event, mark);
                if builder.given_up {
                    break;
                }
            }
            Err(e) => {
                let last = builder.last.as_ref().map(|(path, at)| (path.as_str(), *at));
                let problem =
                    syntax::explain(&e, text, &builder.open_frames(), &builder.path(), last);
                builder.problems.push(problem);
                builder.root = None;
                break;
            }
        }
    }
    Parsed {
        root: builder.root,
        problems: builder.problems,
    }
}

/// An open collection, as the syntax hints need it.
pub struct OpenFrame {
    /// Its path.
    pub path: String,
    /// Where it starts.
    pub position: Position,
    /// A list (else a mapping).
    pub is_seq: bool,
}

enum Content {
    Seq(Vec<Node>),
    Map {
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

struct Frame {
    position: Position,
    anchor: usize,
    content: Content,
}

impl Frame {
    /// A block mapping's event comes after its first key: start it there instead.
    fn start(&self) -> Position {
        let first_key = match &self.content {
            Content::Map { entries, key } => entries.first().map(|(k, _)| k).or(key.as_ref()),
            Content::Seq(_) => None,
        };
        match first_key {
            Some(k) if k.position < self.position => k.position,
            _ => self.position,
        }
    }
}

/// Deepest nesting of lists and mappings read; a config needs a handful.
const MAX_DEPTH: usize = 64;
/// Most values read, aliases expanded (a file of nested aliases grows exponentially).
const MAX_NODES: usize = 1_000_000;

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, usize)>,
    /// Values read so far, aliases counted by what they expand to.
    nodes: usize,
    /// A limit was passed: the rest of the file is not read.
    given_up: bool,
    root: Option<Node>,
    documents: usize,
    problems: Vec<Problem>,
    /// The path and position of the last scalar read.
    last: Option<(String, Position)>,
}

impl Builder {
    /// The path of the node being read (`clusters[0].connector`).
    fn path(&self) -> String {
        path_of(&self.stack)
    }

    fn open_frames(&self) -> Vec<OpenFrame> {
        let frames = self.stack.iter().enumerate().map(|(i, f)| OpenFrame {
            path: path_of(&self.stack[..i]),
            position: f.start(),
            is_seq: matches!(f.content, Content::Seq(_)),
        });
        frames.collect()
    }

    fn push(&mut self, node: Node) {
        let Some((frame, outer)) = self.stack.split_last_mut() else {
            self.root = Some(node);
            return;
        };
        match &mut frame.content {
            Content::Seq(items) => items.push(node),
            Content::Map {
                key: key @ None, ..
            } => *key = Some(node),
            Content::Map { entries, key } => {
                let key = key.take().expect("a pending key");
                let first = entries
                    .iter()
                    .find(|(k, _)| k.key_text().is_some() && k.key_text() == key.key_text());
                if let Some((first, _)) = first {
                    let name = key.key_text().unwrap_or_default();
                    let message = format!(
                        "duplicate key '{name}' (first at line {}): keep one of them",
                        first.position.line
                    );
                    self.problems.push(Problem {
                        position: key.position,
                        message: prefixed(&path_of(outer), &message),
                    });
                    return;
                }
                entries.push((key, node));
            }
        }
    }

    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            let size = node.size();
            self.anchors.insert(anchor, (node.clone(), size));
        }
        self.push(node);
    }
}

/// The path inside `frames`, each waiting for its next item or value.
fn path_of(frames: &[Frame]) -> String {
    let mut path = String::new();
    for frame in frames {
        match &frame.content {
            Content::Seq(items) => path.push_str(&format!("[{}]", items.len())),
            Content::Map { key: Some(k), .. } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k.key_text().unwrap_or("?"));
            }
            Content::Map { key: None, .. } => {}
        }
    }
    path
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let position = Position {
            line: mark.line(),
            column: mark.col() + 1,
        };
        if self.documents > 1 || self.given_up {
            return;
        }
        self.nodes += 1;
        let too_deep = matches!(event, Event::SequenceStart(..) | Event::MappingStart(..))
            && self.stack.len() >= MAX_DEPTH;
        if too_deep || self.nodes > MAX_NODES {
            self.given_up = true;
            let message = if too_deep {
                format!(
                    "lists and mappings nest deeper than {MAX_DEPTH} levels here; a dbmon config needs a few"
                )
            } else {
                format!(
                    "the file holds more than {MAX_NODES} values (with its aliases expanded); is an alias repeated on purpose?"
                )
            };
            self.problems.push(Problem { position, message });
            return;
        }
        match event {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    self.problems.push(Problem {
                        position,
                        message: "a second YAML document starts here ('---'): dbmon reads one; \
                                  put every setting in the first"
                            .into(),
                    });
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.last = Some((self.path(), position));
                let plain = style == TScalarStyle::Plain && tag.as_ref().is_none_or(is_core_tag);
                let node = Node {
                    position,
                    kind: Kind::Scalar { text, plain },
                };
                self.finish(node, anchor);
            }
            Event::Alias(anchor) => {
                if let Some((node, size)) = self.anchors.get(&anchor) {
                    self.nodes += size;
                    if self.nodes > MAX_NODES {
                        // Counted again at the next event, which then gives up.
                        return;
                    }
                    let node = Node {
                        position,
                        kind: node.kind.clone(),
                    };
                    self.push(node);
                }
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Frame {
                position,
                anchor,
                content: Content::Seq(Vec::new()),
            }),
            Event::MappingStart(anchor, _) => self.stack.push(Frame {
                position,
                anchor,
                content: Content::Map {
                    entries: Vec::new(),
                    key: None,
                },
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return;
                };
                let position = frame.start();
                let kind = match frame.content {
                    Content::Seq(items) => Kind::Seq(items),
                    Content::Map { entries, .. } => Kind::Map(entries),
                };
                self.finish(Node { position, kind }, frame.anchor);
            }
            _ => {}
        }
    }
}

/// A tag that does not make a scalar text (`!!int 5` stays a number; `!!str 5` is text).
fn is_core_tag(tag: &Tag) -> bool {
    tag.suffix != "str"
}

/// `path: message`, or the message alone at the top of the file.
pub fn prefixed(path: &str, message: &str) -> String {
    if path.is_empty() {
        message.to_string()
    } else {
        format!("{path}: {message}")
    }
}

/// Removes the key whose value holds the node at `at` from the deepest mapping on the way to
/// it (inside `root`, whose path is `base`); returns that key's path.
pub fn leave_out(root: &mut Node, base: &str, at: &str) -> Option<String> {
    let mut steps = Vec::new();
    let mut rest = at.strip_prefix(base)?;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let (index, after) = after.split_once(']')?;
            steps.push(Err(index.parse::<usize>().ok()?));
            rest = after;
        } else {
            let after = rest.strip_prefix('.').unwrap_or(rest);
            let end = after.find(['.', '[']).unwrap_or(after.len());
            steps.push(Ok(&after[..end]));
            rest = &after[end..];
        }
    }
    let last_key = steps.iter().rposition(Result::is_ok)?;
    let mut node = root;
    for step in &steps[..last_key] {
        node = match (&mut node.kind, step) {
            (Kind::Map(entries), Ok(key)) => {
                &mut entries
                    .iter_mut()
                    .find(|(k, _)| k.key_text() == Some(key))?
                    .1
            }
            (Kind::Seq(items), Err(index)) => items.get_mut(*index)?,
            _ => return None,
        };
    }
    let Ok(key) = steps[last_key] else {
        return None;
    };
    let Kind::Map(entries) = &mut node.kind else {
        return None;
    };
    let before = entries.len();
    entries.retain(|(k, _)| k.key_text() != Some(key));
    let mut key_path = at.to_string();
    for step in steps[last_key + 1..].iter().rev() {
        let cut = match step {
            Ok(k) => k.len() + 1,
            Err(i) => i.to_string().len() + 2,
        };
        key_path.truncate(key_path.len() - cut);
    }
    (entries.len() < before).then_some(key_path)
}
