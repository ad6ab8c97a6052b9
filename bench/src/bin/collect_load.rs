//! Runs `dbmon serve` (the release binary) with N `prometheus` clusters, each scraping its own
//! loopback target, and measures the host over a steady-state window: CPU per collection,
//! cores, peak and current RSS, threads, and whether every cluster was collected every
//! interval with no failure.
//!
//! `cargo build --release --workspace`, then
//! `cargo run --release -p dbmon-bench --bin collect_load -- --clusters 200 --interval-ms 1000 --seconds 60`

use clap::Parser;
use dbmon_bench::{
    body::{self, Template},
    procfs,
    targets::{self, Targets},
};
use dbmon_proto as proto;
use dbmon_test_support::{Host, built_library};
use std::{
    fmt::Write as _,
    time::{Duration, Instant},
};

/// Load benchmark of the dbmon host with the prometheus connector.
#[derive(Debug, Parser)]
#[deny(missing_docs)]
struct Args {
    /// Clusters, each with its own target URL.
    #[arg(long, default_value_t = 200)]
    clusters: usize,
    /// Collection interval of every cluster (its timeout too).
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    /// Length of the measured window.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Time between the host's start and the window.
    #[arg(long, default_value_t = 10)]
    warmup_seconds: u64,
    /// What the targets serve.
    #[arg(long, value_enum, default_value_t = body::Kind::Synthetic)]
    body: body::Kind,
    /// Percent of the non-zero values that change between two scrapes (0: static bodies).
    #[arg(long, default_value_t = 50)]
    changing_percent: u32,
    /// Serve every cluster node 1's series. By default each cluster is a different node, with
    /// its own label values. (Schemas stay per cluster either way: the connector names each
    /// node after its target URL.)
    #[arg(long)]
    same_series: bool,
    /// Loopback HTTP servers the clusters are spread over (by path). By default, one each.
    #[arg(long)]
    servers: Option<usize>,
    /// Reports kept per cluster (`store.history`). By default, the host's default (100).
    #[arg(long)]
    history: Option<usize>,
    /// Agents start after a random delay up to this. By default, one interval.
    #[arg(long)]
    jitter_ms: Option<u64>,
    /// Worker threads of this process, which serves the targets.
    #[arg(long, default_value_t = 1)]
    target_threads: usize,
    /// Where the connector runs: `in_process` (the default) or `process` (one `dbmon worker`
    /// child per cluster), to measure the cost of isolation.
    #[arg(long, default_value = "in_process")]
    isolation: String,
    /// The host's log filter (`--log-level` of `dbmon serve`).
    #[arg(long, default_value = "info")]
    log_level: String,
    /// Copy the host's log here before the host's folder is removed.
    #[arg(long)]
    keep_log: Option<std::path::PathBuf>,
}

fn main() -> Result<(), String> {
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.target_threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?
        .block_on(run(args))
}

/// What the host looked like at one instant.
struct Snapshot {
    at: Instant,
    machine_busy_s: f64,
    load: f64,
    host: procfs::Sample,
    this: procfs::Sample,
    clusters: Vec<proto::Cluster>,
    list_ms: f64,
    workers: procfs::Sample,
}

async fn snapshot(client: &mut Client, pid: u32) -> Result<Snapshot, String> {
    let at = Instant::now();
    let machine_busy_s = procfs::machine_busy_seconds().map_err(|e| e.to_string())?;
    let load = procfs::load_average();
    let host = procfs::sample(Some(pid)).map_err(|e| format!("reading /proc/{pid}: {e}"))?;
    let workers = procfs::children(pid).map_err(|e| format!("reading /proc: {e}"))?;
    let this = procfs::sample(None).map_err(|e| e.to_string())?;
    let asked = Instant::now();
    let clusters = client
        .list_clusters(proto::ListClustersRequest {})
        .await
        .map_err(|e| format!("ListClusters: {e}"))?
        .into_inner()
        .clusters;
    let list_ms = asked.elapsed().as_secs_f64() * 1e3;
    Ok(Snapshot {
        at,
        machine_busy_s,
        load,
        host,
        workers,
        this,
        clusters,
        list_ms,
    })
}

type Client = proto::monitor_client::MonitorClient<tonic::transport::Channel>;

