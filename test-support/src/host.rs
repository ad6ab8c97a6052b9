//! The `dbmon` binary as a child process, stopped when dropped even if the test fails.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::{Arc, Mutex, mpsc},
    time::{Duration, Instant},
};

/// The folder cargo builds into (`target/debug`), found from the running test binary
/// (`target/debug/deps/NAME`).
fn build_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let deps = exe.parent().expect("deps dir");
    let dir = if deps.ends_with("deps") {
        deps.parent().expect("target dir")
    } else {
        deps
    };
    dir.to_path_buf()
}

/// A binary built by `cargo build --workspace`.
pub fn built_binary(name: &str) -> PathBuf {
    let path = build_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo xtask test` (or `cargo build --workspace` before `cargo test`)",
        path.display()
    );
    path
}

/// A connector library built by `cargo build --workspace`, by crate name
/// (`dbmon_connector_system`).
pub fn built_library(crate_name: &str) -> PathBuf {
    built_binary(&format!("lib{crate_name}.so"))
}

/// The host's log filter in tests: the host's and the connectors' debug lines.
const TEST_LOG_LEVEL: &str = "info,dbmon=debug,connector=debug";

/// A running `dbmon serve`.
pub struct Host {
    child: Option<Child>,
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
    /// `http://127.0.0.1:PORT`; empty for a collector, which serves nothing.
    pub url: String,
    /// The temp folder holding the config, the plugins folder and the log.
    pub dir: tempfile::TempDir,
}

impl Host {
    /// Starts `dbmon serve` with `config` (YAML) and these libraries copied into its plugins
    /// folder; waits until it serves.
    pub fn start(config: &str, plugins: &[PathBuf]) -> Host {
        Self::try_start(config, plugins).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`start`](Self::start), returning the failure (with the host's log) instead.
    pub fn try_start(config: &str, plugins: &[PathBuf]) -> Result<Host, String> {
        Self::try_start_logging(config, plugins, TEST_LOG_LEVEL)
    }

    /// Like [`try_start`](Self::try_start), with the host's log filter set to `log_level`:
    /// benchmarks measure the host as operators run it, at `info`.
    pub fn try_start_logging(
        config: &str,
        plugins: &[PathBuf],
        log_level: &str,
    ) -> Result<Host, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let plugins_dir = dir.path().join("plugins.d");
        std::fs::create_dir(&plugins_dir).map_err(|e| e.to_string())?;
        for plugin in plugins {
            let name = plugin.file_name().expect("file name");
            std::fs::copy(plugin, plugins_dir.join(name)).map_err(|e| e.to_string())?;
        }
        Self::launch(dir, config, log_level)
    }

    /// Starts the host in `dir`, which holds `plugins.d/` as the caller arranged it.
    pub fn start_in(dir: tempfile::TempDir, config: &str) -> Result<Host, String> {
        Self::launch(dir, config, TEST_LOG_LEVEL)
    }

    /// Like [`start_in`](Self::start_in), with more `dbmon serve` flags (`--role server`).
    pub fn start_in_with(
        dir: tempfile::TempDir,
        config: &str,
        args: &[&str],
    ) -> Result<Host, String> {
        Self::launch_with(dir, config, TEST_LOG_LEVEL, args)
    }

    /// Like [`start_in`](Self::start_in), listening and logging as the file says (no
    /// `--listen` nor `--log-level` flag, which win over the file, so a reload can change
    /// both).
    pub fn start_in_as_configured(dir: tempfile::TempDir, config: &str) -> Result<Host, String> {
        Self::launch_on(dir, config, None, &[], false)
    }

    fn launch(dir: tempfile::TempDir, config: &str, log_level: &str) -> Result<Host, String> {
        Self::launch_with(dir, config, log_level, &[])
    }

    fn launch_with(
        dir: tempfile::TempDir,
        config: &str,
        log_level: &str,
        args: &[&str],
    ) -> Result<Host, String> {
        // A free port unless the caller names one (a restarted server keeps its address).
        let free_port = !args.contains(&"--listen");
        Self::launch_on(dir, config, Some(log_level), args, free_port)
    }

