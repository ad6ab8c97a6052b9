//! Maps a path in the YAML document (`clusters[2].options.url`) to the line and column where
//! its value starts, so that errors found after parsing still name file:line:column.

use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// 1-based line and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

/// Positions of every node of a document, by path.
#[derive(Debug, Default)]
pub struct Locations {
    by_path: HashMap<String, Position>,
}

impl Locations {
    /// Indexes `text`; a document that does not parse gives an empty index (the serde error
    /// already carries its own position).
    pub fn index(text: &str) -> Locations {
        let mut walker = Walker::default();
        let mut parser = Parser::new_from_str(text);
        if parser.load(&mut walker, false).is_err() {
            return Locations::default();
        }
        Locations {
            by_path: walker.by_path,
        }
    }

    /// Where `path` starts, or its nearest ancestor that exists; line 1 column 1 when nothing
    /// matches.
    pub fn get(&self, path: &str) -> Position {
        let mut path = path;
        loop {
            if let Some(p) = self.by_path.get(path) {
                return *p;
            }
            match path.rfind(['.', '[']) {
                Some(cut) => path = &path[..cut],
                None => return Position { line: 1, column: 1 },
            }
        }
    }
}

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, next: usize },
}

#[derive(Default)]
struct Walker {
    stack: Vec<Frame>,
    by_path: HashMap<String, Position>,
}

impl Walker {
    /// The path of the node that starts now, or `None` when it is a mapping key.
    fn node_path(&mut self, key_text: Option<&str>) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Seq { path, next }) => {
                let p = format!("{path}[{next}]");
                *next += 1;
                Some(p)
            }
            Some(Frame::Map { path, key }) => match key.take() {
                Some(k) if path.is_empty() => Some(k),
                Some(k) => Some(format!("{path}.{k}")),
                None => {
                    *key = Some(key_text.unwrap_or("?").to_string());
                    None
                }
            },
        }
    }
}

impl MarkedEventReceiver for Walker {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let position = Position {
            line: mark.line(),
            column: mark.col() + 1,
        };
        match event {
            Event::Scalar(text, ..) => {
                if let Some(path) = self.node_path(Some(&text)) {
                    self.by_path.insert(path, position);
                }
            }
            Event::Alias(_) => {
                if let Some(path) = self.node_path(None) {
                    self.by_path.insert(path, position);
                }
            }
            Event::MappingStart(..) => {
                let path = self.node_path(None).unwrap_or_default();
                self.by_path.insert(path.clone(), position);
                self.stack.push(Frame::Map { path, key: None });
            }
            Event::SequenceStart(..) => {
                let path = self.node_path(None).unwrap_or_default();
                self.by_path.insert(path.clone(), position);
                self.stack.push(Frame::Seq { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "listen: 127.0.0.1:4000\nclusters:\n  - id: a\n    connector: system\n  - id: b\n    options:\n      url: http://x\n";

    #[test]
    fn finds_nested_values() {
        let loc = Locations::index(DOC);
        assert_eq!(loc.get("listen"), Position { line: 1, column: 9 });
        assert_eq!(loc.get("clusters[1].id"), Position { line: 5, column: 9 });
        assert_eq!(
            loc.get("clusters[1].options.url"),
            Position {
                line: 7,
                column: 12
            }
        );
    }

    #[test]
    fn falls_back_to_the_nearest_ancestor() {
        let loc = Locations::index(DOC);
        assert_eq!(
            loc.get("clusters[1].options.nope"),
            loc.get("clusters[1].options")
        );
        assert_eq!(loc.get("clusters[0].tls.ca"), loc.get("clusters[0]"));
    }
}
