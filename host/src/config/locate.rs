//! Maps a path in the YAML document (`clusters[2].options.url`) to the line and column where
//! its value starts, so that errors found after parsing still name file:line:column.

use super::de::child;
use super::tree::{self, Kind, Node};
use std::collections::HashMap;

/// 1-based line and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

impl Position {
    /// No place in the file: the value came from a flag or the environment.
    pub const OUTSIDE: Position = Position { line: 0, column: 0 };
}

/// Positions of every node of a document, by path.
#[derive(Debug, Default)]
pub struct Locations {
    by_path: HashMap<String, Position>,
}

impl Locations {
    /// Indexes `text`; a document that does not parse gives an empty index (its syntax error
    /// carries its own position).
    pub fn index(text: &str) -> Locations {
        tree::parse(text)
            .root
            .map(|root| Locations::of(&root))
            .unwrap_or_default()
    }

    /// Indexes the tree under `root`.
    pub fn of(root: &Node) -> Locations {
        let mut by_path = HashMap::new();
        walk(root, String::new(), &mut by_path);
        Locations { by_path }
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

fn walk(node: &Node, path: String, by_path: &mut HashMap<String, Position>) {
    match &node.kind {
        Kind::Scalar { .. } => {}
        Kind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, format!("{path}[{i}]"), by_path);
            }
        }
        Kind::Map(entries) => {
            for (key, value) in entries {
                walk(value, child(&path, key), by_path);
            }
        }
    }
    by_path.insert(path, node.position);
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
