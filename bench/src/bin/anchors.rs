//! Side by side with Prometheus and vmagent: serves N loopback CockroachDB-like targets from
//! this process, then runs each tool alone against them, in turn — Prometheus and vmagent from
//! Debian's packages, and the release `dbmon serve` with the `cockroachdb` and with the
//! `prometheus` connector — and measures its CPU per collection and its peak RSS.
//!
//! A collection is one `/_status/vars` request the targets served (counted here, so the unit
//! is the same for every tool). CPU is the tool's `utime + stime` (with its children's) over a
//! window after a warm-up; peak RSS is its `VmHWM`, read at the end of the window or, with
//! `--intervals-for-rss K`, once K intervals have passed since the tool started (dbmon keeps
//! 100 reports per cluster by default: K = 100 fills every history).
//!
//! `apt-get install -y prometheus victoria-metrics`,
//! `cargo build --release -p dbmon -p dbmon-bench -p dbmon-connector-prometheus -p dbmon-connector-cockroachdb`,
//! then `target/release/anchors --targets 200 --interval-secs 5 --window-secs 30`.

use clap::Parser;
use dbmon_bench::{
    body::{self, Template},
    child::{self, Guard, ScratchDir},
    procfs,
    sink::Sink,
    targets::{self, Served, Targets},
};
use dbmon_proto as proto;
use dbmon_test_support::{Host, built_library};
use std::{
    fmt::Write as _,
    path::PathBuf,
    time::{Duration, Instant},
};

/// CPU per collection and peak RSS of Prometheus, vmagent and dbmon on the same targets.
#[derive(Debug, Parser)]
#[deny(missing_docs)]
struct Args {
    /// Loopback targets, each on its own port.
    #[arg(long, default_value_t = 200)]
    targets: usize,
    /// Scrape interval of every tool (its scrape timeout too).
    #[arg(long, default_value_t = 5)]
    interval_secs: u64,
    /// Length of the CPU window.
    #[arg(long, default_value_t = 30)]
    window_secs: u64,
    /// Time between a tool's start and its window. By default, three intervals (at least 10 s).
    #[arg(long)]
    warmup_secs: Option<u64>,
    /// Keep each tool running until this many intervals have passed since its start (plus one,
    /// for the start offsets) before reading its peak RSS. 0: read it at the window's end.
    #[arg(long, default_value_t = 0)]
    intervals_for_rss: u64,
    /// The tools, run in this order, each alone.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "prometheus,vmagent,dbmon-cockroachdb,dbmon-prometheus"
    )]
    tools: Vec<Tool>,
    /// Percent of the non-zero values that change between two scrapes (0: static bodies).
    #[arg(long, default_value_t = 50)]
    changing_percent: u32,
    /// Worker threads of this process, which serves the targets.
    #[arg(long, default_value_t = 1)]
    target_threads: usize,
    /// The Prometheus binary (Debian: `apt-get install prometheus`).
    #[arg(long, default_value = "/usr/bin/prometheus")]
    prometheus_bin: PathBuf,
    /// The vmagent binary (Debian: `apt-get install victoria-metrics`).
    #[arg(long, default_value = "/usr/bin/vmagent")]
    vmagent_bin: PathBuf,
    /// dbmon's log filter (`--log-level` of `dbmon serve`).
    #[arg(long, default_value = "info")]
    log_level: String,
}

impl Args {
    fn interval(&self) -> Duration {
        Duration::from_secs(self.interval_secs)
    }

    fn warmup(&self) -> Duration {
        Duration::from_secs(self.warmup_secs.unwrap_or((3 * self.interval_secs).max(10)))
    }
}

