//! `cargo xtask demo`: real clusters to watch. Starts, on free loopback ports in a temp folder,
//! a three-member etcd, a six-node Redis Cluster, a PostgreSQL primary with a streaming
//! replica and a loopback server speaking CockroachDB's HTTP formats for three nodes (each
//! where its programs are installed), writes a dbmon.yaml registering them and `system`, runs
//! `dbmon serve` on it, and says what to try. `cargo xtask demo fault NAME` injects a fault
//! into the running demo (and `heal` undoes them); Ctrl-C, SIGTERM or a closed terminal
//! (SIGHUP) stops everything and removes the folder.
//!
//! - `cargo xtask demo [--debug-binaries] [--state DIR]`: runs the demo. It builds the release
//!   as `cargo xtask serve` does; `--debug-binaries` takes `target/debug`'s dbmon and
//!   connector libraries as they are instead (no build: the test's way).
//! - `cargo xtask demo fault NAME [--state DIR]`: NAME is one of `faults::FAULTS`.
//! - `cargo xtask demo stop [--state DIR]`: stops the running demo, as Ctrl-C in its terminal.
//!
//! `--state DIR` (default `target/demo`) is where a running demo keeps its lock and control
//! socket (`state.rs`): a second demo on the same folder says that one runs and exits 1.

/// `println!` that never panics: the demo must still stop everything when its terminal or
/// pipe has gone (a closed stdout makes `println!` panic).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod clusters;
mod control;
mod dbmon;
mod faults;
mod state;

use anyhow::{Context, Result, bail};
use clusters::Clusters;
use state::{StateDir, Taken};
use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tokio::signal::unix::{SignalKind, signal};

/// How long the demo waits for every cluster to report healthy before it says which do not.
const HEALTHY_WITHIN: Duration = Duration::from_secs(90);

const USAGE: &str = "usage: cargo xtask demo [--debug-binaries] [--state DIR]\n       \
                     cargo xtask demo fault NAME [--state DIR]\n       \
                     cargo xtask demo stop [--state DIR]";

/// What the command line asks.
struct Args {
    command: Vec<String>,
    debug_binaries: bool,
    state: PathBuf,
    /// ` --state DIR` when given, for the commands the demo suggests.
    state_flag: String,
}

fn parse(root: &Path, args: &[String]) -> Result<Args> {
    let mut parsed = Args {
        command: Vec::new(),
        debug_binaries: false,
        state: crate::target_dir(root).join("demo"),
        state_flag: String::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--debug-binaries" => parsed.debug_binaries = true,
            "--state" => {
                let dir = args.next().context("--state needs a folder")?;
                parsed.state = PathBuf::from(dir);
                parsed.state_flag = format!(" --state {dir}");
            }
            flag if flag.starts_with('-') => bail!("unknown flag {flag}\n{USAGE}"),
            word => parsed.command.push(word.to_string()),
        }
    }
    Ok(parsed)
}

/// `cargo xtask demo ...`.
pub fn main(root: &Path, args: &[String]) -> Result<ExitCode> {
    let args = parse(root, args)?;
    let state = StateDir::new(args.state.clone());
    let words: Vec<&str> = args.command.iter().map(String::as_str).collect();
    match words.as_slice() {
        [] => run(root, &state, &args),
        ["fault", name] => request(&state, &format!("fault {name}"), Some(name)),
        ["stop"] => request(&state, "stop", None),
        _ => {
            eprintln!("{USAGE}\n{}", control::fault_names());
            Ok(ExitCode::from(2))
        }
    }
}

