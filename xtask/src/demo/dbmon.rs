//! The demo's `dbmon serve`: the binary and the five connector libraries it needs (a release
//! build, as `cargo xtask serve` makes, or `target/debug` as it is with `--debug-binaries`),
//! its dbmon.yaml and plugins folder in the demo's folder, and the client calls that tell
//! whether the clusters report.

use anyhow::{Context, Result, bail};
use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

/// The connectors the demo's clusters use.
const CONNECTORS: [&str; 5] = [
    "dbmon-connector-etcd",
    "dbmon-connector-redis",
    "dbmon-connector-postgres",
    "dbmon-connector-cockroachdb",
    "dbmon-connector-system",
];

/// The programs the demo runs.
pub struct Binaries {
    pub dbmon: PathBuf,
    pub libraries: Vec<PathBuf>,
}

/// Builds the release (as `cargo xtask serve` does: a run after it builds nothing), or, with
/// `debug`, takes the `target/debug` build beside this xtask binary as it is.
pub fn binaries(root: &Path, debug: bool) -> Result<Binaries> {
    let dir = if debug {
        let exe = std::env::current_exe()?;
        exe.parent().context("xtask's folder")?.to_path_buf()
    } else {
        crate::build_host_and_connectors(root, "release")?.0
    };
    let binaries = Binaries {
        dbmon: dir.join("dbmon"),
        libraries: CONNECTORS
            .iter()
            .map(|name| dir.join(format!("lib{}.so", name.replace('-', "_"))))
            .collect(),
    };
    for file in std::iter::once(&binaries.dbmon).chain(&binaries.libraries) {
        if !file.exists() {
            bail!(
                "{} is missing: build the workspace first (`cargo build --workspace`, which \
                 `cargo xtask test` does), or run the demo without --debug-binaries",
                file.display()
            );
        }
    }
    Ok(binaries)
}

/// A running `dbmon serve`; stopped (SIGTERM, then SIGKILL after 10 s) when dropped.
pub struct Serve {
    child: Option<Child>,
    /// The gRPC address, `http://127.0.0.1:PORT`.
    pub url: String,
    /// The status page, `http://127.0.0.1:PORT/`.
    pub web: String,
}

/// A free loopback port: bound, then released.
fn free_port() -> u16 {
    dbmon_test_support::etcd::free_port()
}

impl Serve {
    /// Writes `folder/dbmon.yaml` (the settings and `clusters`), copies the libraries into
    /// `folder/plugins.d`, and starts the host; returns once it serves.
    pub fn start(binaries: &Binaries, folder: &Path, clusters: &str) -> Result<Serve> {
        let plugins = folder.join("plugins.d");
        std::fs::create_dir_all(&plugins)?;
        for library in &binaries.libraries {
            let name = library.file_name().context("a library without a name")?;
            std::fs::copy(library, plugins.join(name))
                .with_context(|| format!("copying {}", library.display()))?;
        }
        let mut last = String::new();
        // The status page's port is chosen before dbmon binds it: another process may take
        // it in between, which costs a retry.
        for _ in 0..3 {
            let web_port = free_port();
            let interval = super::clusters::INTERVAL_SECS;
            let config = format!(
                "# Written by `cargo xtask demo`: the clusters it started, on loopback ports in\n\
                 # this folder, which it removes when it stops.\n\
                 listen: 127.0.0.1:0\n\
                 plugins_dir: plugins.d\n\
                 metrics_listen: 127.0.0.1:{web_port}\n\
                 store: {{ kind: memory, history: 100 }}\n\
                 defaults:\n  interval: {interval}s\n  timeout: 1500ms\n  jitter: 1s\n\
                 {clusters}"
            );
            let path = folder.join("dbmon.yaml");
            std::fs::write(&path, config)?;
            match Self::launch(&binaries.dbmon, folder, &path) {
                Ok(url) => {
                    return Ok(Serve {
                        child: Some(url.0),
                        url: url.1,
                        web: format!("http://127.0.0.1:{web_port}/"),
                    });
                }
                Err(e) => last = e.to_string(),
            }
        }
        bail!("dbmon serve did not start: {last}")
    }

    fn launch(dbmon: &Path, folder: &Path, config: &Path) -> Result<(Child, String)> {
        let log = folder.join("dbmon.log");
        let mut child = Command::new(dbmon)
            .arg("serve")
            .arg("--config")
            .arg(config)
            .args(["--listen", "127.0.0.1:0"])
            .arg("--log-file")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("running {}", dbmon.display()))?;
        let stdout = child.stdout.take().context("dbmon's stdout")?;
        let (tx, rx) = mpsc::channel();
        // Read to the end, so dbmon never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("dbmon serving on ") {
                    let _ = tx.send(url.to_string());
                }
            }
        });
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            if let Ok(url) = rx.recv_timeout(Duration::from_millis(100)) {
                return Ok((child, url));
            }
            if let Ok(Some(status)) = child.try_wait() {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(10).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                bail!(
                    "dbmon exited ({status}); its log ends:\n{}",
                    tail.join("\n")
                );
            }
        }
        dbmon_test_support::stop_child(&mut child, libc::SIGKILL, Duration::from_secs(5));
        bail!("dbmon did not say where it serves within 30 s")
    }

    /// Whether it still runs; its exit status when not.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    /// SIGTERM, then SIGKILL after 10 s.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            dbmon_test_support::stop_child(&mut child, libc::SIGTERM, Duration::from_secs(10));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `dbmon --server URL --json clusters`, one object per cluster.
pub fn clusters(dbmon: &Path, url: &str) -> Result<Vec<serde_json::Value>> {
    let output = Command::new(dbmon)
        .args(["--server", url, "--json", "clusters"])
        .stdin(Stdio::null())
        .output()?;
    if !output.status.success() {
        bail!("{}", String::from_utf8_lossy(&output.stderr).trim());
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).with_context(|| format!("not JSON: {line}")))
        .collect()
}

/// Whether every demo cluster of `ids` reports HEALTHY and this machine (`system`, whose
/// verdict is the machine's own) has reported at all.
pub fn all_healthy(listed: &[serde_json::Value], ids: &[&str]) -> bool {
    ids.iter().all(|id| {
        listed.iter().any(|c| {
            c["id"] == *id
                && if *id == super::clusters::SYSTEM {
                    !matches!(c["status"].as_str(), None | Some("unknown" | "unreachable"))
                } else {
                    c["status"] == "healthy"
                }
        })
    })
}

/// `id: status (reasons)` for each cluster, for a summary.
pub fn describe(listed: &[serde_json::Value]) -> Vec<String> {
    listed
        .iter()
        .map(|c| {
            let reasons: Vec<&str> = c["reasons"]
                .as_array()
                .map(|r| r.iter().filter_map(|x| x.as_str()).collect())
                .unwrap_or_default();
            let status = c["status"].as_str().unwrap_or("?").to_uppercase();
            let id = c["id"].as_str().unwrap_or("?");
            if reasons.is_empty() {
                format!("{id:<11} {status}")
            } else {
                format!("{id:<11} {status}: {}", reasons.join("; "))
            }
        })
        .collect()
}
