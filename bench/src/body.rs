//! The bodies the loopback targets serve: the CockroachDB-shaped synthetic scrape (about
//! 190 KB, 2,700 samples) or a cut of it (about 20 KB), with values that move from one scrape
//! to the next as a live node's counters and gauges do. Static bodies would flatter the store,
//! which packs a value that did not change into one bit.

use dbmon_promtext::synthetic::cockroach_like_vars;
use std::{
    fmt::Write as _,
    sync::atomic::{AtomicU64, Ordering},
};

/// Which body the targets serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// The whole CockroachDB-shaped scrape, about 190 KB.
    Synthetic,
    /// Its first families, cut at a family boundary after [`SMALL_BYTES`].
    Small,
}

/// Where the small body is cut: the first family that starts after this many bytes.
pub const SMALL_BYTES: usize = 20_000;

/// The text of a body for node `node_id` (distinct nodes have distinct labels).
pub fn text(kind: Kind, node_id: u32) -> String {
    let mut full = cockroach_like_vars(node_id);
    if kind == Kind::Small
        && let Some(at) = full[SMALL_BYTES..].find("\n# HELP ")
    {
        full.truncate(SMALL_BYTES + at + 1);
    }
    full
}

/// One changing value: where it sits in the text, what it starts at, how much it moves per
/// scrape.
struct Live {
    start: usize,
    end: usize,
    base: f64,
    step: f64,
}

/// A body whose values change on every render.
pub struct Template {
    text: String,
    live: Vec<Live>,
    samples: usize,
    renders: AtomicU64,
}

impl Template {
    /// Makes `changing_percent` % of the non-zero sample values of `text` move on every
    /// scrape (chosen by a fixed hash of the sample's position): integers grow by 1 to 16 like
    /// counters, fractions drift by 0.1 % like gauges. Zeros stay zero, as idle counters do.
    pub fn new(text: String, changing_percent: u32) -> Template {
        let mut live = Vec::new();
        let mut samples = 0;
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let line_start = offset;
            offset += line.len();
            let Some((start, end)) = value_span(line) else {
                continue;
            };
            samples += 1;
            let Ok(base) = line[start..end].parse::<f64>() else {
                continue;
            };
            let hash = mix(samples as u64);
            if base == 0.0 || !base.is_finite() || hash % 100 >= u64::from(changing_percent) {
                continue;
            }
            let step = if base.fract() == 0.0 {
                (1 + hash % 16) as f64
            } else {
                base * 1e-3
            };
            live.push(Live {
                start: line_start + start,
                end: line_start + end,
                base,
                step,
            });
        }
        Template {
            text,
            live,
            samples,
            renders: AtomicU64::new(0),
        }
    }

    /// The body of the next scrape.
    pub fn render(&self) -> Vec<u8> {
        let tick = self.renders.fetch_add(1, Ordering::Relaxed) as f64;
        if self.live.is_empty() {
            return self.text.as_bytes().to_vec();
        }
        let mut out = String::with_capacity(self.text.len() + self.text.len() / 16);
        let mut cursor = 0;
        for live in &self.live {
            out.push_str(&self.text[cursor..live.start]);
            let _ = write!(out, "{}", live.base + tick * live.step);
            cursor = live.end;
        }
        out.push_str(&self.text[cursor..]);
        out.into_bytes()
    }

    /// Bytes of the unchanged text.
    pub fn len(&self) -> usize {
        self.text.len()
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Samples in the body.
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// Samples whose value changes from one scrape to the next.
    pub fn changing(&self) -> usize {
        self.live.len()
    }
}

/// The byte range of the value in a sample line (`name{labels} value [timestamp]`), `None` for
/// comments and blank lines.
fn value_span(line: &str) -> Option<(usize, usize)> {
    let trimmed = line.trim_end();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return None;
    }
    let after_name = match trimmed.rfind('}') {
        Some(brace) => brace + 1,
        None => trimmed.find(' ')?,
    };
    let rest = &trimmed[after_name..];
    let start = after_name + (rest.len() - rest.trim_start().len());
    let end = trimmed[start..]
        .find(' ')
        .map_or(trimmed.len(), |n| start + n);
    (end > start).then_some((start, end))
}

/// SplitMix64's finaliser: a fixed, well-spread choice of which samples change.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_values_after_labels_and_names() {
        assert_eq!(value_span("a{b=\"c d\"} 1.5e+09\n"), Some((11, 18)));
        assert_eq!(value_span("a 2 123\n"), Some((2, 3)));
        assert_eq!(value_span("# TYPE a counter\n"), None);
    }

    #[test]
    fn changing_values_move_and_the_rest_stays() {
        let template = Template::new(text(Kind::Small, 1), 50);
        assert!(template.len() >= SMALL_BYTES && template.len() < SMALL_BYTES + 4096);
        assert!(template.changing() > 0 && template.changing() < template.samples());
        let (first, second) = (template.render(), template.render());
        assert_ne!(first, second);
        let lines = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap().lines().count();
        assert_eq!(lines(&first), lines(&second));
        let fixed = Template::new(text(Kind::Small, 1), 0);
        assert_eq!(fixed.render(), fixed.render());
    }
}
