//! dbmon's report store, file against memory, through the host's own `Store`: N clusters,
//! each a tokio task recording reports of `--series` values (a fixed schema, values moving
//! like a scrape's) through `ClusterSlot::record`, as fast as the store takes them or every
//! `--interval-ms`. Per store it prints collections per second, CPU per report (the
//! process's utime + stime, which includes building each `Collected`; the build alone is
//! measured too), disk bytes written per report (`/proc/self/io` `write_bytes`), and for
//! the file store the file's size per stored report against the in-memory packed size.
//!
//! `--restart DIR` only opens the file store left in DIR by `--keep-data` and measures
//! `Store::open` (which reads every retained report back into memory) and the RSS after.

use clap::Parser;
use dbmon::store::{
    ClusterInfo, Collected, Collection, LabelDef, Options, Outcome, Report, Retention, SchemaParts,
    SeriesDef, Span, Store,
};
use dbmon_connector_api::Status;
use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

#[derive(Parser, Debug)]
#[command(about = "dbmon's file store against its memory store")]
struct Args {
    /// Stores to run, one after the other: memory, file.
    #[arg(long, default_value = "memory,file")]
    stores: String,
    #[arg(long, default_value_t = 1000)]
    clusters: usize,
    #[arg(long, default_value_t = 3000)]
    series: usize,
    /// Percentage of the series whose value moves from one report to the next.
    #[arg(long, default_value_t = 37)]
    changing_percent: u64,
    /// Reports each cluster records.
    #[arg(long, default_value_t = 120)]
    rounds: u64,
    /// Time between one cluster's reports; 0: as fast as the store takes them.
    #[arg(long, default_value_t = 0)]
    interval_ms: u64,
    /// Reports kept per cluster.
    #[arg(long, default_value_t = 100)]
    history: usize,
    /// Tokio worker threads (the host runs two).
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Where the file store's temporary folder goes.
    #[arg(long, default_value = "/tmp")]
    dir: PathBuf,
    /// Leave the file store's folder (for --restart) instead of deleting it.
    #[arg(long)]
    keep_data: bool,
    /// Only open the file store in this folder and measure the restart.
    #[arg(long)]
    restart: Option<PathBuf>,
}

/// A small xorshift generator: the same values on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One cluster's series moving like a scrape's (as collect_load's targets move them): a
/// quarter zeros, counters growing by 1 to 16, gauges drifting by 0.1 %.
struct Series {
    rng: Rng,
    values: Vec<f64>,
    moving: Vec<u8>,
}

impl Series {
    fn new(n: usize, changing_percent: u64, seed: u64) -> Series {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut values = Vec::with_capacity(n);
        let mut moving = Vec::with_capacity(n);
        for _ in 0..n {
            let r = rng.next() % 100;
            if r < 26 {
                values.push(0.0);
                moving.push(0);
            } else if r < 26 + changing_percent {
                if rng.next().is_multiple_of(2) {
                    values.push((rng.next() % 1_000_000_000) as f64);
                    moving.push(1);
                } else {
                    values.push(rng.unit() * 10f64.powi((rng.next() % 6) as i32));
                    moving.push(2);
                }
            } else {
                values.push((rng.next() % 100_000) as f64);
                moving.push(0);
            }
        }
        Series {
            rng,
            values,
            moving,
        }
    }

    fn step(&mut self) {
        for (v, m) in self.values.iter_mut().zip(&self.moving) {
            match m {
                1 => *v += (1 + self.rng.next() % 16) as f64,
                2 => *v *= 1.0 + (self.rng.unit() - 0.5) * 0.002,
                _ => {}
            }
        }
    }
}