/// A tool to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Tool {
    /// Prometheus (`/usr/bin/prometheus`), TSDB in a temp folder.
    Prometheus,
    /// vmagent (`/usr/bin/vmagent`), remote-writing to a sink that discards.
    Vmagent,
    /// `dbmon serve`, one `cockroachdb` cluster per target.
    DbmonCockroachdb,
    /// `dbmon serve`, one `prometheus` cluster per target.
    DbmonPrometheus,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Prometheus => "prometheus",
            Tool::Vmagent => "vmagent",
            Tool::DbmonCockroachdb => "dbmon-cockroachdb",
            Tool::DbmonPrometheus => "dbmon-prometheus",
        }
    }

    fn is_dbmon(self) -> bool {
        matches!(self, Tool::DbmonCockroachdb | Tool::DbmonPrometheus)
    }
}

fn main() -> Result<(), String> {
    let args = Args::parse();
    let open_files = child::raise_open_files();
    if (open_files as usize) < 3 * args.targets + 256 {
        eprintln!(
            "anchors: the open-file limit is {open_files}; {} targets need about {} (raise it with ulimit -n)",
            args.targets,
            3 * args.targets + 256
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.target_threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    // The tools are started from this (the main) thread, which lives as long as they do: they
    // are asked to die with it. On Ctrl-C or SIGTERM the run is dropped, and every guard with it.
    runtime.block_on(async {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .map_err(|e| e.to_string())?;
        tokio::select! {
            result = run(&args) => result,
            _ = tokio::signal::ctrl_c() => Err("interrupted".to_string()),
            _ = terminate.recv() => Err("terminated".to_string()),
        }
    })
}

async fn run(args: &Args) -> Result<(), String> {
    let templates = targets::templates(
        body::Kind::Synthetic,
        args.targets,
        args.changing_percent,
        false,
    );
    let targets = Targets::start(&templates, args.targets).await;
    eprintln!(
        "anchors: {} targets, {} bytes and {} samples each ({} changing per scrape), every {} s",
        targets.len(),
        templates[0].len(),
        templates[0].samples(),
        templates[0].changing(),
        args.interval_secs
    );
    let mut results = Vec::new();
    for &tool in &args.tools {
        eprintln!("anchors: {} ...", tool.name());
        let outcome = match measure(args, tool, &targets).await {
            Ok(m) => Outcome::Measured(Box::new(m)),
            Err(Skip::Missing(how)) => {
                eprintln!("anchors: {}: skipped: {how}", tool.name());
                Outcome::Skipped(how)
            }
            Err(Skip::Failed(why)) => {
                eprintln!("anchors: {}: failed: {why}", tool.name());
                Outcome::Failed(why)
            }
        };
        if let Outcome::Measured(m) = &outcome {
            eprintln!(
                "anchors: {}: {:.3} ms per collection, peak RSS {:.1} MiB",
                tool.name(),
                m.cpu_ms_per_collection(),
                mib(m.peak.peak_rss_kib)
            );
        }
        results.push((tool, outcome));
    }
    drop(targets);
    print_table(args, &templates[0], &results);
    println!("{}", json(args, &templates[0], &results));
    Ok(())
}

/// Why a tool has no figures.
enum Skip {
    /// Its binary is not there: how to install it.
    Missing(String),
    /// It did not run as it should.
    Failed(String),
}

impl From<String> for Skip {
    fn from(why: String) -> Skip {
        Skip::Failed(why)
    }
}

enum Outcome {
    Measured(Box<Measured>),
    Skipped(String),
    Failed(String),
}

/// One tool's figures.
struct Measured {
    version: String,
    /// At the window's start and end.
    a: Reading,
    b: Reading,
    /// When the peak RSS was read (the window's end, or after `--intervals-for-rss`).
    peak: procfs::Sample,
    peak_after_s: f64,
    startup_s: f64,
    /// What the tool itself says about its scrapes.
    check: String,
}

impl Measured {
    fn window_s(&self) -> f64 {
        self.b.at.duration_since(self.a.at).as_secs_f64()
    }

    fn served(&self) -> Served {
        self.b.served.since(&self.a.served)
    }

    fn cpu_s(&self) -> f64 {
        self.b.cpu_s - self.a.cpu_s
    }

    fn cpu_ms_per_collection(&self) -> f64 {
        self.cpu_s() * 1e3 / self.served().collections().max(1) as f64
    }

    fn kernel_ms_per_collection(&self) -> f64 {
        (self.b.system_s - self.a.system_s) * 1e3 / self.served().collections().max(1) as f64
    }
}

/// A tool and the machine at one instant.
struct Reading {
    at: Instant,
    /// The tool's CPU time with its children's, seconds.
    cpu_s: f64,
    system_s: f64,
    /// The tool with its children: peak RSS and RSS add up.
    tool: procfs::Sample,
    this_cpu_s: f64,
    machine_busy_s: f64,
    load: f64,
    served: Served,
}

fn read(pid: u32, targets: &Targets) -> Result<Reading, String> {
    let at = Instant::now();
    let served = targets.served();
    let own = procfs::sample(Some(pid)).map_err(|e| format!("reading /proc/{pid}: {e}"))?;
    let children = procfs::children(pid).map_err(|e| format!("reading /proc: {e}"))?;
    let this = procfs::sample(None).map_err(|e| e.to_string())?;
    let tool = procfs::Sample {
        cpu_seconds: own.cpu_seconds + children.cpu_seconds,
        system_seconds: own.system_seconds + children.system_seconds,
        peak_rss_kib: own.peak_rss_kib + children.peak_rss_kib,
        rss_kib: own.rss_kib + children.rss_kib,
        rss_anon_kib: own.rss_anon_kib + children.rss_anon_kib,
        rss_file_kib: own.rss_file_kib + children.rss_file_kib,
        threads: own.threads + children.threads,
    };
    Ok(Reading {
        at,
        cpu_s: tool.cpu_seconds,
        system_s: tool.system_seconds,
        tool,
        this_cpu_s: this.cpu_seconds,
        machine_busy_s: procfs::machine_busy_seconds().map_err(|e| e.to_string())?,
        load: procfs::load_average(),
        served,
    })
}

/// A running tool.
enum Running {
    /// Prometheus or vmagent, with the sink vmagent writes to.
    Program {
        guard: Guard,
        web: u16,
        sink: Option<Sink>,
    },
    /// `dbmon serve`.
    Dbmon(Host),
}

impl Running {
    fn pid(&self) -> u32 {
        match self {
            Running::Program { guard, .. } => guard.pid(),
            Running::Dbmon(host) => host.pid(),
        }
    }

    fn check_running(&mut self) -> Result<(), String> {
        match self {
            Running::Program { guard, .. } => guard.check_running(),
            Running::Dbmon(host) => {
                let pid = host.pid();
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                let state = stat
                    .rsplit_once(')')
                    .and_then(|(_, r)| r.split_whitespace().next());
                match state {
                    Some(s) if s != "Z" => Ok(()),
                    _ => Err(format!(
                        "dbmon exited; its log ends with:\n{}",
                        tail(&host.log(), 2000)
                    )),
                }
            }
        }
    }
}

fn tail(text: &str, max: usize) -> String {
    let mut from = text.len().saturating_sub(max);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    text[from..].to_string()
}

/// Sleeps `d`, checking every second that the tool still runs.
async fn sleep_watching(running: &mut Running, d: Duration) -> Result<(), String> {
    let until = Instant::now() + d;
    loop {
        running.check_running()?;
        let now = Instant::now();
        if now >= until {
            return Ok(());
        }
        tokio::time::sleep((until - now).min(Duration::from_secs(1))).await;
    }
}

async fn measure(args: &Args, tool: Tool, targets: &Targets) -> Result<Measured, Skip> {
    let version = version(args, tool)?;
    let started = Instant::now();
    let mut running = start(args, tool, targets).await?;
    let startup_s = started.elapsed().as_secs_f64();
    let pid = running.pid();
    sleep_watching(
        &mut running,
        args.warmup().saturating_sub(started.elapsed()),
    )
    .await?;
    let a = read(pid, targets)?;
    sleep_watching(&mut running, Duration::from_secs(args.window_secs)).await?;
    let b = read(pid, targets)?;
    let (peak, peak_after_s) = if args.intervals_for_rss > 0 {
        let full = args.interval() * (args.intervals_for_rss as u32 + 1);
        sleep_watching(&mut running, full.saturating_sub(started.elapsed())).await?;
        let c = read(pid, targets)?;
        (c.tool, started.elapsed().as_secs_f64())
    } else {
        (b.tool, b.at.duration_since(started).as_secs_f64())
    };
    let check = check(&mut running).await;
    running.check_running()?;
    let stop = tokio::task::spawn_blocking(move || drop(running));
    stop.await.map_err(|e| e.to_string())?;
    Ok(Measured {
        version,
        a,
        b,
        peak,
        peak_after_s,
        startup_s,
        check,
    })
}

/// The tool's version line; `Skip::Missing` with the install command when it is not there.
fn version(args: &Args, tool: Tool) -> Result<String, Skip> {
    let (bin, flag, package) = match tool {
        Tool::Prometheus => (args.prometheus_bin.clone(), "--version", "prometheus"),
        Tool::Vmagent => (args.vmagent_bin.clone(), "-version", "victoria-metrics"),
        Tool::DbmonCockroachdb | Tool::DbmonPrometheus => {
            let dbmon = dbmon_test_support::built_binary("dbmon");
            let commit =
                output(std::process::Command::new("git").args(["log", "-1", "--format=%h %cI"]))
                    .map(|c| format!(", commit {c}"))
                    .unwrap_or_default();
            let line = output(std::process::Command::new(dbmon).arg("--version"));
            return Ok(format!(
                "{} (release build{commit})",
                line.unwrap_or_default()
            ));
        }
    };
    if !bin.exists() {
        return Err(Skip::Missing(format!(
            "{} is missing: install it with `apt-get install -y {package}` (Debian), or name another binary with --{}-bin",
            bin.display(),
            tool.name()
        )));
    }
    let line = output(std::process::Command::new(&bin).arg(flag)).unwrap_or_default();
    // Debian's vmagent prints an empty version: the package's then.
    let package_version = || {
        let owner = output(std::process::Command::new("dpkg-query").arg("-S").arg(&bin))?;
        let package = owner.split(':').next()?.trim().to_string();
        let version = output(std::process::Command::new("dpkg-query").args([
            "-W",
            "-f=${Version}",
            &package,
        ]))?;
        Some(format!(
            "{} (Debian package {package} {version})",
            bin.display()
        ))
    };
    Ok(if line.is_empty() {
        package_version().unwrap_or_else(|| bin.display().to_string())
    } else {
        line
    })
}

/// The first non-empty line a command prints (stdout, else stderr), when it succeeds.
fn output(command: &mut std::process::Command) -> Option<String> {
    let out = command.output().ok().filter(|o| o.status.success())?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(String::from)
}

/// The Prometheus-style scrape configuration both Prometheus and vmagent read.
fn scrape_config(args: &Args, targets: &Targets) -> String {
    let s = args.interval_secs;
    let mut yaml = format!(
        "global:\n  scrape_interval: {s}s\n  scrape_timeout: {s}s\nscrape_configs:\n  - job_name: crdb\n    metrics_path: /_status/vars\n    static_configs:\n      - targets:\n"
    );
    for i in 0..targets.len() {
        let _ = writeln!(yaml, "          - '{}'", targets.addr(i));
    }
    yaml
}

/// dbmon's configuration: one cluster per target, the interval (and timeout) of the others.
fn dbmon_config(args: &Args, tool: Tool, targets: &Targets) -> String {
    let s = args.interval_secs;
    let mut yaml = format!("defaults: {{ interval: {s}s, timeout: {s}s }}\nclusters:\n");
    let (connector, path) = match tool {
        Tool::DbmonCockroachdb => ("cockroachdb", ""),
        _ => ("prometheus", "/_status/vars"),
    };
    for i in 0..targets.len() {
        let _ = writeln!(
            yaml,
            "  - {{ id: c{i:04}, connector: {connector}, endpoints: [\"{}\"] }}",
            targets.url(i, path, true)
        );
    }
    yaml
}

async fn start(args: &Args, tool: Tool, targets: &Targets) -> Result<Running, String> {
    match tool {
        Tool::Prometheus | Tool::Vmagent => {
            let dir =
                ScratchDir::new(&format!("anchors-{}", tool.name())).map_err(|e| e.to_string())?;
            let config = dir.path().join("scrape.yml");
            std::fs::write(&config, scrape_config(args, targets)).map_err(|e| e.to_string())?;
            let web = child::free_port().map_err(|e| e.to_string())?;
            let (bin, flags, sink) = if tool == Tool::Prometheus {
                let flags = vec![
                    format!("--config.file={}", config.display()),
                    format!("--storage.tsdb.path={}", dir.path().join("data").display()),
                    format!("--web.listen-address=127.0.0.1:{web}"),
                ];
                (&args.prometheus_bin, flags, None)
            } else {
                let sink = Sink::start().await.map_err(|e| e.to_string())?;
                let flags = vec![
                    format!("-promscrape.config={}", config.display()),
                    format!("-remoteWrite.url={}", sink.url("/api/v1/write")),
                    format!(
                        "-remoteWrite.tmpDataPath={}",
                        dir.path().join("remote-write").display()
                    ),
                    format!("-httpListenAddr=127.0.0.1:{web}"),
                ];
                (&args.vmagent_bin, flags, Some(sink))
            };
            let guard = Guard::spawn(bin, &flags, dir)?;
            Ok(Running::Program { guard, web, sink })
        }
        Tool::DbmonCockroachdb | Tool::DbmonPrometheus => {
            let library = if tool == Tool::DbmonCockroachdb {
                "dbmon_connector_cockroachdb"
            } else {
                "dbmon_connector_prometheus"
            };
            let plugin = built_library(library);
            let config = dbmon_config(args, tool, targets);
            let level = args.log_level.clone();
            let host = tokio::task::spawn_blocking(move || {
                Host::try_start_logging(&config, &[plugin], &level)
            })
            .await
            .map_err(|e| e.to_string())??;
            Ok(Running::Dbmon(host))
        }
    }
}

/// What the tool says about its own scrapes, after the measurements: Prometheus's `sum(up)`
/// and head series, vmagent's scrape counters and what the sink got, dbmon's failures and
/// stored reports.
async fn check(running: &mut Running) -> String {
    match running {
        Running::Program { web, sink, .. } => {
            let metrics = http_get(*web, "/metrics").await.unwrap_or_default();
            let pick = |name: &str| -> String {
                metrics
                    .lines()
                    .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
                    .and_then(|l| l.rsplit(' ').next())
                    .unwrap_or("?")
                    .to_string()
            };
            match sink {
                None => {
                    let up = http_get(*web, "/api/v1/query?query=sum(up)")
                        .await
                        .ok()
                        .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok())
                        .and_then(|j| {
                            j["data"]["result"][0]["value"][1]
                                .as_str()
                                .map(String::from)
                        })
                        .unwrap_or_else(|| "?".into());
                    format!(
                        "sum(up) {up}, head series {}, head chunks {}",
                        pick("prometheus_tsdb_head_series"),
                        pick("prometheus_tsdb_head_chunks")
                    )
                }
                Some(sink) => {
                    let (posts, bytes) = sink.received();
                    format!(
                        "scrapes {}, failed {}, samples pushed {}; the sink got {posts} POSTs, {:.1} MiB",
                        pick("vm_promscrape_scrapes_total"),
                        pick("vm_promscrape_scrapes_failed_total"),
                        pick("vmagent_remotewrite_rows_pushed_after_relabel_total"),
                        bytes as f64 / 1048576.0
                    )
                }
            }
        }
        Running::Dbmon(host) => {
            let clusters = async {
                let mut client = Client::connect(host.url.clone())
                    .await
                    .map_err(|e| e.to_string())?;
                let reply = client
                    .list_clusters(proto::ListClustersRequest {})
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>(reply.into_inner().clusters)
            };
            match clusters.await {
                Ok(clusters) => {
                    let sum = |f: fn(&proto::Cluster) -> u64| clusters.iter().map(f).sum::<u64>();
                    let log = host.log();
                    format!(
                        "collections {}, failures {}, timeouts {}, reports stored per cluster {}-{}, log warnings {}",
                        sum(|c| c.collections),
                        sum(|c| c.failures),
                        sum(|c| c.timeouts),
                        clusters.iter().map(|c| c.reports_stored).min().unwrap_or(0),
                        clusters.iter().map(|c| c.reports_stored).max().unwrap_or(0),
                        log.lines().filter(|l| l.contains("WARN")).count()
                    )
                }
                Err(e) => format!("ListClusters: {e}"),
            }
        }
    }
}

type Client = proto::monitor_client::MonitorClient<tonic::transport::Channel>;

/// One GET over a fresh loopback connection (`Connection: close`); the body.
async fn http_get(port: u16, path: &str) -> Result<String, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ask = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await?;
        Ok::<_, std::io::Error>(reply)
    };
    let reply = tokio::time::timeout(Duration::from_secs(10), ask)
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&reply);
    let (_, body) = text.split_once("\r\n\r\n").ok_or("no HTTP reply")?;
    Ok(body.to_string())
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Each measured tool's figures, as a JSON object.
fn figures(args: &Args, m: &Measured) -> serde_json::Value {
    let window_s = m.window_s();
    let served = m.served();
    let (min, max) = served.per_target_range();
    let this_cores = (m.b.this_cpu_s - m.a.this_cpu_s) / window_s;
    let machine_cores = (m.b.machine_busy_s - m.a.machine_busy_s) / window_s;
    serde_json::json!({
        "version": m.version,
        "startup_s": m.startup_s,
        "window_s": window_s,
        "collections": served.collections(),
        "collections_per_s": served.collections() as f64 / window_s,
        "expected_collections": window_s * args.targets as f64 / args.interval_secs as f64,
        "per_target_min": min,
        "per_target_max": max,
        "health_requests": served.health,
        "other_requests": served.other,
        "cores": m.cpu_s() / window_s,
        "cpu_ms_per_collection": m.cpu_ms_per_collection(),
        "kernel_ms_per_collection": m.kernel_ms_per_collection(),
        "peak_rss_mib": mib(m.peak.peak_rss_kib),
        "peak_rss_read_after_s": m.peak_after_s,
        "peak_rss_read_after_intervals": m.peak_after_s / args.interval_secs as f64,
        "peak_rss_at_window_end_mib": mib(m.b.tool.peak_rss_kib),
        "rss_mib": mib(m.peak.rss_kib),
        "rss_anon_mib": mib(m.peak.rss_anon_kib),
        "rss_file_mib": mib(m.peak.rss_file_kib),
        "threads": m.peak.threads,
        "targets_cores": this_cores,
        "other_processes_cores": machine_cores - m.cpu_s() / window_s - this_cores,
        "load_1m_start": m.a.load,
        "load_1m_end": m.b.load,
        "check": m.check,
    })
}

