//! Parses `cockroach_like_vars(1)` a given number of times, for instruction counts under
//! `valgrind --tool=callgrind` (immune to machine noise, unlike the criterion bench).
//!
//!     cargo build --release -p dbmon-promtext --example parse_loop
//!     valgrind --tool=callgrind target/release/examples/parse_loop labels 1
//!     valgrind --tool=callgrind target/release/examples/parse_loop labels 11
//!
//! The difference of the two totals, divided by 10, is the cost of one parse of the body (the
//! body's generation is paid once in both). `entries` skips label splitting, like the bench.

use std::hint::black_box;

use dbmon_promtext::{Entry, Parser, synthetic::cockroach_like_vars};

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "labels".into());
    let rounds: usize = args.next().map_or(1, |n| n.parse().expect("rounds"));
    let body = cockroach_like_vars(1);
    let split = match mode.as_str() {
        "labels" => true,
        "entries" => false,
        other => panic!("mode is labels or entries, not {other}"),
    };
    let mut acc = 0.0;
    let mut bytes = 0;
    for _ in 0..rounds {
        for entry in Parser::new(black_box(&body)) {
            if let Ok(Entry::Sample(s)) = entry {
                acc += s.value;
                if split {
                    for label in s.labels() {
                        bytes += label.name.len() + label.value.len();
                    }
                } else {
                    bytes += s.name.len() + s.raw_labels().len();
                }
            }
        }
    }
    println!("{} bytes, {rounds} rounds, {acc} {bytes}", body.len());
}