async fn run(args: Args) -> Result<(), String> {
    let templates = targets::templates(
        args.body,
        args.clusters,
        args.changing_percent,
        args.same_series,
    );
    // Cluster `i` is served at `/{i}/_status/vars`.
    let servers = Targets::start(&templates, args.servers.unwrap_or(args.clusters)).await;
    let urls: Vec<String> = (0..args.clusters)
        .map(|i| servers.url(i, "/_status/vars", false))
        .collect();
    let config = config(&args, &urls);

    let started = Instant::now();
    let prometheus = built_library("dbmon_connector_prometheus");
    let level = args.log_level.clone();
    let host = tokio::task::spawn_blocking(move || {
        Host::try_start_logging(&config, &[prometheus], &level)
    })
    .await
    .map_err(|e| e.to_string())??;
    let startup_s = started.elapsed().as_secs_f64();
    let pid = host.pid();
    let mut client = Client::connect(host.url.clone())
        .await
        .map_err(|e| e.to_string())?;
    let at_start = procfs::sample(Some(pid)).map_err(|e| e.to_string())?;

    tokio::time::sleep(Duration::from_secs(args.warmup_seconds)).await;
    let a = snapshot(&mut client, pid).await?;
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let b = snapshot(&mut client, pid).await?;

    let log = host.log();
    if let Some(path) = &args.keep_log {
        std::fs::write(path, &log).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let run = Run {
        startup_s,
        at_start,
        log_bytes: log.len(),
        warnings: log.lines().filter(|l| l.contains("WARN")).count(),
    };
    let figures = figures(&args, &templates[0], &a, &b, &run);
    tokio::task::spawn_blocking(move || drop(host))
        .await
        .map_err(|e| e.to_string())?;
    drop(servers);
    for (label, keys) in ROWS {
        let values: Vec<String> = keys.iter().map(|k| show(&figures[*k])).collect();
        println!("{label:<44} {}", values.join(" / "));
    }
    println!("{figures}");
    Ok(())
}

/// The host's YAML.
fn config(args: &Args, urls: &[String]) -> String {
    let interval = args.interval_ms;
    let jitter = args.jitter_ms.unwrap_or(interval);
    let mut yaml = String::new();
    if let Some(history) = args.history {
        let _ = writeln!(yaml, "store: {{ kind: memory, history: {history} }}");
    }
    let _ = writeln!(
        yaml,
        "defaults: {{ interval: {interval}ms, timeout: {interval}ms, jitter: {jitter}ms }}"
    );
    let _ = writeln!(
        yaml,
        "connectors: {{ prometheus: {{ isolation: {} }} }}",
        args.isolation
    );
    yaml.push_str("clusters:\n");
    for (i, url) in urls.iter().enumerate() {
        let _ = writeln!(
            yaml,
            "  - {{ id: c{i:04}, connector: prometheus, endpoints: [\"{url}\"] }}"
        );
    }
    yaml
}

/// Facts of the run besides the two snapshots.
struct Run {
    startup_s: f64,
    at_start: procfs::Sample,
    log_bytes: usize,
    warnings: usize,
}

/// The table printed before the JSON line: (label, key in the JSON).
const ROWS: &[(&str, &[&str])] = &[
    ("clusters", &["clusters"]),
    ("interval (ms)", &["interval_ms"]),
    ("body bytes", &["body_bytes"]),
    (
        "samples per body / changing per scrape",
        &["samples_per_body", "changing_per_scrape"],
    ),
    ("host startup (s)", &["startup_s"]),
    ("window (s)", &["window_s"]),
    ("collections in the window", &["collections"]),
    ("collections per second", &["collections_per_s"]),
    (
        "per cluster: min / max / expected",
        &["per_cluster_min", "per_cluster_max", "per_cluster_expected"],
    ),
    (
        "failures / timeouts / stale clusters",
        &["failures", "timeouts", "stale"],
    ),
    ("host CPU (cores)", &["host_cores"]),
    (
        "host CPU per collection (ms): all / kernel",
        &["cpu_ms_per_collection", "kernel_ms_per_collection"],
    ),
    ("isolation", &["isolation"]),
    (
        "workers: CPU (cores) / RSS (MiB) / threads",
        &["workers_cores", "workers_rss_mib", "workers_threads"],
    ),
    (
        "host + workers CPU per collection (ms)",
        &["cpu_ms_per_collection_with_workers"],
    ),
    ("host peak RSS, VmHWM (MiB)", &["host_peak_rss_mib"]),
    (
        "host RSS at end / at start (MiB)",
        &["host_rss_mib", "host_rss_at_start_mib"],
    ),
    (
        "host threads at end / at start",
        &["host_threads", "host_threads_at_start"],
    ),
    ("reports stored per cluster (min)", &["min_reports_stored"]),
    ("ListClusters round trip (ms)", &["list_clusters_ms"]),
    ("targets, this process (cores)", &["targets_cores"]),
    ("other processes (cores)", &["other_processes_cores"]),
    (
        "load average 1 min, start / end",
        &["load_1m_start", "load_1m_end"],
    ),
    (
        "host log bytes / warnings",
        &["host_log_bytes", "host_log_warnings"],
    ),
];

/// A figure for the table: floats with three decimals.
fn show(value: &serde_json::Value) -> String {
    match value.as_f64() {
        Some(f) if value.is_f64() => format!("{f:.3}"),
        _ => value.to_string(),
    }
}

/// Everything measured, as one JSON object.
fn figures(args: &Args, t: &Template, a: &Snapshot, b: &Snapshot, run: &Run) -> serde_json::Value {
    let window_s = b.at.duration_since(a.at).as_secs_f64();
    let delta = |f: fn(&proto::Cluster) -> u64| -> Vec<u64> {
        b.clusters
            .iter()
            .zip(&a.clusters)
            .map(|(nb, na)| f(nb) - f(na))
            .collect()
    };
    let per_cluster = delta(|c| c.collections);
    let collections: u64 = per_cluster.iter().sum();
    let cpu_s = b.host.cpu_seconds - a.host.cpu_seconds;
    let targets_cores = (b.this.cpu_seconds - a.this.cpu_seconds) / window_s;
    let machine_cores = (b.machine_busy_s - a.machine_busy_s) / window_s;
    let mib = |kib: u64| kib as f64 / 1024.0;
    serde_json::json!({
        "bench": "collect_load",
        "clusters": args.clusters,
        "interval_ms": args.interval_ms,
        "body": format!("{:?}", args.body).to_lowercase(),
        "body_bytes": t.len(),
        "samples_per_body": t.samples(),
        "changing_per_scrape": t.changing(),
        "same_series": args.same_series,
        "history": args.history,
        "log_level": args.log_level,
        "startup_s": run.startup_s,
        "window_s": window_s,
        "collections": collections,
        "collections_per_s": collections as f64 / window_s,
        "per_cluster_min": per_cluster.iter().min(),
        "per_cluster_max": per_cluster.iter().max(),
        "per_cluster_expected": window_s * 1000.0 / args.interval_ms as f64,
        "failures": delta(|c| c.failures).iter().sum::<u64>(),
        "timeouts": delta(|c| c.timeouts).iter().sum::<u64>(),
        "stale": b.clusters.iter().filter(|c| c.stale).count(),
        "host_cores": cpu_s / window_s,
        "cpu_ms_per_collection": cpu_s * 1e3 / collections.max(1) as f64,
        "isolation": args.isolation,
        "workers_cores": (b.workers.cpu_seconds - a.workers.cpu_seconds) / window_s,
        "cpu_ms_per_collection_with_workers": (cpu_s + b.workers.cpu_seconds - a.workers.cpu_seconds) * 1e3 / collections.max(1) as f64,
        "workers_rss_mib": mib(b.workers.rss_kib),
        "workers_threads": b.workers.threads,
        "kernel_ms_per_collection": (b.host.system_seconds - a.host.system_seconds) * 1e3 / collections.max(1) as f64,
        "host_peak_rss_mib": mib(b.host.peak_rss_kib),
        "host_rss_mib": mib(b.host.rss_kib),
        "host_rss_at_start_mib": mib(run.at_start.rss_kib),
        "host_threads": b.host.threads,
        "host_threads_at_start": run.at_start.threads,
        "min_reports_stored": b.clusters.iter().map(|c| c.reports_stored).min(),
        "list_clusters_ms": b.list_ms,
        "targets_cores": targets_cores,
        "other_processes_cores": machine_cores - cpu_s / window_s - targets_cores
            - (b.workers.cpu_seconds - a.workers.cpu_seconds) / window_s,
        "load_1m_start": a.load,
        "load_1m_end": b.load,
        "host_log_bytes": run.log_bytes,
        "host_log_warnings": run.warnings,
    })
}