/// Bytes of the XOR packing of `values` against `base` (`host/src/store/packed.rs`).
fn packed_len(values: &[f64], base: &[f64]) -> usize {
    let mut n = values.len().div_ceil(8);
    for (o, b) in values.iter().zip(base) {
        let x = o.to_bits() ^ b.to_bits();
        if x != 0 {
            n += 1 + 8 - (x.leading_zeros() / 8) as usize - (x.trailing_zeros() / 8) as usize;
        }
    }
    n
}

/// A schema of `n` series like a CockroachDB scrape's: names of ~30 bytes, a label each.
fn schema(n: usize) -> SchemaParts {
    let mut parts = SchemaParts::default();
    let families = [
        "sql_exec_latency_bucket",
        "rocksdb_block_cache_hits",
        "raft_process_commandcommit_latency",
        "txn_restarts_serializable",
        "sys_cpu_user_ns",
    ];
    let push = |text: &mut String, s: &str| {
        let span = Span::new(text.len() as u32, s.len() as u32);
        text.push_str(s);
        span
    };
    for i in 0..n {
        let name = push(
            &mut parts.text,
            &format!("{}_{}", families[i % families.len()], i / families.len()),
        );
        let key = push(&mut parts.text, "le");
        let value = push(&mut parts.text, &format!("{}", i % 64));
        parts.labels.push(LabelDef { key, value });
        parts.series.push(SeriesDef {
            name,
            labels: Span::new(parts.labels.len() as u32 - 1, 1),
            ..SeriesDef::default()
        });
    }
    parts
}

fn collection(sequence: u64, parts: &SchemaParts, values: &[f64]) -> Collection {
    let collected = Collected::new(
        Status::Healthy,
        Vec::new(),
        parts.clone(),
        values.into(),
        Box::default(),
    )
    .expect("a well-formed report");
    Collection {
        sequence,
        started_at: SystemTime::now(),
        duration: Duration::from_millis(3),
        outcome: Outcome::Collected(collected),
        origin: None,
    }
}

fn info(i: usize) -> ClusterInfo {
    ClusterInfo {
        id: format!("cluster-{i:04}").into(),
        connector: "cockroachdb".into(),
        endpoints: vec![format!("10.0.{}.{}:8080", i / 256, i % 256)],
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
    }
}

fn proc_field(file: &str, key: &str) -> u64 {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn write_bytes() -> u64 {
    proc_field("/proc/self/io", "write_bytes:")
}

/// VmRSS and VmHWM, KiB.
fn rss() -> (u64, u64) {
    (
        proc_field("/proc/self/status", "VmRSS:"),
        proc_field("/proc/self/status", "VmHWM:"),
    )
}

/// This process's user + system CPU time.
fn cpu() -> Duration {
    let sample = dbmon_bench::procfs::sample(None).expect("/proc/self is readable");
    Duration::from_secs_f64(sample.cpu_seconds)
}

fn file_size(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir.join(dbmon::store::FILE_NAME)).unwrap();
    (meta.len(), meta.blocks() * 512)
}

fn options(dir: Option<&Path>, history: usize) -> Options {
    Options {
        path: dir.map(Path::to_owned),
        retention: Retention {
            history,
            max_age: None,
        },
    }
}

/// The in-memory size of one stored report beyond its values: the history's entry (the
/// report's head and its `Packed`) and the `Encoding` each report holds behind an `Arc`.
fn memory_overhead() -> usize {
    std::mem::size_of::<Report>() + 24 + 2 * std::mem::size_of::<usize>() + 48
}