/// dbmon over another tool: (CPU per collection, peak RSS).
fn ratios(results: &[(Tool, Outcome)]) -> Vec<(Tool, Tool, f64, f64)> {
    let measured: Vec<(Tool, &Measured)> = results
        .iter()
        .filter_map(|(t, o)| match o {
            Outcome::Measured(m) => Some((*t, m.as_ref())),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    for (d, dm) in measured.iter().filter(|(t, _)| t.is_dbmon()) {
        for (o, om) in measured.iter().filter(|(t, _)| !t.is_dbmon()) {
            out.push((
                *d,
                *o,
                dm.cpu_ms_per_collection() / om.cpu_ms_per_collection(),
                dm.peak.peak_rss_kib as f64 / om.peak.peak_rss_kib as f64,
            ));
        }
    }
    out
}

/// The table printed before the JSON line: (label, keys in a tool's JSON).
const ROWS: &[(&str, &[&str])] = &[
    ("startup (s)", &["startup_s"]),
    ("window (s)", &["window_s"]),
    (
        "collections / expected",
        &["collections", "expected_collections"],
    ),
    ("collections per s", &["collections_per_s"]),
    (
        "per target: min / max",
        &["per_target_min", "per_target_max"],
    ),
    (
        "/health requests / other",
        &["health_requests", "other_requests"],
    ),
    ("CPU (cores)", &["cores"]),
    (
        "CPU per collection (ms): all / kernel",
        &["cpu_ms_per_collection", "kernel_ms_per_collection"],
    ),
    ("peak RSS, VmHWM (MiB)", &["peak_rss_mib"]),
    (
        "  read after (s) / intervals",
        &["peak_rss_read_after_s", "peak_rss_read_after_intervals"],
    ),
    (
        "  VmHWM at the window's end (MiB)",
        &["peak_rss_at_window_end_mib"],
    ),
    (
        "RSS then: all / anon / file (MiB)",
        &["rss_mib", "rss_anon_mib", "rss_file_mib"],
    ),
    ("threads", &["threads"]),
    ("targets, this process (cores)", &["targets_cores"]),
    ("other processes (cores)", &["other_processes_cores"]),
    (
        "load average 1 min: start / end",
        &["load_1m_start", "load_1m_end"],
    ),
];

fn show(value: &serde_json::Value) -> String {
    match value.as_f64() {
        Some(f) if value.is_f64() => format!("{f:.3}"),
        _ => value.to_string(),
    }
}

fn print_table(args: &Args, t: &Template, results: &[(Tool, Outcome)]) {
    println!(
        "{} targets x {} bytes ({} samples, {} changing per scrape), interval {} s, window {} s after {} s, peak RSS after {} intervals",
        args.targets,
        t.len(),
        t.samples(),
        t.changing(),
        args.interval_secs,
        args.window_secs,
        args.warmup().as_secs(),
        args.intervals_for_rss
    );
    for (tool, outcome) in results {
        println!();
        match outcome {
            Outcome::Skipped(how) => println!("{}: skipped: {how}", tool.name()),
            Outcome::Failed(why) => println!("{}: failed: {why}", tool.name()),
            Outcome::Measured(m) => {
                let f = figures(args, m);
                println!("{}: {}", tool.name(), m.version);
                for (label, keys) in ROWS {
                    let values: Vec<String> = keys.iter().map(|k| show(&f[*k])).collect();
                    println!("  {label:<40} {}", values.join(" / "));
                }
                println!("  {:<40} {}", "the tool's own count", m.check);
            }
        }
    }
    println!();
    for (d, o, cpu, rss) in ratios(results) {
        println!(
            "{} / {}: CPU per collection {cpu:.3}x, peak RSS {rss:.3}x",
            d.name(),
            o.name()
        );
    }
}

fn json(args: &Args, t: &Template, results: &[(Tool, Outcome)]) -> serde_json::Value {
    let mut tools = serde_json::Map::new();
    for (tool, outcome) in results {
        let value = match outcome {
            Outcome::Measured(m) => figures(args, m),
            Outcome::Skipped(how) => serde_json::json!({ "skipped": how }),
            Outcome::Failed(why) => serde_json::json!({ "failed": why }),
        };
        tools.insert(tool.name().to_string(), value);
    }
    let ratios: Vec<serde_json::Value> = ratios(results)
        .into_iter()
        .map(|(d, o, cpu, rss)| {
            serde_json::json!({ "dbmon": d.name(), "over": o.name(), "cpu_per_collection": cpu, "peak_rss": rss })
        })
        .collect();
    serde_json::json!({
        "bench": "anchors",
        "targets": args.targets,
        "interval_s": args.interval_secs,
        "window_s": args.window_secs,
        "warmup_s": args.warmup().as_secs(),
        "intervals_for_rss": args.intervals_for_rss,
        "body_bytes": t.len(),
        "samples_per_body": t.samples(),
        "changing_per_scrape": t.changing(),
        "tools": tools,
        "ratios": ratios,
    })
}