    fn launch_on(
        dir: tempfile::TempDir,
        config: &str,
        log_level: Option<&str>,
        args: &[&str],
        free_port: bool,
    ) -> Result<Host, String> {
        let config_path = dir.path().join("dbmon.yaml");
        std::fs::write(&config_path, config).map_err(|e| e.to_string())?;
        let log = dir.path().join("dbmon.log");
        let listen: &[&str] = if free_port {
            &["--listen", "127.0.0.1:0"]
        } else {
            &[]
        };
        let mut child = Command::new(built_binary("dbmon"))
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .args(listen)
            .arg("--log-file")
            .arg(&log)
            .args(
                log_level
                    .map(|level| ["--log-level", level])
                    .iter()
                    .flatten(),
            )
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start dbmon: {e}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let errors = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&errors);
        let stderr_reader = std::thread::spawn(move || {
            use std::io::Read;
            let mut text = String::new();
            let _ = BufReader::new(stderr).read_to_string(&mut text);
            sink.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push_str(&text);
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("dbmon serving on ") {
                    let _ = tx.send(url.to_string());
                } else if line.starts_with("dbmon collector ") {
                    // A collector serves nothing: it is up once it says where it pushes.
                    let _ = tx.send(String::new());
                }
            }
        });
        let mut host = Host {
            child: Some(child),
            stderr: errors,
            stderr_reader: Some(stderr_reader),
            url: String::new(),
            dir,
        };
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => {
                host.url = url;
                Ok(host)
            }
            Err(_) => {
                let status = host.stop();
                // The process is gone: its stderr is complete once the reader has seen the end.
                if let Some(reader) = host.stderr_reader.take() {
                    let _ = reader.join();
                }
                Err(format!(
                    "dbmon did not start ({status:?}); its log:\n{}\nstderr:\n{}",
                    host.log(),
                    host.stderr()
                ))
            }
        }
    }

    /// The host's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dbmon.log")).unwrap_or_default()
    }

    /// What the host wrote to stderr (complete once it has exited).
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Runs the `dbmon` client against this host.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(built_binary("dbmon"))
            .arg("--server")
            .arg(&self.url)
            .args(args)
            .output()
            .expect("run dbmon client")
    }

    /// Runs the `dbmon` client against this host off the async runtime, so that the test's
    /// loopback servers keep answering meanwhile.
    pub async fn cli_async(&self, args: &[&str]) -> Output {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let url = self.url.clone();
        tokio::task::spawn_blocking(move || {
            Command::new(built_binary("dbmon"))
                .arg("--server")
                .arg(url)
                .args(&args)
                .output()
                .expect("run the dbmon client")
        })
        .await
        .expect("cli task")
    }

    /// The host's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Sends SIGTERM and waits up to 10 s for the exit (then kills); returns the exit status.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        crate::stop_child(&mut child, libc::SIGTERM, Duration::from_secs(10))
    }
}

/// How often [`Host::report_when`] asks the host for the newest report.
const REPORT_POLL: Duration = Duration::from_millis(200);

impl Host {
    /// The newest report of `cluster` (`dbmon --json reports CLUSTER --limit 1`) once `done`
    /// holds for it, asked for every 200 ms; panics after `within` with the last report, the
    /// client's last error and the host's log. A line that is not JSON panics at once.
    pub fn report_when(
        &self,
        cluster: &str,
        within: Duration,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let mut poll = ReportPoll::new(cluster, within);
        loop {
            let out = self.cli(&poll.args());
            if let Some(report) = poll.check(self, &out, &done) {
                return report;
            }
            std::thread::sleep(REPORT_POLL);
        }
    }

    /// Like [`report_when`](Self::report_when), running the client off the async runtime so
    /// that the test's loopback servers keep answering meanwhile.
    pub async fn report_when_async(
        &self,
        cluster: &str,
        within: Duration,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let mut poll = ReportPoll::new(cluster, within);
        loop {
            let out = self.cli_async(&poll.args()).await;
            if let Some(report) = poll.check(self, &out, &done) {
                return report;
            }
            tokio::time::sleep(REPORT_POLL).await;
        }
    }
}

/// One [`Host::report_when`] wait: what it asks for, until when, and what it saw last.
struct ReportPoll<'a> {
    cluster: &'a str,
    within: Duration,
    give_up: Instant,
    last: serde_json::Value,
    last_error: String,
}

impl<'a> ReportPoll<'a> {
    fn new(cluster: &'a str, within: Duration) -> Self {
        ReportPoll {
            cluster,
            within,
            give_up: Instant::now() + within,
            last: serde_json::Value::Null,
            last_error: String::new(),
        }
    }

    fn args(&self) -> [&'a str; 5] {
        ["--json", "reports", self.cluster, "--limit", "1"]
    }

    /// The report when `done` holds for the one in `out`; `None` to ask again; a panic once
    /// the time is up.
    fn check(
        &mut self,
        host: &Host,
        out: &Output,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> Option<serde_json::Value> {
        if out.status.success() {
            let text = String::from_utf8_lossy(&out.stdout);
            if let Some(line) = text.lines().next() {
                self.last =
                    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                if done(&self.last) {
                    return Some(self.last.clone());
                }
            }
        } else {
            self.last_error = String::from_utf8_lossy(&out.stderr).into_owned();
        }
        assert!(
            Instant::now() < self.give_up,
            "no such report of {} in {:?}; last report: {:#}\nlast client error: {}\nhost log:\n{}",
            self.cluster,
            self.within,
            self.last,
            self.last_error,
            host.log()
        );
        None
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Every stdout line of a `dbmon --json` command, parsed; panics when the command failed or a
/// line is not JSON.
pub fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    assert!(
        output.status.success(),
        "dbmon failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Where a path sits relative to the workspace root, for tests that read repository files.
pub fn workspace_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}
