//! What Watch streams cost the host: K `misbehave` clusters of large reports, W watchers of
//! every cluster reading everything, host CPU over a window per report delivered. The anchor
//! in the same run is the same host with no watcher (what collecting and storing cost alone).
//!
//! `cargo build --release --workspace`, then
//! `./target/release/watch_fanout --clusters 10 --series 2000 --watchers 100 --seconds 20`

use clap::Parser;
use dbmon_bench::procfs;
use dbmon_proto as proto;
use dbmon_test_support::{Host, built_library};
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// Watch fan-out benchmark of the dbmon host.
#[derive(Debug, Parser)]
#[deny(missing_docs)]
struct Args {
    /// Clusters, each reporting every second.
    #[arg(long, default_value_t = 10)]
    clusters: usize,
    /// Series per report.
    #[arg(long, default_value_t = 1000)]
    series: usize,
    /// Watchers of every cluster, each on a connection of its own.
    #[arg(long, default_value_t = 50)]
    watchers: usize,
    /// Length of each measured window.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
}

fn main() -> Result<(), String> {
    let args = Args::parse();
    let mut config = String::from("store: {history: 10}\nclusters:\n");
    for i in 0..args.clusters {
        config.push_str(&format!(
            "  - {{id: c{i}, connector: misbehave, interval: 1s, timeout: 900ms, options: {{mode: ok, series: {}}}}}\n",
            args.series
        ));
    }
    let host = Host::try_start_logging(
        &config,
        &[built_library("dbmon_connector_misbehave")],
        "info",
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(run(&args, &host))
}

async fn run(args: &Args, host: &Host) -> Result<(), String> {
    let window = Duration::from_secs(args.seconds);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let alone = measure(host, window, None).await?;

    let delivered = Arc::new(AtomicU64::new(0));
    for _ in 0..args.watchers {
        let mut stream = watch(&host.url).await?;
        let delivered = Arc::clone(&delivered);
        tokio::spawn(async move {
            while let Ok(Some(_)) = stream.message().await {
                delivered.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let watched = measure(host, window, Some(&delivered)).await?;

    let per_report_ms = (watched.cpu - alone.cpu) * 1000.0 / watched.delivered.max(1) as f64;
    println!(
        "{} clusters × {} series every 1 s, {} watchers, {} s windows",
        args.clusters, args.series, args.watchers, args.seconds
    );
    println!(
        "host CPU without watchers  {:>7.3} cores",
        alone.cpu / window.as_secs_f64()
    );
    println!(
        "host CPU with watchers     {:>7.3} cores, {} reports delivered ({:.0}/s of {:.0}/s expected)",
        watched.cpu / window.as_secs_f64(),
        watched.delivered,
        watched.delivered as f64 / window.as_secs_f64(),
        (args.clusters * args.watchers) as f64
    );
    println!(
        "host CPU per report delivered: {per_report_ms:.3} ms (watchers' CPU less the anchor's)"
    );
    Ok(())
}

/// A report read without building it: the watchers' side costs this process little, so the
/// host gets the machine.
#[derive(Clone, PartialEq, prost::Message)]
struct Skipped {}

/// A Watch of every cluster on a connection of its own.
async fn watch(url: &str) -> Result<tonic::Streaming<Skipped>, String> {
    let channel = tonic::transport::Endpoint::from_shared(url.to_string())
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    let mut grpc = tonic::client::Grpc::new(channel).max_decoding_message_size(1 << 30);
    grpc.ready().await.map_err(|e| e.to_string())?;
    let path = tonic::codegen::http::uri::PathAndQuery::from_static("/dbmon.v1.Monitor/Watch");
    let codec = tonic_prost::ProstCodec::<proto::WatchRequest, Skipped>::default();
    let request = tonic::Request::new(proto::WatchRequest {
        cluster_ids: vec![],
    });
    grpc.server_streaming(request, path, codec)
        .await
        .map(|r| r.into_inner())
        .map_err(|e| e.to_string())
}

struct Window {
    cpu: f64,
    delivered: u64,
}

async fn measure(
    host: &Host,
    window: Duration,
    delivered: Option<&AtomicU64>,
) -> Result<Window, String> {
    let count = || delivered.map_or(0, |d| d.load(Ordering::Relaxed));
    let before = procfs::sample(Some(host.pid())).map_err(|e| e.to_string())?;
    let (start, started) = (count(), Instant::now());
    tokio::time::sleep(window).await;
    let after = procfs::sample(Some(host.pid())).map_err(|e| e.to_string())?;
    let scale = window.as_secs_f64() / started.elapsed().as_secs_f64();
    Ok(Window {
        cpu: (after.cpu_seconds - before.cpu_seconds) * scale,
        delivered: count() - start,
    })
}