/// Sends one request to the running demo and prints its answer.
fn request(state: &StateDir, request: &str, fault: Option<&str>) -> Result<ExitCode> {
    if let Some(name) = fault
        && faults::Fault::from_name(name).is_none()
    {
        eprintln!("unknown fault '{name}'; {}", control::fault_names());
        return Ok(ExitCode::from(2));
    }
    if state.live_holder().is_none() {
        eprintln!(
            "no demo is running (state folder {}): start one with `cargo xtask demo`",
            state.dir.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    let Ok((answer, refused)) = control::send(&state.socket(), request) else {
        eprintln!(
            "the demo ({}) does not answer yet: it is still starting its clusters; try again \
             once it has printed what to try",
            state
                .live_holder()
                .map(|h| h.describe())
                .unwrap_or_default()
        );
        return Ok(ExitCode::FAILURE);
    };
    print!("{answer}");
    Ok(if refused {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs the demo until Ctrl-C, SIGTERM or `cargo xtask demo stop`.
fn run(root: &Path, state: &StateDir, args: &Args) -> Result<ExitCode> {
    let mut lock = match state.lock()? {
        Taken::Live(holder) => {
            eprintln!(
                "a demo is already running ({}).\nWatch it, inject faults into it \
                 (`cargo xtask demo fault NAME`) or stop it (Ctrl-C in its terminal, or \
                 `cargo xtask demo stop`) before starting another.",
                holder.describe()
            );
            return Ok(ExitCode::FAILURE);
        }
        Taken::Ours(lock, stale) => {
            if let Some(folder) = stale.as_ref().and_then(|h| h.folder.as_ref()) {
                let killed = state::remove_leftovers(folder);
                say!(
                    "the demo that held {} is gone ({}): removed its folder and the {killed} \
                     processes it left running",
                    state.dir.display(),
                    stale.as_ref().map(|h| h.describe()).unwrap_or_default()
                );
            }
            lock
        }
    };
    // A killed demo's socket: nobody answers on it until ours is bound.
    let _ = std::fs::remove_file(state.socket());
    let binaries = dbmon::binaries(root, args.debug_binaries)?;
    let folder = tempfile::Builder::new()
        .prefix("dbmon-demo-")
        .tempdir()
        .context("creating the demo's folder")?;
    // The PostgreSQL servers run as `postgres` when the demo runs as root: let it in.
    std::fs::set_permissions(
        folder.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    lock.record(folder.path(), None)?;
    // SAFETY: no other thread runs yet (the runtime starts below). Every temp folder the
    // servers get is made inside the demo's, and every process it starts carries the marker.
    unsafe {
        std::env::set_var("TMPDIR", folder.path());
        std::env::set_var(state::MARKER, folder.path());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(demo(
        state,
        &args.state_flag,
        &mut lock,
        &binaries,
        folder.path(),
    ));
    runtime.shutdown_timeout(Duration::from_secs(5));
    let path = folder.path().to_path_buf();
    drop(folder);
    say!("removed {}", path.display());
    outcome
}

/// SIGINT, SIGTERM or SIGHUP (its terminal closed): each stops the demo.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
            _ = self.hangup.recv() => {}
        }
    }
}

async fn demo(
    state: &StateDir,
    state_flag: &str,
    lock: &mut state::Lock,
    binaries: &dbmon::Binaries,
    folder: &Path,
) -> Result<ExitCode> {
    let mut signals = Signals::new()?;
    say!("dbmon demo: starting its clusters in {}", folder.display());
    let started = Instant::now();
    let start = Clusters::start();
    tokio::pin!(start);
    let clusters = tokio::select! {
        clusters = &mut start => clusters,
        _ = signals.recv() => {
            say!("stopping: waiting for the servers being started, then stopping them");
            drop(start.await);
            return Ok(ExitCode::SUCCESS);
        }
    };
    for line in &clusters.skipped {
        say!("  {line}");
    }
    let ids = clusters.ids();
    let config = clusters.config(folder)?;
    let clusters = Arc::new(Mutex::new(clusters));
    let mut serve = match dbmon::Serve::start(binaries, folder, &config) {
        Ok(serve) => serve,
        Err(e) => {
            stop_clusters(&clusters).await;
            return Err(e);
        }
    };
    lock.record(folder, Some(&serve.url))?;
    say!("dbmon serving on {}", serve.url);
    let socket = state.socket();
    let _ = std::fs::remove_file(&socket);
    let listener = tokio::net::UnixListener::bind(&socket)
        .with_context(|| format!("binding {}", socket.display()))?;
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let control = control::serve(listener, Arc::clone(&clusters), stop_tx);
    let summary = clusters.lock().unwrap().summary();
    banner(state_flag, binaries, &serve, &summary, &ids);

    let mut healthy = false;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let code = loop {
        tokio::select! {
            _ = signals.recv() => break ExitCode::SUCCESS,
            _ = stop_rx.changed() => break ExitCode::SUCCESS,
            _ = tick.tick() => {
                if let Some(status) = serve.exited() {
                    say!("dbmon exited ({status}); its log: {}", folder.join("dbmon.log").display());
                    break ExitCode::FAILURE;
                }
                if !healthy {
                    healthy = check_healthy(binaries, &serve.url, &ids, started).await;
                }
            }
        }
    };
    say!("dbmon demo: stopping dbmon and every server it started");
    control.abort();
    let _ = std::fs::remove_file(&socket);
    serve.stop();
    stop_clusters(&clusters).await;
    Ok(code)
}

/// Whether every cluster reports healthy now; says so the first time, and says which do not
/// once `HEALTHY_WITHIN` has passed.
async fn check_healthy(
    binaries: &dbmon::Binaries,
    url: &str,
    ids: &[&'static str],
    started: Instant,
) -> bool {
    let (dbmon, url) = (binaries.dbmon.clone(), url.to_string());
    let listed = tokio::task::spawn_blocking(move || dbmon::clusters(&dbmon, &url)).await;
    let listed = match listed {
        Ok(Ok(listed)) => listed,
        _ => return false,
    };
    let took = started.elapsed().as_secs_f64();
    if dbmon::all_healthy(&listed, ids) {
        say!(
            "\nevery cluster reports ({took:.1} s after the start):\n  {}",
            dbmon::describe(&listed).join("\n  ")
        );
        return true;
    }
    if started.elapsed() > HEALTHY_WITHIN {
        say!(
            "\nafter {took:.0} s not every cluster reports healthy:\n  {}",
            dbmon::describe(&listed).join("\n  ")
        );
        return true;
    }
    false
}

/// Stops every server (blocking: kills and waits), off the runtime's workers.
async fn stop_clusters(clusters: &Arc<Mutex<Clusters>>) {
    let shared = Arc::clone(clusters);
    let _ = tokio::task::spawn_blocking(move || {
        let mut clusters = shared.lock().unwrap_or_else(|p| p.into_inner());
        drop(clusters.etcd.take());
        drop(clusters.redis.take());
        drop(clusters.pg.take());
    })
    .await;
    // The loopback servers' tasks end with the runtime; their listeners close now.
    let crdb = clusters
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .crdb
        .take();
    drop(crdb);
}

/// A path as the person typed it would be: relative to the current folder when inside it.
fn shown(path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    match path.strip_prefix(&cwd) {
        Ok(relative) => format!("./{}", relative.display()),
        Err(_) => path.display().to_string(),
    }
}

fn banner(
    state_flag: &str,
    binaries: &dbmon::Binaries,
    serve: &dbmon::Serve,
    summary: &[String],
    ids: &[&str],
) {
    let dbmon = shown(&binaries.dbmon);
    let server = &serve.url;
    say!("\nclusters (dbmon.yaml in the demo's folder registers them):");
    for line in summary {
        say!("  {line}");
    }
    say!(
        "\nTry, in another terminal:\n  \
         {dbmon} --server {server} clusters      # every cluster with its verdict\n  \
         {dbmon} --server {server} watch         # each new report as it comes\n  \
         {dbmon} --server {server} top           # a live full-screen view\n  \
         {dbmon} --server {server} reports demo-pg -v\n  \
         {web}                       # the web status page\n\
         (or `export DBMON_SERVER={server}` and leave out --server)\n\
         \nFaults, to see verdicts change (each says what dbmon should show, and within how long):",
        web = serve.web
    );
    for (fault, name, what) in faults::FAULTS {
        let absent = fault.cluster().is_some_and(|id| !ids.contains(&id));
        let note = if absent { " (not in this demo)" } else { "" };
        say!("  cargo xtask demo fault {name}{state_flag}   # {what}{note}");
    }
    say!("\nCtrl-C stops dbmon and every server, and removes the folder.");
}
