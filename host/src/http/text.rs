//! Prometheus' text format 0.0.4, written: families with one `# HELP` and one `# TYPE` each
//! and all their samples together (a family is never split), label values and help escaped,
//! a sample given twice (same name and labels) kept once.

use std::{
    collections::{HashMap, HashSet},
    fmt::Write as _,
};

/// A family's `# TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `gauge`.
    Gauge,
    /// `counter`: its samples end in `_total`.
    Counter,
    /// `histogram`: `_bucket` samples with `le`, `_sum` and `_count`.
    Histogram,
    /// `summary`: samples with `quantile`, `_sum` and `_count`.
    Summary,
    /// `untyped`.
    Untyped,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
            Kind::Histogram => "histogram",
            Kind::Summary => "summary",
            Kind::Untyped => "untyped",
        }
    }
}

/// Labels of one sample, in the order they are written.
pub type Labels = Vec<(String, String)>;

#[derive(Debug)]
struct Family {
    name: String,
    kind: Kind,
    help: String,
    samples: String,
    seen: HashSet<String>,
}

/// An exposition being made: families in the order they were first named.
#[derive(Debug, Default)]
pub struct Exposition {
    families: Vec<Family>,
    by_name: HashMap<String, usize>,
}

/// Why a sample was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Its family exists with another type.
    OtherKind {
        /// The family.
        family: String,
        /// Its type.
        kind: Kind,
    },
    /// The same name and labels were given already.
    Duplicate,
}

impl Exposition {
    /// Declares family `name` (its samples are `name` plus a suffix the type allows); the
    /// first declaration's help stays. `false` when it exists with another type.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) -> bool {
        match self.by_name.get(name) {
            Some(&i) => self.families[i].kind == kind,
            None => {
                self.by_name.insert(name.to_string(), self.families.len());
                self.families.push(Family {
                    name: name.to_string(),
                    kind,
                    help: help.to_string(),
                    samples: String::new(),
                    seen: HashSet::new(),
                });
                true
            }
        }
    }

    /// Adds the sample `family` + `suffix` with `labels` to family `family` (declared now
    /// with `kind` and `help` if it is not).
    pub fn sample(
        &mut self,
        family: &str,
        kind: Kind,
        help: &str,
        suffix: &str,
        labels: &[(String, String)],
        value: f64,
    ) -> Result<(), Refused> {
        if !self.family(family, kind, help) {
            let kind = self.families[self.by_name[family]].kind;
            return Err(Refused::OtherKind {
                family: family.to_string(),
                kind,
            });
        }
        let f = &mut self.families[self.by_name[family]];
        let mut line = String::with_capacity(64);
        line.push_str(family);
        line.push_str(suffix);
        if !labels.is_empty() {
            line.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                line.push_str(key);
                line.push_str("=\"");
                escape_into(&mut line, value, true);
                line.push('"');
            }
            line.push('}');
        }
        if !f.seen.insert(series_key(family, suffix, labels)) {
            return Err(Refused::Duplicate);
        }
        line.push(' ');
        line.push_str(&format_value(value));
        line.push('\n');
        f.samples.push_str(&line);
        Ok(())
    }

    /// The text: every family that has samples.
    pub fn finish(self) -> String {
        let mut out = String::new();
        for f in self.families.iter().filter(|f| !f.samples.is_empty()) {
            out.push_str("# HELP ");
            out.push_str(&f.name);
            out.push(' ');
            escape_into(&mut out, &f.help, false);
            let _ = writeln!(out, "\n# TYPE {} {}", f.name, f.kind.as_str());
            out.push_str(&f.samples);
        }
        out
    }
}

/// The identity of a sample: its name and its labels in key order (two samples that differ
/// only in the order of their labels are the same series).
fn series_key(family: &str, suffix: &str, labels: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = labels.iter().collect();
    sorted.sort();
    let mut key = format!("{family}{suffix}");
    for (k, v) in sorted {
        key.push('\0');
        key.push_str(k);
        key.push('\0');
        key.push_str(v);
    }
    key
}

/// Escapes `text` into `out`: `\` and newline always, `"` in label values (the format's
/// rules for label values and for help).
pub fn escape_into(out: &mut String, text: &str, quote: bool) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// A value as the format writes it: `NaN`, `+Inf`, `-Inf`, integers without a fraction,
/// very large and very small numbers with an exponent.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if v == 0.0 || (1e-4..1e15).contains(&v.abs()) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}
