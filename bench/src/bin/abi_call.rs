//! Cost of one connector call through the stable ABI against a direct call of the same code.
//!
//! Loads `libdbmon_connector_misbehave.so` with the host's loader, instantiates it with
//! `mode: ok` (a trivial collect: one metric), and times sequential `collect` calls awaited on
//! a tokio worker of a 2-worker runtime: bare, and through the host's `Runner` as its agents
//! call it (with the timeout and the slow-poll watch). The same connector linked as an rlib
//! and called through its Rust trait is the baseline.
//!
//! `cargo build --release --workspace`, then
//! `cargo run --release -p dbmon-bench --bin abi_call -- --calls 200000`

use clap::Parser;
use dbmon::{runner::Runner, store::Outcome};
use dbmon_connector_api::{ClusterConfig, CollectContext, Connector, ffi::FfiCollectRequest};
use dbmon_connector_misbehave::{Misbehave, Mode, Options};
use dbmon_test_support::built_library;
use std::{
    hint::black_box,
    sync::Arc,
    time::{Duration, Instant},
};

const CONFIG: &str = r#"{"id":"b","endpoints":[],"interval_ms":1000,"timeout_ms":1000,"tls":null,"auth":null,"options":{"mode":"ok"}}"#;

/// Times connector calls through the ABI and directly.
#[derive(Debug, Parser)]
#[deny(missing_docs)]
struct Args {
    /// Calls per round.
    #[arg(long, default_value_t = 200_000)]
    calls: u64,
    /// Rounds of each way; the median and the best are reported.
    #[arg(long, default_value_t = 7)]
    rounds: usize,
}

fn main() -> Result<(), String> {
    let args = Args::parse();
    // As the host at its default level: the connector's debug events are filtered out inside
    // the library, not formatted and forwarded.
    tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .init();
    let path = built_library("dbmon_connector_misbehave");
    let plugin = dbmon::plugins::load_checked(&path, &Default::default())?;
    let instantiate = || {
        plugin
            .instantiate(CONFIG.into())
            .map_err(|e| format!("{}: {}", e.path, e.message))
    };
    let instance = Arc::new(instantiate()?);
    let runner = Arc::new(Runner::InProcess(instantiate()?));
    let direct = Arc::new(
        Misbehave::new(ClusterConfig::new(
            "b",
            Options {
                mode: Mode::Ok,
                series: 0,
                unhealthy_while: None,
            },
        ))
        .map_err(|e| e.to_string())?,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;

    let ways: [(&str, Way); 3] = [
        ("direct (rlib, Connector::collect)", Way::Direct(direct)),
        (
            "stable ABI (.so, Instance::collect)",
            Way::Abi(Arc::clone(&instance)),
        ),
        (
            "stable ABI as the agent awaits it (Runner::collect)",
            Way::Agent(runner),
        ),
    ];
    let mut medians = Vec::new();
    println!(
        "{} calls per round, {} rounds, ns per call:",
        args.calls, args.rounds
    );
    for (name, way) in &ways {
        let mut per_call: Vec<f64> = (0..args.rounds)
            .map(|_| {
                let elapsed = runtime
                    .block_on(runtime.spawn(way.clone().time(args.calls)))
                    .expect("round");
                elapsed.as_nanos() as f64 / args.calls as f64
            })
            .collect();
        per_call.sort_by(f64::total_cmp);
        let median = per_call[per_call.len() / 2];
        println!(
            "  {name:<58} median {median:>7.1}  best {:>7.1}",
            per_call[0]
        );
        medians.push(median);
    }
    println!(
        "  ABI overhead over direct: {:.1} ns per call",
        medians[1] - medians[0]
    );
    println!(
        "  Runner (timeout, slow-poll watch) over the bare ABI call: {:.1} ns per call",
        medians[2] - medians[1]
    );
    println!(
        "{}",
        serde_json::json!({
            "bench": "abi_call",
            "calls": args.calls,
            "rounds": args.rounds,
            "direct_ns": medians[0],
            "abi_ns": medians[1],
            "abi_agent_ns": medians[2],
        })
    );
    Ok(())
}

/// One way of calling the connector.
#[derive(Clone)]
enum Way {
    Direct(Arc<Misbehave>),
    Abi(Arc<dbmon::plugins::Instance>),
    Agent(Arc<Runner>),
}

impl Way {
    /// Awaits `calls` sequential collections; returns the time they took.
    async fn time(self, calls: u64) -> Duration {
        let start = Instant::now();
        for sequence in 1..=calls {
            let request = FfiCollectRequest {
                sequence,
                timeout_ms: 1000,
            };
            match &self {
                Way::Direct(connector) => {
                    let ctx = CollectContext {
                        sequence,
                        deadline: Instant::now() + Duration::from_secs(1),
                    };
                    let report = connector.collect(&ctx).await.expect("mode ok");
                    black_box(report.into_ffi());
                }
                Way::Abi(instance) => match instance.collect(request).await {
                    Ok(report) => drop(black_box(report)),
                    Err(e) => panic!("{e}"),
                },
                Way::Agent(runner) => {
                    let timeout = Duration::from_secs(1);
                    match runner.collect("b", sequence, timeout).await {
                        Outcome::Collected(report) => drop(black_box(report)),
                        other => panic!("{other:?}"),
                    }
                }
            }
        }
        start.elapsed()
    }
}
