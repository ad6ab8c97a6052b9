//! Parse throughput on a CockroachDB-shaped body.
//!
//! Run with `cargo bench -p dbmon-promtext`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dbmon_promtext::{Entry, Parser, synthetic::cockroach_like_vars};

fn parse(c: &mut Criterion) {
    let body = cockroach_like_vars(1);
    let mut group = c.benchmark_group("cockroach_like_vars");
    group.throughput(Throughput::Bytes(body.len() as u64));

    // What a forwarder does: name, value and the label text as a series key.
    group.bench_function("entries", |b| {
        b.iter(|| {
            let mut acc = 0.0;
            let mut key_bytes = 0;
            for entry in Parser::new(black_box(&body)) {
                if let Ok(Entry::Sample(s)) = entry {
                    acc += s.value;
                    key_bytes += s.name.len() + s.raw_labels().len();
                }
            }
            black_box((acc, key_bytes))
        })
    });

    // What a converter into another model does: every label split out too.
    group.bench_function("entries_and_labels", |b| {
        b.iter(|| {
            let mut acc = 0.0;
            let mut label_bytes = 0;
            for entry in Parser::new(black_box(&body)) {
                if let Ok(Entry::Sample(s)) = entry {
                    acc += s.value;
                    for label in s.labels() {
                        label_bytes += label.name.len() + label.value.len();
                    }
                }
            }
            black_box((acc, label_bytes))
        })
    });
    // What the `cockroachdb` connector does: reads ~25 of the body's families and passes the
    // others over at their names.
    group.bench_function("some_families", |b| {
        b.iter(|| {
            let mut acc = 0.0;
            let wanted = |name: &str| {
                matches!(
                    name,
                    "sys_uptime" | "ranges" | "replicas" | "capacity" | "sys_rss"
                ) || name.starts_with("liveness_")
                    || (name.starts_with("queue_") && name.ends_with("_pending"))
            };
            for s in Parser::new(black_box(&body))
                .samples_where(wanted)
                .flatten()
            {
                acc += s.value;
            }
            black_box(acc)
        })
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
