//! A connector that misbehaves on request, for the host's tests: it panics, hangs, fails, or
//! crashes its process (abort, segfault, stack overflow), as `options.mode` says. `mode: ok`
//! reports one metric, `collections`, and `options.series` more (large reports, for tests of
//! what a slow client costs). With `options.unhealthy_while: PATH`, an `ok` report's verdict
//! is unhealthy while that file exists (tests flip a cluster's verdict by creating it).

use dbmon_connector_api::{
    ClusterConfig, CollectContext, CommandInfo, ConfigError, Connector, ConnectorInfo, Error,
    Report, export_connector,
};
use serde::Deserialize;
use std::sync::atomic::{AtomicU64, Ordering};

/// What `collect` does.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Reports `collections` (how many collections this instance ran).
    Ok,
    /// Panics inside the collect future.
    Panic,
    /// Never completes (awaits forever, without blocking the thread).
    Hang,
    /// Returns an error.
    Fail,
    /// Blocks its thread (`std::thread::sleep`) until 300 ms past its deadline, as a
    /// connector with a blocking client would.
    Block,
    /// Calls `std::process::abort()`: only a worker process survives this.
    Abort,
    /// Writes through a null pointer (SIGSEGV).
    Segfault,
    /// Recurses without end until the stack overflows.
    StackOverflow,
}

/// `options:` of a misbehave cluster.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// What collect does.
    pub mode: Mode,
    /// Extra labelled series in each `ok` report (`padding`, each with two long labels).
    #[serde(default)]
    pub series: usize,
    /// While this file exists, `ok` reports are unhealthy (with a reason naming the file).
    #[serde(default)]
    pub unhealthy_while: Option<std::path::PathBuf>,
}

/// The connector.
pub struct Misbehave {
    mode: Mode,
    series: usize,
    unhealthy_while: Option<std::path::PathBuf>,
    collections: AtomicU64,
}

impl Connector for Misbehave {
    type Options = Options;

    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "misbehave",
            version: env!("CARGO_PKG_VERSION"),
            description: "panics, hangs or fails on request (for tests)",
            commands: vec![CommandInfo {
                name: "echo",
                description: "prints its arguments",
            }],
        }
    }

    fn new(config: ClusterConfig<Options>) -> Result<Self, ConfigError> {
        Ok(Misbehave {
            mode: config.options.mode,
            series: config.options.series,
            unhealthy_while: config.options.unhealthy_while,
            collections: AtomicU64::new(0),
        })
    }

    async fn collect(&self, ctx: &CollectContext) -> Result<Report, Error> {
        let n = self.collections.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::debug!(sequence = ctx.sequence, "collecting");
        match self.mode {
            Mode::Ok => {
                let mut report = Report::new();
                report.metric("collections", n as f64);
                for i in 0..self.series {
                    report
                        .metric("padding", (n * i as u64) as f64)
                        .label("series", &format!("{i:0>40}"))
                        .label("path", &format!("/a/rather/long/label/value/{i:0>40}"));
                }
                if let Some(flag) = self.unhealthy_while.as_ref().filter(|f| f.exists()) {
                    report.unhealthy(format!("misbehave: {} exists", flag.display()));
                }
                Ok(report)
            }
            Mode::Panic => panic!("misbehave: asked to panic (collection {n})"),
            Mode::Hang => std::future::pending().await,
            Mode::Fail => Err(format!("misbehave: asked to fail (collection {n})").into()),
            Mode::Block => {
                std::thread::sleep(ctx.remaining() + std::time::Duration::from_millis(300));
                let mut report = Report::new();
                report.metric("collections", n as f64);
                Ok(report)
            }
            Mode::Abort => std::process::abort(),
            Mode::Segfault => {
                // SAFETY: none; crashing the process is the point of this mode.
                unsafe { std::ptr::null_mut::<u64>().write_volatile(n) };
                unreachable!("wrote through a null pointer")
            }
            Mode::StackOverflow => {
                std::hint::black_box(recurse(n));
                unreachable!("recursed without end")
            }
        }
    }

    async fn run_command(
        &self,
        command: &str,
        args: &[String],
        _ctx: &CollectContext,
    ) -> Result<String, Error> {
        match command {
            "echo" => Ok(args.join(" ")),
            other => Err(format!("unknown command '{other}'").into()),
        }
    }
}

/// Recursion the optimiser cannot turn into a loop.
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 64]);
    frame[0] + recurse(std::hint::black_box(depth + 1))
}

export_connector!(Misbehave);
