//! Scaling out (issue 11): N `misbehave` clusters shared through one etcd member by four
//! `dbmon serve --role collector` processes, pushing to two `dbmon serve --role server`
//! processes on one redis-server (append-only file on). For each N, after a warm-up, a window
//! of reports stored per second (the servers' `ListCollectors`), CPU and peak RSS of every
//! process from `/proc`, Redis memory per cluster and commands per report (`INFO`), etcd's
//! writes per second (its `/metrics`), and the mirror (how many clusters each server sees
//! fresh). Then one collector is killed with SIGKILL and the bench samples both servers'
//! `ListClusters` until every cluster it collected has a report collected after the kill
//! (only a live collector can have made it).
//!
//! `cargo build --release -p dbmon -p dbmon-connector-misbehave`, then
//! `cargo run --release -p dbmon-bench --bin scale -- --clusters 2000,20000`

#![recursion_limit = "256"]

use clap::Parser;
use dbmon_bench::{
    child::{Guard, start_dbmon},
    procfs,
};
use dbmon_proto as proto;
use dbmon_test_support::{etcd, redis};
use proto::monitor_client::MonitorClient;
use std::{
    collections::{BTreeMap, HashMap, HashSet},
    fmt::Write as _,
    io::{Read, Write},
    time::{Duration, Instant, SystemTime},
};
use tonic::transport::Channel;

/// Scale-out benchmark: collectors sharded through etcd, servers on one Redis.
#[derive(Debug, Parser)]
#[deny(missing_docs)]
struct Args {
    /// Cluster counts to run, one after the other (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "2000")]
    clusters: Vec<usize>,
    /// Collector processes.
    #[arg(long, default_value_t = 4)]
    collectors: usize,
    /// Server processes (on one Redis).
    #[arg(long, default_value_t = 2)]
    servers: usize,
    /// Collection interval of every cluster, seconds (jitter the same, timeout half).
    #[arg(long, default_value_t = 10)]
    interval_s: u64,
    /// The collectors' etcd lease, seconds.
    #[arg(long, default_value_t = 10)]
    lease_ttl_s: u64,
    /// Reports kept per cluster (`store.history`).
    #[arg(long, default_value_t = 100)]
    history: usize,
    /// Redis `appendfsync` (the append-only file is always on).
    #[arg(long, default_value = "always")]
    appendfsync: String,
    /// Time after every cluster has its first report, before the window.
    #[arg(long, default_value_t = 15)]
    warmup_seconds: u64,
    /// The measuring window.
    #[arg(long, default_value_t = 40)]
    seconds: u64,
    /// How long the bench waits for the clusters of the killed collector to come back.
    #[arg(long, default_value_t = 120)]
    rebalance_limit_seconds: u64,
    /// The hosts' log filter.
    #[arg(long, default_value = "info")]
    log_level: String,
}

fn main() -> Result<(), String> {
    let args = Args::parse();
    dbmon_bench::child::raise_open_files();
    // Processes are started from the main thread (inside `block_on`), as `Guard` requires.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let mut lines = Vec::new();
    for &clusters in &args.clusters {
        let result = runtime.block_on(run(&args, clusters))?;
        println!(
            "{}",
            serde_json::to_string_pretty(&result).unwrap_or_default()
        );
        lines.push(result);
    }
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

/// How long a dbmon process of the bench has to say it is up (20,000 clusters to load).
const STARTED_WITHIN: Duration = Duration::from_secs(120);

fn cluster_id(i: usize) -> String {
    format!("c{i:05}")
}

/// The collectors' file: coordination through `etcd`, `clusters` cheap clusters, these
/// upstreams in this order.
fn collector_yaml(args: &Args, etcd: &str, upstreams: &[String], clusters: usize) -> String {
    let list: Vec<String> = upstreams.iter().map(|u| format!("'{u}'")).collect();
    let interval = args.interval_s;
    let mut yaml = format!(
        "coordination: {{kind: etcd, endpoints: ['{etcd}'], lease_ttl: {}s, prefix: /scale}}\n\
         collector: {{upstream: [{}]}}\n\
         defaults: {{interval: {interval}s, timeout: {}ms, jitter: {interval}s}}\nclusters:\n",
        args.lease_ttl_s,
        list.join(", "),
        interval * 500,
    );
    for i in 0..clusters {
        let _ = writeln!(
            yaml,
            "  - {{id: {}, connector: misbehave, options: {{mode: ok}}}}",
            cluster_id(i)
        );
    }
    yaml
}

type Client = MonitorClient<Channel>;

async fn client(url: &str) -> Result<Client, String> {
    let client = MonitorClient::connect(url.to_string())
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    Ok(client.max_decoding_message_size(1 << 30))
}

async fn list_clusters(client: &mut Client) -> Result<Vec<proto::Cluster>, String> {
    Ok(client
        .list_clusters(proto::ListClustersRequest {})
        .await
        .map_err(|e| format!("ListClusters: {e}"))?
        .into_inner()
        .clusters)
}

async fn list_collectors(client: &mut Client) -> Result<Vec<proto::Collector>, String> {
    Ok(client
        .list_collectors(proto::ListCollectorsRequest {})
        .await
        .map_err(|e| format!("ListCollectors: {e}"))?
        .into_inner()
        .collectors)
}

/// A `google.protobuf.Timestamp` as a time.
fn time_of(seconds: i64, nanos: i32) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::new(seconds.max(0) as u64, nanos.max(0) as u32)
}

