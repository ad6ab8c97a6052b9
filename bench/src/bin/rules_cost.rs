//! What the configuration's verdict rules cost per report, against what the host spends on the
//! same report anyway: its conversion from the connector's ABI form into the host's
//! (`plugins::convert::collected`, the anchor). One report of `--series` cluster series
//! (`--labelled` of them one labelled family, like a queue list) and `--nodes` nodes of
//! `--node-series` each; each case judges it `--rounds` times and prints ns per report and
//! the ratio to the conversion, with one JSON line.

use clap::Parser;
use dbmon::{
    plugins::convert,
    rules::{Held, RuleEntry, Rules},
};
use dbmon_connector_api::{NodeStatus, Report};
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(about = "the cost of verdict rules per report, against the report's conversion")]
struct Args {
    #[arg(long, default_value_t = 3000)]
    series: usize,
    /// Of the series, how many are one labelled family (`queue_ready{queue=...}`).
    #[arg(long, default_value_t = 500)]
    labelled: usize,
    #[arg(long, default_value_t = 10)]
    nodes: usize,
    #[arg(long, default_value_t = 50)]
    node_series: usize,
    #[arg(long, default_value_t = 2000)]
    rounds: u32,
}

fn report(args: &Args) -> Report {
    let mut r = Report::new();
    r.metric("nodes_live", args.nodes as f64).gauge();
    for i in 0..args.series.saturating_sub(args.labelled + 1) {
        r.metric(&format!("m{i}"), i as f64).gauge();
    }
    for q in 0..args.labelled {
        r.metric("queue_ready", (q * 7) as f64)
            .gauge()
            .label("vhost", "/")
            .label("queue", &format!("q{q}"));
    }
    for n in 0..args.nodes {
        let node = r.node(&format!("n{n}"), NodeStatus::Live);
        r.node_metric(node, "lag_seconds", (n * 10) as f64).gauge();
        for i in 1..args.node_series {
            r.node_metric(node, &format!("nm{i}"), i as f64).gauge();
        }
    }
    r
}

fn rules(entries: &[&str]) -> Rules {
    let entries: Vec<RuleEntry> = entries
        .iter()
        .map(|e| serde_yaml_ng::from_str(e).expect("a rule"))
        .collect();
    Rules::compile(&[], &entries).expect("valid rules")
}

/// Nanoseconds per call of `f`, over `rounds` calls.
fn per_call(rounds: u32, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..rounds {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(rounds)
}

fn main() {
    let args = Args::parse();
    let ffi = report(&args).into_ffi();
    let collected = convert::collected(&ffi).expect("a valid report");
    let anchor = per_call(args.rounds, || {
        std::hint::black_box(convert::collected(&ffi).expect("converts"));
    });
    let cases: [(&str, Vec<&str>); 4] = [
        ("no rules", vec![]),
        (
            "3 cluster rules",
            vec![
                r#"{when: "nodes_live < 3", status: unhealthy, reason: "only {nodes_live}"}"#,
                r#"{when: "m1 > 1000000.0 and m2 < 0", status: degraded}"#,
                r#"{when: "m10 / 2.0 > 1e9", status: degraded, for: 2}"#,
            ],
        ),
        (
            "1 per-node rule",
            vec![
                r#"{when: "node.lag_seconds > 30", status: degraded, reason: "{node} lags {value}s"}"#,
            ],
        ),
        (
            "1 rule per labelled series",
            vec![
                r#"{when: "queue_ready > 1000 and labels.vhost == '/'", status: degraded, reason: "{labels.queue}"}"#,
            ],
        ),
    ];
    println!(
        "report: {} cluster series ({} labelled), {} nodes x {} series; anchor (conversion): {:.0} ns",
        args.series, args.labelled, args.nodes, args.node_series, anchor
    );
    println!(
        "{:<28} {:>12} {:>10} {:>7}",
        "case", "ns/report", "vs anchor", "fired"
    );
    let mut json = Vec::new();
    for (name, entries) in cases {
        let rules = rules(&entries);
        let mut held = Held::default();
        let mut fired = 0;
        let ns = per_call(args.rounds, || {
            let verdict = rules.judge(&collected, &mut held);
            fired = verdict.map_or(0, |v| v.fired.len());
        });
        println!("{name:<28} {ns:>12.0} {:>9.2}x {fired:>7}", ns / anchor);
        json.push(format!(
            r#"{{"case":"{name}","ns":{ns:.0},"ratio":{:.3},"fired":{fired}}}"#,
            ns / anchor
        ));
    }
    println!(
        r#"{{"anchor_ns":{anchor:.0},"cases":[{}]}}"#,
        json.join(",")
    );
}
