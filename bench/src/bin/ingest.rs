//! What the collector/server split costs: the same `misbehave` clusters collected by one
//! all-in-one `dbmon serve` (the anchor, in the same run) and by a `dbmon serve --role
//! collector` pushing every report to a `dbmon serve --role server` over mutual TLS with a
//! token, as an operator sets them up (`dbmon certs init`, `dbmon token new`). Every host
//! serves its clients over the same TLS and tokens.
//!
//! For each cluster count, each setup in turn: a warm-up, then a window without any watcher
//! (reports per second on the serving host, CPU of each process from `/proc` per report), then
//! a window with one Watch stream of a few clusters on the serving host (receive time less the
//! report's `collected_at + duration`, same machine and clock).
//!
//! `cargo build --release -p dbmon -p dbmon-connector-misbehave`, then
//! `cargo run --release -p dbmon-bench --bin ingest -- --series 3000 --clusters 100,200`

use clap::Parser;
use dbmon::security::client::{BearerInterceptor, ClientSecurity, Token, connect};
use dbmon_bench::{
    child::{ScratchDir, start_dbmon},
    procfs,
};
use dbmon_proto as proto;
use dbmon_test_support::built_binary;
use std::{
    fmt::Write as _,
    path::Path,
    process::Command,
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};
use tonic::{service::interceptor::InterceptedService, transport::Channel};

/// Ingest benchmark: collector → server over TLS against all-in-one.
#[derive(Debug, Parser)]
#[deny(missing_docs)]
struct Args {
    /// Series per report (the `misbehave` connector's `collections` plus `series - 1` labelled
    /// ones).
    #[arg(long, default_value_t = 3000)]
    series: usize,
    /// Cluster counts to run, one after the other (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "100")]
    clusters: Vec<usize>,
    /// Collection interval of every cluster (the timeout too).
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    /// Time between the start of the hosts and the CPU window.
    #[arg(long, default_value_t = 8)]
    warmup_seconds: u64,
    /// The CPU and throughput window (no watcher).
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    /// The latency window (one Watch stream).
    #[arg(long, default_value_t = 10)]
    latency_seconds: u64,
    /// Clusters the Watch stream follows (the first ones).
    #[arg(long, default_value_t = 10)]
    watch_clusters: usize,
    /// The serving host's store: `memory` or `file`.
    #[arg(long, default_value = "memory")]
    store: String,
    /// Reports kept per cluster on the serving host (`store.history`); by default the host's.
    #[arg(long)]
    history: Option<usize>,
    /// Setups to run, in this order: `all` (all-in-one), `split` (collector + server).
    #[arg(long, value_delimiter = ',', default_value = "all,split")]
    setups: Vec<String>,
    /// Where the connector runs on the collecting host: `in_process` (the default) or
    /// `process` (one `dbmon worker` child per cluster, off the host's runtime).
    #[arg(long, default_value = "in_process")]
    isolation: String,
    /// The hosts' log filter.
    #[arg(long, default_value = "info")]
    log_level: String,
}