/// One `GET` over plain HTTP/1.0 on loopback (etcd's `/metrics`); the body.
fn http_get(base: &str, path: &str) -> Result<String, String> {
    let address = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").map_err(|e| e.to_string())?;
    let mut text = String::new();
    stream
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    Ok(text
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, body)| body.to_string()))
}

/// Every sample line of a Prometheus text body: `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// `field:value` lines of a Redis `INFO` answer.
fn info_fields(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.trim().split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Calls per command from `INFO commandstats`.
fn command_calls(text: &str) -> BTreeMap<String, u64> {
    info_fields(text)
        .into_iter()
        .filter_map(|(k, v)| {
            let name = k.strip_prefix("cmdstat_")?;
            let calls = v.split(',').find_map(|f| f.strip_prefix("calls="))?;
            Some((name.to_string(), calls.parse().ok()?))
        })
        .collect()
}

/// One instant of a run.
struct Snapshot {
    at: Instant,
    machine_busy_s: f64,
    collectors: Vec<procfs::Sample>,
    servers: Vec<procfs::Sample>,
    /// Reports stored, summed over every (server, collector) pair.
    stored: u64,
    buffered: u64,
    dropped: u64,
    duplicates: u64,
    assigned: Vec<(String, u32)>,
    redis_calls: BTreeMap<String, u64>,
    redis_memory: u64,
    redis_cpu_s: f64,
    redis_aof_bytes: u64,
    etcd: BTreeMap<String, f64>,
    /// Per server: how fresh its view is.
    views: Vec<View>,
}

async fn snapshot(
    clients: &mut [Client],
    collectors: &[u32],
    servers: &[u32],
    redis: &redis::Server,
    etcd_url: &str,
    interval: Duration,
) -> Result<Snapshot, String> {
    let taken = Instant::now();
    let machine_busy_s = procfs::machine_busy_seconds().map_err(|e| e.to_string())?;
    let sample = |pid: &u32| procfs::sample(Some(*pid)).map_err(|e| format!("/proc/{pid}: {e}"));
    let collector_samples = collectors.iter().map(sample).collect::<Result<_, _>>()?;
    let server_samples = servers.iter().map(sample).collect::<Result<_, _>>()?;
    let (mut stored, mut buffered, mut dropped, mut duplicates) = (0, 0, 0, 0);
    let mut assigned = BTreeMap::new();
    let mut views = Vec::new();
    for client in clients.iter_mut() {
        for c in list_collectors(client).await? {
            stored += c.reports_stored;
            duplicates += c.duplicates;
            if c.connected {
                buffered += c.buffered_reports;
                dropped += c.dropped_reports;
                assigned.insert(c.id.clone(), c.assigned);
            }
        }
        views.push(view(client, interval).await?);
    }
    let redis_calls = command_calls(&redis.run(None, &["INFO", "commandstats"]));
    let memory = info_fields(&redis.run(None, &["INFO", "memory"]));
    let cpu = info_fields(&redis.run(None, &["INFO", "cpu"]));
    let persistence = info_fields(&redis.run(None, &["INFO", "persistence"]));
    let number = |m: &HashMap<String, String>, k: &str| -> f64 {
        m.get(k).and_then(|v| v.parse().ok()).unwrap_or(0.0)
    };
    let etcd = samples(&http_get(etcd_url, "/metrics")?);
    Ok(Snapshot {
        at: taken,
        machine_busy_s,
        collectors: collector_samples,
        servers: server_samples,
        stored,
        buffered,
        dropped,
        duplicates,
        assigned: assigned.into_iter().collect(),
        redis_calls,
        redis_memory: number(&memory, "used_memory") as u64,
        redis_cpu_s: number(&cpu, "used_cpu_user") + number(&cpu, "used_cpu_sys"),
        redis_aof_bytes: number(&persistence, "aof_current_size") as u64,
        etcd,
        views,
    })
}

/// How fresh one server's view is.
#[derive(Clone, Copy, Debug)]
struct View {
    clusters: usize,
    /// Clusters whose newest report is older than two intervals and a second.
    old: usize,
    /// Age of the newest report of each cluster, seconds: median, 99th percentile, oldest.
    p50_s: f64,
    p99_s: f64,
    max_s: f64,
}

async fn view(client: &mut Client, interval: Duration) -> Result<View, String> {
    let clusters = list_clusters(client).await?;
    let now = SystemTime::now();
    let mut ages: Vec<f64> = clusters
        .iter()
        .map(|c| {
            c.last_report_at
                .as_ref()
                .map(|t| time_of(t.seconds, t.nanos))
                .map_or(f64::INFINITY, |t| {
                    now.duration_since(t).unwrap_or_default().as_secs_f64()
                })
        })
        .collect();
    ages.sort_by(f64::total_cmp);
    let limit = (interval * 2 + Duration::from_secs(1)).as_secs_f64();
    let pct = |p: f64| {
        ages.get(((p / 100.0) * ages.len().saturating_sub(1) as f64).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    Ok(View {
        clusters: clusters.len(),
        old: ages.iter().filter(|a| **a > limit).count(),
        p50_s: pct(50.0),
        p99_s: pct(99.0),
        max_s: pct(100.0),
    })
}

fn view_text(views: &[View]) -> String {
    views
        .iter()
        .map(|v| {
            format!(
                "{} clusters, {} older than 2 intervals, age p50 {:.1} s p99 {:.1} s max {:.1} s",
                v.clusters, v.old, v.p50_s, v.p99_s, v.max_s
            )
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The etcd counters this bench reports (those this etcd version exposes).
fn etcd_interesting(name: &str) -> bool {
    [
        "etcd_mvcc_put_total",
        "etcd_debugging_mvcc_put_total",
        "etcd_mvcc_txn_total",
        "etcd_debugging_mvcc_txn_total",
        "etcd_mvcc_range_total",
        "etcd_mvcc_delete_total",
        "etcd_server_proposals_committed_total",
        "etcd_server_proposals_applied_total",
        "etcd_debugging_lease_renewed_total",
        "etcd_debugging_lease_granted_total",
        "etcd_debugging_lease_revoked_total",
        "etcd_disk_wal_fsync_duration_seconds_count",
        "process_cpu_seconds_total",
    ]
    .contains(&name)
        || (name.starts_with("grpc_server_handled_total") && name.contains("Lease"))
        || (name.starts_with("grpc_server_msg_received_total")
            && (name.contains("LeaseKeepAlive") || name.contains("Watch")))
        || (name.starts_with("grpc_server_handled_total") && name.contains("KV"))
}

async fn run(args: &Args, n: usize) -> Result<serde_json::Value, String> {
    let etcd = etcd::Cluster::start("scale", 1, &[]).await;
    let etcd_url = etcd.endpoints()[0].clone();
    let redis = redis::Server::start(&["--appendonly", "yes", "--appendfsync", &args.appendfsync]);
    let redis_pid: u32 = info_fields(&redis.run(None, &["INFO", "server"]))
        .get("process_id")
        .and_then(|p| p.parse().ok())
        .ok_or("redis: no process_id")?;
    let baseline = info_fields(&redis.run(None, &["INFO", "memory"]))
        .get("used_memory")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let store = format!(
        "store: {{kind: redis, url: 'redis://127.0.0.1:{}', history: {}}}\nclusters: []\n",
        redis.port, args.history
    );
    let mut servers = Vec::new();
    let mut urls = Vec::new();
    for i in 0..args.servers {
        let (guard, url) = start_dbmon(
            "scale",
            &format!("server{i}"),
            STARTED_WITHIN,
            &store,
            &["--role", "server"],
            "dbmon serving on ",
            &args.log_level,
        )?;
        servers.push(guard);
        urls.push(url);
    }
    let mut collectors = Vec::new();
    let started = Instant::now();
    for i in 0..args.collectors {
        // Half the collectors push to the first server first, the rest to the second.
        let mut upstreams = urls.clone();
        upstreams.rotate_left(i % urls.len());
        let config = collector_yaml(args, &etcd_url, &upstreams, n);
        let id = format!("k{}", i + 1);
        let (guard, _) = start_dbmon(
            "scale",
            &id,
            STARTED_WITHIN,
            &config,
            &["--role", "collector", "--collector-id", &id],
            "dbmon collector ",
            &args.log_level,
        )?;
        collectors.push((id, guard));
    }
    let result = measure(
        args,
        n,
        &etcd_url,
        &redis,
        redis_pid,
        baseline,
        &urls,
        &servers,
        &mut collectors,
        started,
    )
    .await;
    for (name, guard) in collectors.iter().map(|(id, g)| (id.clone(), g)).chain(
        servers
            .iter()
            .enumerate()
            .map(|(i, g)| (format!("server{i}"), g)),
    ) {
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
    drop(collectors);
    drop(servers);
    drop(redis);
    drop(etcd);
    result
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    args: &Args,
    n: usize,
    etcd_url: &str,
    redis: &redis::Server,
    redis_pid: u32,
    baseline: u64,
    urls: &[String],
    servers: &[Guard],
    collectors: &mut [(String, Guard)],
    started: Instant,
) -> Result<serde_json::Value, String> {
    let interval = Duration::from_secs(args.interval_s);
    let mut clients = Vec::new();
    for url in urls {
        clients.push(client(url).await?);
    }
    // Warm-up: every cluster has a report on the first server, then `warmup_seconds` more.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let clusters = list_clusters(&mut clients[0]).await?;
        let with = clusters
            .iter()
            .filter(|c| c.last_report_at.is_some())
            .count();
        if with == n {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "only {with} of {n} clusters have a report after 300 s"
            ));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let first_reports_s = started.elapsed().as_secs_f64();
    eprintln!("{n}: every cluster has a report {first_reports_s:.1} s after the collectors' start");
    tokio::time::sleep(Duration::from_secs(args.warmup_seconds)).await;

    let collector_pids: Vec<u32> = collectors.iter().map(|(_, g)| g.pid()).collect();
    let server_pids: Vec<u32> = servers.iter().map(Guard::pid).collect();
    let a = snapshot(
        &mut clients,
        &collector_pids,
        &server_pids,
        redis,
        etcd_url,
        interval,
    )
    .await?;
    let mut during = Vec::new();
    let window_end = Instant::now() + Duration::from_secs(args.seconds);
    while Instant::now() + Duration::from_secs(10) < window_end {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let mut views = Vec::new();
        for client in clients.iter_mut() {
            views.push(view(client, interval).await?);
        }
        eprintln!(
            "  {n}: during the window, per server: {}",
            view_text(&views)
        );
        during.push(views);
    }
    tokio::time::sleep(window_end.saturating_duration_since(Instant::now())).await;
    let b = snapshot(
        &mut clients,
        &collector_pids,
        &server_pids,
        redis,
        etcd_url,
        interval,
    )
    .await?;
    let window_s = b.at.duration_since(a.at).as_secs_f64();
    let reports = b.stored - a.stored;
    let cores = |x: &procfs::Sample, y: &procfs::Sample| (y.cpu_seconds - x.cpu_seconds) / window_s;
    let mib = |kib: u64| kib as f64 / 1024.0;
    let collector_cores: Vec<f64> = a
        .collectors
        .iter()
        .zip(&b.collectors)
        .map(|(x, y)| cores(x, y))
        .collect();
    let server_cores: Vec<f64> = a
        .servers
        .iter()
        .zip(&b.servers)
        .map(|(x, y)| cores(x, y))
        .collect();
    let redis_cores = (b.redis_cpu_s - a.redis_cpu_s) / window_s;
    let etcd_delta: BTreeMap<String, f64> = b
        .etcd
        .iter()
        .filter(|(k, _)| etcd_interesting(k))
        .map(|(k, v)| {
            (
                k.clone(),
                (v - a.etcd.get(k).copied().unwrap_or(0.0)) / window_s,
            )
        })
        .filter(|(_, v)| *v != 0.0)
        .collect();
    let etcd_cores = etcd_delta
        .get("process_cpu_seconds_total")
        .copied()
        .unwrap_or(0.0);
    let etcd_rss_mib = b
        .etcd
        .get("process_resident_memory_bytes")
        .copied()
        .unwrap_or(0.0)
        / (1 << 20) as f64;
    let commands: BTreeMap<String, f64> = b
        .redis_calls
        .iter()
        .map(|(k, v)| {
            let delta = v - a.redis_calls.get(k).copied().unwrap_or(0);
            (k.clone(), delta as f64 / reports.max(1) as f64)
        })
        .filter(|(_, v)| *v > 0.0)
        .collect();
    let other_cores = (b.machine_busy_s - a.machine_busy_s) / window_s
        - collector_cores.iter().sum::<f64>()
        - server_cores.iter().sum::<f64>()
        - redis_cores
        - etcd_cores;
    let redis_sample = procfs::sample(Some(redis_pid)).map_err(|e| e.to_string())?;
    // One cluster's keys.
    let id = cluster_id(0);
    let key_usage: BTreeMap<String, String> = ["reports", "schemas", "meta", "info"]
        .iter()
        .map(|k| {
            let key = format!("dbmon:{{{id}}}:{k}");
            (
                k.to_string(),
                redis.run(None, &["MEMORY", "USAGE", &key, "SAMPLES", "0"]),
            )
        })
        .collect();
    let xlen = redis.run(None, &["XLEN", &format!("dbmon:{{{id}}}:reports")]);
    let entry_bytes = stream_entry_bytes(redis.port, &format!("dbmon:{{{id}}}:reports"));
    println!("  {id}: the `r` field of each stream entry, bytes: {entry_bytes:?}");
    let notices_len = redis.run(None, &["XLEN", "dbmon:notices"]);
    let notices_usage = redis.run(None, &["MEMORY", "USAGE", "dbmon:notices", "SAMPLES", "0"]);
    let per_cluster = (b.redis_memory as f64 - baseline as f64) / n as f64;
    let per_report_added = (b.redis_memory as f64 - a.redis_memory as f64) / reports.max(1) as f64;
    let aof_per_report =
        (b.redis_aof_bytes as f64 - a.redis_aof_bytes as f64) / reports.max(1) as f64;

    println!(
        "{n} clusters / {} s, {} collectors, {} servers: {:.1} reports/s stored (expected {:.1}) over {window_s:.1} s; \
         buffered {} dropped {} duplicates {}; assigned {:?}",
        args.interval_s,
        collectors.len(),
        servers.len(),
        reports as f64 / window_s,
        n as f64 / args.interval_s as f64,
        b.buffered,
        b.dropped - a.dropped,
        b.duplicates - a.duplicates,
        b.assigned
    );
    println!(
        "  cores: collectors {:?}, servers {:?}, redis {redis_cores:.3}, etcd {etcd_cores:.3}, others {other_cores:.2}",
        round(&collector_cores),
        round(&server_cores)
    );
    println!(
        "  peak RSS MiB: collectors {:?}, servers {:?}, redis {:.1}, etcd (RSS now) {etcd_rss_mib:.1}",
        b.collectors
            .iter()
            .map(|s| mib(s.peak_rss_kib).round())
            .collect::<Vec<_>>(),
        b.servers
            .iter()
            .map(|s| mib(s.peak_rss_kib).round())
            .collect::<Vec<_>>(),
        mib(redis_sample.peak_rss_kib)
    );
    println!(
        "  redis: {per_cluster:.0} B per cluster (used_memory {} − empty {baseline}), {per_report_added:.0} B per report added, \
         AOF {aof_per_report:.0} B per report; {id}: XLEN {xlen}, MEMORY USAGE {key_usage:?}; notices XLEN {notices_len}, {notices_usage} B",
        b.redis_memory
    );
    println!("  redis commands per report: {commands:?}");
    println!("  etcd per second: {etcd_delta:?}");
    println!(
        "  servers' views at the start of the window: {}",
        view_text(&a.views)
    );
    println!(
        "  servers' views at the end of the window: {}",
        view_text(&b.views)
    );
    let present: Vec<&String> = b
        .etcd
        .keys()
        .filter(|k| {
            k.contains("put_total")
                || k.contains("proposals_committed")
                || k.contains("lease_renewed")
                || (k.contains("LeaseKeepAlive") && !k.contains("grpc_code=")
                    || k.contains("grpc_code=\"OK\",grpc_method=\"LeaseKeepAlive\""))
        })
        .collect();
    println!("  etcd counters present: {present:?}");
    let puts_before_window: BTreeMap<&String, f64> = a
        .etcd
        .iter()
        .filter(|(k, _)| {
            k.contains("put_total") || k.contains("txn_total") || k.contains("proposals_committed")
        })
        .map(|(k, v)| (k, *v))
        .collect();
    println!("  etcd totals from its start to the window (the joins): {puts_before_window:?}");

    // The rebalance: SIGKILL the first collector; its clusters (as its server lists them) must
    // each get a report collected after the kill.
    let (killed, guard) = &collectors[0];
    let mut owned: HashSet<String> = HashSet::new();
    for client in clients.iter_mut() {
        for c in list_collectors(client).await? {
            if &c.id == killed && c.connected {
                owned.extend(c.clusters);
            }
        }
    }
    let moved = owned.len();
    let etcd_before = samples(&http_get(etcd_url, "/metrics")?);
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(guard.pid() as libc::pid_t, libc::SIGKILL) };
    let killed_at = SystemTime::now();
    let kill_instant = Instant::now();
    let mut back: HashMap<String, f64> = HashMap::new();
    let mut back_per_server: Vec<Option<f64>> = vec![None; clients.len()];
    let limit = Duration::from_secs(args.rebalance_limit_seconds);
    let mut sweeps = 0u32;
    while kill_instant.elapsed() < limit && back_per_server.iter().any(Option::is_none) {
        for (s, client) in clients.iter_mut().enumerate() {
            let clusters = list_clusters(client).await?;
            let elapsed = kill_instant.elapsed().as_secs_f64();
            let mut fresh = 0;
            for c in clusters.iter().filter(|c| owned.contains(&c.id)) {
                if c.last_report_at
                    .as_ref()
                    .map(|t| time_of(t.seconds, t.nanos))
                    .is_some_and(|t| t > killed_at)
                {
                    fresh += 1;
                    back.entry(c.id.clone()).or_insert(elapsed);
                }
            }
            if fresh == moved && back_per_server[s].is_none() {
                back_per_server[s] = Some(elapsed);
            }
        }
        sweeps += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let etcd_after = samples(&http_get(etcd_url, "/metrics")?);
    let etcd_rebalance: BTreeMap<String, f64> = etcd_after
        .iter()
        .filter(|(k, _)| {
            etcd_interesting(k)
                || k.starts_with("etcd_mvcc")
                || k.starts_with("etcd_debugging_mvcc_put")
        })
        .map(|(k, v)| (k.clone(), v - etcd_before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, v)| *v != 0.0)
        .collect();
    println!("  etcd during the rebalance (totals): {etcd_rebalance:?}");
    let mut times: Vec<f64> = back.values().copied().collect();
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| -> f64 {
        if times.is_empty() {
            return f64::NAN;
        }
        times[((p / 100.0) * (times.len() - 1) as f64).round() as usize]
    };
    // Who collects them now: the newest report of a few of them.
    let mut new_owners: BTreeMap<String, usize> = BTreeMap::new();
    for id in owned.iter().take(200) {
        let reports = clients[0]
            .get_reports(proto::GetReportsRequest {
                cluster_id: id.clone(),
                limit: 1,
                since: None,
            })
            .await
            .map_err(|e| format!("GetReports: {e}"))?
            .into_inner()
            .reports;
        let by = reports
            .first()
            .map_or("none".into(), |r| r.collector.clone());
        *new_owners.entry(by).or_default() += 1;
    }
    println!(
        "  rebalance after SIGKILL of {killed} ({moved} clusters, lease_ttl {} s): all back after {:?} s per server; \
         first {:.1} s, p50 {:.1} s, p99 {:.1} s, last {:.1} s ({} of {moved} back, {sweeps} sweeps); newest report of 200 of them by {new_owners:?}",
        args.lease_ttl_s,
        back_per_server,
        pct(0.0),
        pct(50.0),
        pct(99.0),
        pct(100.0),
        times.len()
    );

    Ok(serde_json::json!({
        "bench": "scale",
        "clusters": n,
        "interval_s": args.interval_s,
        "collectors": collectors.len(),
        "servers": servers.len(),
        "lease_ttl_s": args.lease_ttl_s,
        "history": args.history,
        "appendfsync": args.appendfsync,
        "first_reports_s": first_reports_s,
        "window_s": window_s,
        "reports_per_s": reports as f64 / window_s,
        "expected_per_s": n as f64 / args.interval_s as f64,
        "buffered_end": b.buffered,
        "dropped": b.dropped - a.dropped,
        "duplicates": b.duplicates - a.duplicates,
        "assigned": b.assigned,
        "collector_cores": collector_cores,
        "server_cores": server_cores,
        "redis_cores": redis_cores,
        "etcd_cores": etcd_cores,
        "other_cores": other_cores,
        "collector_peak_rss_mib": b.collectors.iter().map(|s| mib(s.peak_rss_kib)).collect::<Vec<_>>(),
        "server_peak_rss_mib": b.servers.iter().map(|s| mib(s.peak_rss_kib)).collect::<Vec<_>>(),
        "redis_peak_rss_mib": mib(redis_sample.peak_rss_kib),
        "etcd_rss_mib": etcd_rss_mib,
        "redis_used_memory": b.redis_memory,
        "redis_empty_used_memory": baseline,
        "redis_bytes_per_cluster": per_cluster,
        "redis_bytes_per_report_added": per_report_added,
        "aof_bytes_per_report": aof_per_report,
        "one_cluster_xlen": xlen,
        "one_cluster_memory_usage": key_usage,
        "notices_xlen": notices_len,
        "notices_memory_usage": notices_usage,
        "redis_commands_per_report": commands,
        "etcd_per_s": etcd_delta,
        "server_views_start": a.views.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>(),
        "server_views_end": b.views.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>(),
        "server_views_during": during.iter().map(|vs| vs.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "etcd_counters_present": present,
        "etcd_totals_before_window": puts_before_window,
        "killed": killed,
        "moved": moved,
        "rebalanced_s_per_server": back_per_server,
        "rebalance_first_s": pct(0.0),
        "rebalance_p50_s": pct(50.0),
        "rebalance_p99_s": pct(99.0),
        "rebalance_last_s": pct(100.0),
        "rebalance_back": times.len(),
        "new_owners_of_200": new_owners,
        "etcd_rebalance_totals": etcd_rebalance,
        "one_cluster_entry_bytes": entry_bytes,
    }))
}

/// The length of the `r` field (the packed record) of each entry of a stream, oldest first,
/// through `redis-cli --raw` (an entry is id, then field/value pairs).
fn stream_entry_bytes(port: u16, key: &str) -> Vec<usize> {
    let Ok(out) = std::process::Command::new("redis-cli")
        .args(["-p", &port.to_string(), "--no-raw", "XRANGE", key, "-", "+"])
        .output()
    else {
        return Vec::new();
    };
    // --no-raw quotes each bulk string with escapes; the length of the unescaped value is
    // what matters: count the bytes of the value after a line ending in "r".
    let text = String::from_utf8_lossy(&out.stdout);
    let mut sizes = Vec::new();
    let mut after_r = false;
    for line in text.lines() {
        let value = strip_numbering(line);
        if after_r {
            sizes.push(unescaped_len(value));
            after_r = false;
        } else if value == "\"r\"" {
            after_r = true;
        }
    }
    sizes
}

/// A line of redis-cli's nested listing without its `1) 2) ` numbering.
fn strip_numbering(mut line: &str) -> &str {
    loop {
        line = line.trim_start();
        let digits = line.bytes().take_while(u8::is_ascii_digit).count();
        match line[digits..].strip_prefix(") ") {
            Some(rest) if digits > 0 => line = rest,
            _ => return line.trim_end(),
        }
    }
}

/// The byte length of a string redis-cli printed quoted with `\xNN`, `\n`, ... escapes.
fn unescaped_len(quoted: &str) -> usize {
    let inner = quoted.trim_matches('"').as_bytes();
    let (mut i, mut n) = (0, 0);
    while i < inner.len() {
        if inner[i] == b'\\' && i + 1 < inner.len() {
            i += if inner[i + 1] == b'x' { 4 } else { 2 };
        } else {
            i += 1;
        }
        n += 1;
    }
    n
}

fn round(v: &[f64]) -> Vec<f64> {
    v.iter().map(|x| (x * 1000.0).round() / 1000.0).collect()
}