fn main() {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers)
        .enable_all()
        .build()
        .unwrap();
    if let Some(dir) = &args.restart {
        restart(&args, dir);
        return;
    }
    let parts = Arc::new(schema(args.series));
    // What the memory store's packing takes per older report, from a sample of clusters.
    let (mut xor, mut samples) = (0usize, 0usize);
    for c in 0..10 {
        let mut s = Series::new(args.series, args.changing_percent, c);
        for _ in 0..50 {
            let before = s.values.clone();
            s.step();
            xor += packed_len(&before, &s.values);
            samples += 1;
        }
    }
    let xor = xor as f64 / samples as f64;
    // The cost of making one `Collected` (the connector's side), outside any store.
    let t = cpu();
    let mut s = Series::new(args.series, args.changing_percent, 99);
    for i in 0..2000 {
        s.step();
        std::hint::black_box(collection(i, &parts, &s.values));
    }
    let build_us = (cpu() - t).as_secs_f64() * 1e6 / 2000.0;
    println!(
        "{} clusters × {} series ({} % moving), {} reports each, interval {} ms, history {}: \
         packed values {:.0} bytes per older report in memory (+ {} bytes of report head), \
         making a Collected {:.1} µs CPU",
        args.clusters,
        args.series,
        args.changing_percent,
        args.rounds,
        args.interval_ms,
        args.history,
        xor,
        memory_overhead(),
        build_us,
    );
    for kind in args.stores.split(',') {
        let dir = (kind == "file").then(|| {
            let dir = args.dir.join(format!("store-file-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            dir
        });
        let result = rt.block_on(run(&args, &parts, dir.as_deref(), kind, xor, build_us));
        println!("{result}");
        if let Some(dir) = dir {
            if args.keep_data {
                println!("file store left in {}", dir.display());
            } else {
                std::fs::remove_dir_all(&dir).unwrap();
            }
        }
    }
}

async fn run(
    args: &Args,
    parts: &Arc<SchemaParts>,
    dir: Option<&Path>,
    kind: &str,
    xor: f64,
    build_us: f64,
) -> serde_json::Value {
    let store = Arc::new(
        Store::open(
            &options(dir, args.history),
            (0..args.clusters).map(info),
            false,
        )
        .expect("store"),
    );
    let (rss0, _) = rss();
    let (bytes0, cpu0, t0) = (write_bytes(), cpu(), Instant::now());
    let mut tasks = Vec::new();
    for c in 0..args.clusters {
        let slot = store.cluster(&info(c).id).unwrap();
        let parts = Arc::clone(parts);
        let (series, changing, rounds) = (args.series, args.changing_percent, args.rounds);
        let interval = Duration::from_millis(args.interval_ms);
        tasks.push(tokio::spawn(async move {
            let mut s = Series::new(series, changing, c as u64);
            let mut ticker = (!interval.is_zero()).then(|| {
                // Spread over the interval, as the host's jitter does.
                let start = tokio::time::Instant::now() + interval.mul_f64(c as f64 / 1000.0 % 1.0);
                tokio::time::interval_at(start, interval)
            });
            let mut lag = Duration::ZERO;
            for seq in 1..=rounds {
                if let Some(t) = &mut ticker {
                    let at = t.tick().await;
                    lag = lag.max(at.elapsed());
                }
                s.step();
                slot.record(collection(seq, &parts, &s.values))
                    .await
                    .expect("recorded");
                if ticker.is_none() {
                    tokio::task::yield_now().await;
                }
            }
            lag
        }));
    }
    let mut max_lag = Duration::ZERO;
    for t in tasks {
        max_lag = max_lag.max(t.await.unwrap());
    }
    let wall = t0.elapsed();
    let (cpu_used, written) = (cpu() - cpu0, write_bytes() - bytes0);
    let (rss1, hwm) = rss();
    let reports = args.clusters as u64 * args.rounds;
    let stored: usize = store.clusters().iter().map(|s| s.stored()).sum();
    let t_close = Instant::now();
    drop(store);
    let close = t_close.elapsed();
    let per = |x: f64| x / reports as f64;
    let cpu_us = per(cpu_used.as_secs_f64() * 1e6);
    let memory_per_report = xor + memory_overhead() as f64;
    let mut out = serde_json::json!({
        "store": kind, "clusters": args.clusters, "series": args.series,
        "rounds": args.rounds, "interval_ms": args.interval_ms, "reports": reports,
        "seconds": wall.as_secs_f64(), "reports_per_s": reports as f64 / wall.as_secs_f64(),
        "cpu_us_per_report": cpu_us, "cpu_us_per_report_less_build": cpu_us - build_us,
        "cores": cpu_used.as_secs_f64() / wall.as_secs_f64(),
        "write_bytes_per_report": per(written as f64), "stored": stored,
        "max_tick_lag_ms": max_lag.as_secs_f64() * 1e3,
        "rss_kib_before": rss0, "rss_kib_after": rss1, "hwm_kib": hwm,
        "memory_packed_bytes_per_report": xor, "memory_bytes_per_report": memory_per_report,
        "close_s": close.as_secs_f64(),
    });
    let mut line = format!(
        "{kind:6}: {reports} reports in {:.1} s = {:.0}/s ({:.2} cores), CPU {cpu_us:.1} µs \
         per report ({:.1} less the build), written {:.2} KB per report, {stored} stored, \
         max tick lag {:.0} ms, RSS {:.0} → {:.0} MiB",
        wall.as_secs_f64(),
        reports as f64 / wall.as_secs_f64(),
        cpu_used.as_secs_f64() / wall.as_secs_f64(),
        cpu_us - build_us,
        per(written as f64) / 1000.0,
        max_lag.as_secs_f64() * 1e3,
        rss0 as f64 / 1024.0,
        rss1 as f64 / 1024.0,
    );
    if let Some(dir) = dir {
        let (len, allocated) = file_size(dir);
        let per_stored = allocated as f64 / stored as f64;
        line += &format!(
            "; file {:.1} MiB ({:.1} allocated) = {:.0} bytes per stored report, {:.2}× the \
             packed values in memory ({:.0}), {:.2}× with the report head ({:.0})",
            len as f64 / 1048576.0,
            allocated as f64 / 1048576.0,
            per_stored,
            per_stored / xor,
            xor,
            per_stored / memory_per_report,
            memory_per_report,
        );
        out["file_bytes"] = len.into();
        out["allocated_bytes"] = allocated.into();
        out["disk_bytes_per_stored_report"] = per_stored.into();
        out["disk_to_memory_packed"] = (per_stored / xor).into();
        out["disk_to_memory_with_head"] = (per_stored / memory_per_report).into();
    }
    println!("{line}");
    out
}

fn restart(args: &Args, dir: &Path) {
    let (rss0, _) = rss();
    let t = Instant::now();
    let c0 = cpu();
    let store = Store::open(
        &options(Some(dir), args.history),
        (0..args.clusters).map(info),
        false,
    )
    .expect("store");
    let opened = t.elapsed();
    let cpu_used = cpu() - c0;
    let (rss1, hwm) = rss();
    let stored: usize = store.clusters().iter().map(|s| s.stored()).sum();
    let (len, _) = file_size(dir);
    println!(
        "restart: Store::open read {stored} reports of {} clusters back from {:.1} MiB in \
         {:.2} s ({:.2} s CPU, {:.1} µs per report); RSS {:.0} → {:.0} MiB (VmHWM {:.0}), \
         {:.0} bytes per stored report",
        args.clusters,
        len as f64 / 1048576.0,
        opened.as_secs_f64(),
        cpu_used.as_secs_f64(),
        opened.as_secs_f64() * 1e6 / stored.max(1) as f64,
        rss0 as f64 / 1024.0,
        rss1 as f64 / 1024.0,
        hwm as f64 / 1024.0,
        (rss1 - rss0) as f64 * 1024.0 / stored.max(1) as f64,
    );
    println!(
        "{}",
        serde_json::json!({
            "restart_s": opened.as_secs_f64(), "cpu_s": cpu_used.as_secs_f64(),
            "stored": stored, "file_bytes": len, "rss_kib_before": rss0,
            "rss_kib_after": rss1, "hwm_kib": hwm,
        })
    );
    drop(store);
}