fn main() -> Result<(), String> {
    let args = Args::parse();
    dbmon_bench::child::raise_open_files();
    let pki = Pki::new()?;
    // One worker: the Watch client and the gRPC calls need little, the hosts get the machine.
    // Hosts are started from the main thread (inside `block_on`), as `Guard` requires.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let mut lines = Vec::new();
    for &clusters in &args.clusters {
        for setup in &args.setups {
            let result = match setup.as_str() {
                "all" => runtime.block_on(all_in_one(&args, &pki, clusters))?,
                "split" => runtime.block_on(split(&args, &pki, clusters))?,
                other => return Err(format!("unknown setup '{other}': all or split")),
            };
            print_result(&args, clusters, &result);
            lines.push(result.json(&args, clusters));
        }
    }
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

/// The certificates and tokens of the run, made with the `dbmon` binary as an operator would.
struct Pki {
    dir: ScratchDir,
    /// `auth:` of a serving host: the collector's token may push, the bench's may read.
    auth: String,
}

impl Pki {
    fn new() -> Result<Pki, String> {
        let dir = ScratchDir::new("dbmon-ingest-pki").map_err(|e| e.to_string())?;
        let certs = dir.path().join("certs");
        run_dbmon(&["certs".into(), "init".into(), certs.display().to_string()])?;
        let mut auth = String::from("auth:\n  tokens:\n");
        for (name, role) in [("collector", "ingest"), ("bench", "read")] {
            let out = run_dbmon(&[
                "token".into(),
                "new".into(),
                name.into(),
                "--roles".into(),
                role.into(),
            ])?;
            let token = out.lines().next().unwrap_or_default().trim().to_string();
            let entry = out
                .lines()
                .find(|l| l.trim_start().starts_with("- {name:"))
                .ok_or_else(|| format!("no auth entry in `dbmon token new`:\n{out}"))?;
            let _ = writeln!(auth, "    {}", entry.trim());
            let file = dir.path().join(format!("{name}.token"));
            std::fs::write(&file, token).map_err(|e| e.to_string())?;
            std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .map_err(|e| e.to_string())?;
        }
        Ok(Pki { dir, auth })
    }

    fn at(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// `tls:` and `auth:` of a serving host.
    fn serving(&self) -> String {
        format!(
            "tls: {{cert: {}, key: {}, client_ca: {}, client_auth: required}}\n{}",
            self.at("certs/server.pem"),
            self.at("certs/server-key.pem"),
            self.at("certs/ca.pem"),
            self.auth
        )
    }

    /// The collector's block, pushing to `upstream`.
    fn collector(&self, upstream: &str) -> String {
        format!(
            "collector: {{id: bench, upstream: '{upstream}', ca: {}, cert: {}, key: {}, token_file: {}}}\n",
            self.at("certs/ca.pem"),
            self.at("certs/client.pem"),
            self.at("certs/client-key.pem"),
            self.at("collector.token"),
        )
    }

    /// How the bench connects to a serving host.
    fn client(&self) -> Result<ClientSecurity, String> {
        Ok(ClientSecurity {
            ca: Some(self.at("certs/ca.pem").into()),
            cert: Some(self.at("certs/client.pem").into()),
            key: Some(self.at("certs/client-key.pem").into()),
            token: Some(Token::from_file(Path::new(&self.at("bench.token")))?),
        })
    }
}

fn run_dbmon(args: &[String]) -> Result<String, String> {
    let out = Command::new(built_binary("dbmon"))
        .args(args)
        .output()
        .map_err(|e| format!("cannot run dbmon: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "dbmon {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The `clusters:` of the collecting host.
fn clusters_yaml(args: &Args, clusters: usize) -> String {
    let interval = args.interval_ms;
    let mut yaml = format!(
        "defaults: {{interval: {interval}ms, timeout: {interval}ms, jitter: {interval}ms}}\n\
         connectors: {{misbehave: {{isolation: {}}}}}\nclusters:\n",
        args.isolation
    );
    for i in 0..clusters {
        let _ = writeln!(
            yaml,
            "  - {{id: c{i:04}, connector: misbehave, options: {{mode: ok, series: {}}}}}",
            args.series.saturating_sub(1)
        );
    }
    yaml
}

/// The `store:` of the serving host (a file store in `dir`).
fn store_yaml(args: &Args, dir: &Path) -> String {
    let history = args
        .history
        .map_or(String::new(), |h| format!(", history: {h}"));
    match args.store.as_str() {
        "file" => format!(
            "store: {{kind: file, path: {}{history}}}\n",
            dir.join("store").display()
        ),
        _ => format!("store: {{kind: memory{history}}}\n"),
    }
}

/// How long a dbmon process of the bench has to say it is up.
const STARTED_WITHIN: Duration = Duration::from_secs(60);

type Client = proto::monitor_client::MonitorClient<InterceptedService<Channel, BearerInterceptor>>;

async fn client(url: &str, pki: &Pki) -> Result<(Client, Channel, BearerInterceptor), String> {
    let (channel, interceptor) = connect(url, &pki.client()?).await?;
    let client = proto::monitor_client::MonitorClient::with_interceptor(
        channel.clone(),
        interceptor.clone(),
    )
    .max_decoding_message_size(1 << 30);
    Ok((client, channel, interceptor))
}

/// One instant of a setup.
struct Snapshot {
    at: Instant,
    machine_busy_s: f64,
    /// The serving host (the all-in-one host, or the server).
    serving: procfs::Sample,
    /// The collector (split only).
    collector: Option<procfs::Sample>,
    /// Collections of every cluster, as the serving host knows them.
    collections: u64,
    /// Reports stored from the collector since the server started (split), or collections.
    stored: u64,
    buffered: u64,
    dropped: u64,
}

async fn snapshot(
    client: &mut Client,
    serving: u32,
    collector: Option<u32>,
) -> Result<Snapshot, String> {
    let at = Instant::now();
    let machine_busy_s = procfs::machine_busy_seconds().map_err(|e| e.to_string())?;
    let sample = |pid| procfs::sample(Some(pid)).map_err(|e| format!("/proc/{pid}: {e}"));
    let serving_sample = sample(serving)?;
    let collector_sample = collector.map(sample).transpose()?;
    let clusters = client
        .list_clusters(proto::ListClustersRequest {})
        .await
        .map_err(|e| format!("ListClusters: {e}"))?
        .into_inner()
        .clusters;
    let collections: u64 = clusters.iter().map(|c| c.collections - c.failures).sum();
    let (mut stored, mut buffered, mut dropped) = (collections, 0, 0);
    if collector.is_some() {
        let collectors = client
            .list_collectors(proto::ListCollectorsRequest {})
            .await
            .map_err(|e| format!("ListCollectors: {e}"))?
            .into_inner()
            .collectors;
        stored = collectors.iter().map(|c| c.reports_stored).sum();
        buffered = collectors.iter().map(|c| c.buffered_reports).sum();
        dropped = collectors.iter().map(|c| c.dropped_reports).sum();
    }
    Ok(Snapshot {
        at,
        machine_busy_s,
        serving: serving_sample,
        collector: collector_sample,
        collections,
        stored,
        buffered,
        dropped,
    })
}

/// What one setup measured.
struct Result_ {
    setup: &'static str,
    window_s: f64,
    reports_per_s: f64,
    collections_per_s: f64,
    /// CPU seconds over the window: serving host, collector.
    serving_cpu_s: f64,
    collector_cpu_s: f64,
    reports: u64,
    buffered_end: u64,
    dropped: u64,
    serving_peak_rss_mib: f64,
    collector_peak_rss_mib: f64,
    other_cores: f64,
    /// Added latency samples, milliseconds, sorted.
    latencies_ms: Vec<f64>,
}

impl Result_ {
    fn cpu_ms_per_report(&self, cpu_s: f64) -> f64 {
        cpu_s * 1e3 / self.reports.max(1) as f64
    }

    fn total_ms_per_report(&self) -> f64 {
        self.cpu_ms_per_report(self.serving_cpu_s + self.collector_cpu_s)
    }

    fn percentile(&self, p: f64) -> f64 {
        if self.latencies_ms.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * (self.latencies_ms.len() - 1) as f64).round() as usize;
        self.latencies_ms[rank]
    }

    fn json(&self, args: &Args, clusters: usize) -> serde_json::Value {
        serde_json::json!({
            "bench": "ingest",
            "setup": self.setup,
            "series": args.series,
            "clusters": clusters,
            "interval_ms": args.interval_ms,
            "store": args.store,
            "window_s": self.window_s,
            "reports_per_s": self.reports_per_s,
            "collections_per_s": self.collections_per_s,
            "serving_cpu_ms_per_report": self.cpu_ms_per_report(self.serving_cpu_s),
            "collector_cpu_ms_per_report": self.cpu_ms_per_report(self.collector_cpu_s),
            "total_cpu_ms_per_report": self.total_ms_per_report(),
            "serving_cores": self.serving_cpu_s / self.window_s,
            "collector_cores": self.collector_cpu_s / self.window_s,
            "buffered_end": self.buffered_end,
            "dropped": self.dropped,
            "serving_peak_rss_mib": self.serving_peak_rss_mib,
            "collector_peak_rss_mib": self.collector_peak_rss_mib,
            "other_cores": self.other_cores,
            "latency_samples": self.latencies_ms.len(),
            "latency_p50_ms": self.percentile(50.0),
            "latency_p99_ms": self.percentile(99.0),
            "latency_max_ms": self.latencies_ms.last(),
        })
    }
}

fn print_result(args: &Args, clusters: usize, r: &Result_) {
    println!(
        "{:<5} {} clusters × {} series every {} ms, store {}: {:.1} reports/s stored ({:.1} collected/s), \
         CPU/report: serving {:.3} ms + collector {:.3} ms = {:.3} ms ({:.2} + {:.2} cores); \
         buffered at end {}, dropped {}; peak RSS {:.0} / {:.0} MiB; other processes {:.2} cores; \
         added latency p50 {:.2} ms p99 {:.2} ms ({} reports)",
        r.setup,
        clusters,
        args.series,
        args.interval_ms,
        args.store,
        r.reports_per_s,
        r.collections_per_s,
        r.cpu_ms_per_report(r.serving_cpu_s),
        r.cpu_ms_per_report(r.collector_cpu_s),
        r.total_ms_per_report(),
        r.serving_cpu_s / r.window_s,
        r.collector_cpu_s / r.window_s,
        r.buffered_end,
        r.dropped,
        r.serving_peak_rss_mib,
        r.collector_peak_rss_mib,
        r.other_cores,
        r.percentile(50.0),
        r.percentile(99.0),
        r.latencies_ms.len(),
    );
}

async fn all_in_one(args: &Args, pki: &Pki, clusters: usize) -> Result<Result_, String> {
    let store_dir = ScratchDir::new("dbmon-ingest-store").map_err(|e| e.to_string())?;
    let config = format!(
        "{}{}{}",
        pki.serving(),
        store_yaml(args, store_dir.path()),
        clusters_yaml(args, clusters)
    );
    let (host, url) = start_dbmon(
        "ingest",
        "all",
        STARTED_WITHIN,
        &config,
        &[],
        "dbmon serving on ",
        &args.log_level,
    )?;
    let result = measure(args, pki, "all", &url, host.pid(), None).await;
    drop(host);
    result
}

async fn split(args: &Args, pki: &Pki, clusters: usize) -> Result<Result_, String> {
    let store_dir = ScratchDir::new("dbmon-ingest-store").map_err(|e| e.to_string())?;
    let server_config = format!("{}{}", pki.serving(), store_yaml(args, store_dir.path()));
    let (server, url) = start_dbmon(
        "ingest",
        "server",
        STARTED_WITHIN,
        &server_config,
        &["--role", "server"],
        "dbmon serving on ",
        &args.log_level,
    )?;
    let collector_config = format!("{}{}", pki.collector(&url), clusters_yaml(args, clusters));
    let (collector, _) = start_dbmon(
        "ingest",
        "collector",
        STARTED_WITHIN,
        &collector_config,
        &["--role", "collector"],
        "dbmon collector ",
        &args.log_level,
    )?;
    let result = measure(
        args,
        pki,
        "split",
        &url,
        server.pid(),
        Some(collector.pid()),
    )
    .await;
    for (name, guard) in [("collector", &collector), ("server", &server)] {
        let log = std::fs::read_to_string(guard.dir.path().join("dbmon.log")).unwrap_or_default();
        let warnings: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
            .collect();
        if let (Some(first), Some(last)) = (warnings.first(), warnings.last()) {
            eprintln!(
                "{name}: {} warnings or errors in its log; the first and the last:\n  {first}\n  {last}",
                warnings.len()
            );
        }
    }
    drop(collector);
    drop(server);
    result
}

async fn measure(
    args: &Args,
    pki: &Pki,
    setup: &'static str,
    url: &str,
    serving: u32,
    collector: Option<u32>,
) -> Result<Result_, String> {
    let (mut client, channel, interceptor) = client(url, pki).await?;
    tokio::time::sleep(Duration::from_secs(args.warmup_seconds)).await;
    let a = snapshot(&mut client, serving, collector).await?;
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let b = snapshot(&mut client, serving, collector).await?;
    let window_s = b.at.duration_since(a.at).as_secs_f64();
    let serving_cpu_s = b.serving.cpu_seconds - a.serving.cpu_seconds;
    let collector_cpu_s = match (&a.collector, &b.collector) {
        (Some(a), Some(b)) => b.cpu_seconds - a.cpu_seconds,
        _ => 0.0,
    };
    let reports = b.stored - a.stored;
    let other_cores =
        (b.machine_busy_s - a.machine_busy_s - serving_cpu_s - collector_cpu_s) / window_s;

    let ids: Vec<String> = (0..args.watch_clusters)
        .map(|i| format!("c{i:04}"))
        .collect();
    let latencies_ms = watch_latencies(channel, interceptor, ids, args.latency_seconds).await?;
    let mib = |kib: u64| kib as f64 / 1024.0;
    Ok(Result_ {
        setup,
        window_s,
        reports_per_s: reports as f64 / window_s,
        collections_per_s: (b.collections - a.collections) as f64 / window_s,
        serving_cpu_s,
        collector_cpu_s,
        reports,
        buffered_end: b.buffered,
        dropped: b.dropped - a.dropped,
        serving_peak_rss_mib: mib(b.serving.peak_rss_kib),
        collector_peak_rss_mib: b.collector.map_or(0.0, |c| mib(c.peak_rss_kib)),
        other_cores,
        latencies_ms,
    })
}

/// `google.protobuf.Timestamp` and `Duration` have the same two fields.
#[derive(Clone, Copy, PartialEq, prost::Message)]
struct SecondsNanos {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

impl SecondsNanos {
    fn as_secs_f64(&self) -> f64 {
        self.seconds as f64 + self.nanos as f64 * 1e-9
    }
}

/// The two fields of a `Report` the latency needs; the rest is skipped without being built.
#[derive(Clone, PartialEq, prost::Message)]
struct Stamped {
    #[prost(message, optional, tag = "4")]
    collected_at: Option<SecondsNanos>,
    #[prost(message, optional, tag = "5")]
    duration: Option<SecondsNanos>,
}

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// For `seconds`, every report of `ids` a Watch stream receives: receive time less
/// `collected_at + duration`, in milliseconds, sorted. Reports finished before the stream
/// opened (the newest one it starts with) are left out.
async fn watch_latencies(
    channel: Channel,
    interceptor: BearerInterceptor,
    ids: Vec<String>,
    seconds: u64,
) -> Result<Vec<f64>, String> {
    let mut grpc = tonic::client::Grpc::new(InterceptedService::new(channel, interceptor))
        .max_decoding_message_size(1 << 30);
    grpc.ready().await.map_err(|e| e.to_string())?;
    let path = tonic::codegen::http::uri::PathAndQuery::from_static("/dbmon.v1.Monitor/Watch");
    let codec = tonic_prost::ProstCodec::<proto::WatchRequest, Stamped>::default();
    let opened = now_s();
    let mut stream = grpc
        .server_streaming(
            tonic::Request::new(proto::WatchRequest { cluster_ids: ids }),
            path,
            codec,
        )
        .await
        .map_err(|e| format!("Watch: {e}"))?
        .into_inner();
    let samples = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&samples);
    let reader = tokio::spawn(async move {
        while let Ok(Some(report)) = stream.message().await {
            let received = now_s();
            let (Some(at), Some(took)) = (report.collected_at, report.duration) else {
                continue;
            };
            let done = at.as_secs_f64() + took.as_secs_f64();
            if done < opened {
                continue;
            }
            sink.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((received - done) * 1e3);
        }
    });
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    reader.abort();
    let mut samples = std::mem::take(&mut *samples.lock().unwrap_or_else(|p| p.into_inner()));
    samples.sort_by(f64::total_cmp);
    Ok(samples)
}
