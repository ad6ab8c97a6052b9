//! Parses `cockroach_like_vars(1)` over and over: for instruction counts under
//! `valgrind --tool=callgrind`, which are immune to machine noise, and for the CPU time
//! (not wall time) a parse takes, which is immune to other processes taking the cores.
//!
//!     cargo build --release -p dbmon-promtext --example parse_loop
//!     valgrind --tool=callgrind target/release/examples/parse_loop labels 1
//!     valgrind --tool=callgrind target/release/examples/parse_loop labels 11
//!     target/release/examples/parse_loop cpu
//!
//! The difference of the two callgrind totals, divided by 10, is the cost of one parse (the
//! body's generation is paid once in both). `entries` skips label splitting, like the bench.
//! `cpu` times both cases by this thread's user and system time (Linux: /proc/thread-self/stat,
//! in clock ticks of 10 ms) over 7 batches of 4,000 parses, and prints the median and the best.

use std::hint::black_box;
use std::time::Instant;

use dbmon_promtext::{Entry, Parser, synthetic::cockroach_like_vars};

fn parse(body: &str, split: bool) -> (f64, usize) {
    let mut acc = 0.0;
    let mut bytes = 0;
    for entry in Parser::new(black_box(body)) {
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
    (acc, bytes)
}

/// This thread's user plus system time, in clock ticks (10 ms on Linux).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("Linux /proc");
    // After the parenthesised command come the fields from the third on; utime and stime
    // are the 14th and 15th.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("stat format") + 2..]
        .split(' ')
        .collect();
    let field = |n: usize| fields[n - 3].parse::<u64>().expect("a tick count");
    field(14) + field(15)
}

fn cpu(body: &str) {
    const BATCH: u32 = 4_000;
    for (name, split) in [("entries", false), ("entries_and_labels", true)] {
        for _ in 0..300 {
            black_box(parse(body, split));
        }
        let (mut cpu, mut wall) = (Vec::new(), Vec::new());
        for _ in 0..7 {
            let (ticks, started) = (cpu_ticks(), Instant::now());
            for _ in 0..BATCH {
                black_box(parse(body, split));
            }
            let elapsed = started.elapsed().as_secs_f64();
            cpu.push((cpu_ticks() - ticks) as f64 * 0.01 / f64::from(BATCH));
            wall.push(elapsed / f64::from(BATCH));
        }
        cpu.sort_by(f64::total_cmp);
        wall.sort_by(f64::total_cmp);
        let mb_s = |seconds: f64| body.len() as f64 / seconds / 1e6;
        println!(
            "{name}: CPU {:.1} µs = {:.0} MB/s (median), {:.1} µs = {:.0} MB/s (best); \
             wall {:.1} µs = {:.0} MB/s (median)",
            cpu[3] * 1e6,
            mb_s(cpu[3]),
            cpu[0] * 1e6,
            mb_s(cpu[0]),
            wall[3] * 1e6,
            mb_s(wall[3]),
        );
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "labels".into());
    let body = cockroach_like_vars(1);
    let split = match mode.as_str() {
        "cpu" => return cpu(&body),
        "labels" => true,
        "entries" => false,
        other => panic!("mode is labels, entries or cpu, not {other}"),
    };
    let rounds: usize = args.next().map_or(1, |n| n.parse().expect("rounds"));
    let (mut acc, mut bytes) = (0.0, 0);
    for _ in 0..rounds {
        let (a, b) = parse(&body, split);
        acc += a;
        bytes += b;
    }
    println!("{} bytes, {rounds} rounds, {acc} {bytes}", body.len());
}
