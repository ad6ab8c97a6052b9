//! `cargo xtask demo` as a person runs it, on `target/debug`'s dbmon and connectors
//! (`--debug-binaries`: `cargo xtask test` builds them first; this test builds nothing): every
//! cluster reports healthy, a second demo says one runs, faults turn their cluster's verdict
//! with its reason within two intervals, `heal` brings them back, and SIGINT stops every
//! process and removes the folder. Needs etcd (etcd-server), redis-server and PostgreSQL.

use std::{
    io::{BufRead, BufReader},
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

/// The demo's collection interval; a fault must show within two of them.
const INTERVAL: Duration = Duration::from_secs(2);
/// Slack on top of that for a loaded machine (two cores shared by parallel tests).
const SLACK: Duration = Duration::from_secs(10);

/// The demo clusters that must report healthy (`local`, this machine, has its own verdict).
const DEMO_CLUSTERS: [&str; 4] = ["demo-etcd", "demo-redis", "demo-pg", "demo-crdb"];

/// A running demo; interrupted (SIGINT), then killed, when dropped, with whatever it left
/// killed too, so a failing test leaves nothing behind.
struct Demo {
    child: Option<Child>,
    output: Arc<Mutex<String>>,
    folder: Option<PathBuf>,
}

fn dbmon() -> PathBuf {
    Path::new(XTASK).with_file_name("dbmon")
}

/// Collects a pipe's lines into `sink`.
fn collect(pipe: impl std::io::Read + Send + 'static, sink: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            let mut sink = sink.lock().unwrap();
            sink.push_str(&line);
            sink.push('\n');
        }
    });
}

impl Demo {
    fn start(state: &Path) -> Demo {
        let mut command = Command::new(XTASK);
        // Should this test's process be killed (a CI timeout), the demo stops too.
        // SAFETY: prctl(2) only, between fork and exec.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            })
        };
        let mut child = command
            .args(["demo", "--debug-binaries", "--state"])
            .arg(state)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run xtask demo");
        let output = Arc::new(Mutex::new(String::new()));
        collect(child.stdout.take().unwrap(), Arc::clone(&output));
        collect(child.stderr.take().unwrap(), Arc::clone(&output));
        Demo {
            child: Some(child),
            output,
            folder: None,
        }
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// The rest of the first output line that starts with `prefix`.
    fn line(&mut self, prefix: &str, within: Duration) -> String {
        let until = Instant::now() + within;
        loop {
            let found = self
                .output()
                .lines()
                .find_map(|l| l.strip_prefix(prefix).map(str::to_string));
            if let Some(rest) = found {
                return rest;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("the demo exited ({status}):\n{}", self.output());
            }
            assert!(
                Instant::now() < until,
                "no '{prefix}' within {within:?}:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends SIGINT and waits for the exit.
    fn interrupt(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
        let until = Instant::now() + within;
        while Instant::now() < until {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.interrupt(Duration::from_secs(30));
        if let Some(folder) = &self.folder {
            for pid in leftovers(folder) {
                // SAFETY: kill(2) on a process of the demo this test started.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
            let _ = std::fs::remove_dir_all(folder);
        }
    }
}

/// Processes of the demo that used `folder`: its marker in their environment, or working
/// inside it.
fn leftovers(folder: &Path) -> Vec<u32> {
    let marker = format!("DBMON_DEMO={}", folder.display());
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            let marked = environ
                .split(|&b| b == 0)
                .any(|var| var == marker.as_bytes());
            let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_default();
            marked || cwd.starts_with(folder)
        })
        .collect()
}

/// Runs xtask with `args`, killed after 120 s.
fn xtask(args: &[&str], state: &Path) -> Output {
    let mut child = Command::new(XTASK)
        .args(args)
        .arg("--state")
        .arg(state)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run xtask");
    let until = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > until {
            let _ = child.kill();
            panic!("xtask {args:?} still running after 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The body of a plain HTTP GET of `url` (`http://127.0.0.1:PORT/path`).
fn http_get(url: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (address, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = std::net::TcpStream::connect(address).expect("the status page answers");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    answer
}

/// `dbmon --json clusters`: (id, status, reasons) of each cluster.
fn clusters(server: &str) -> Vec<(String, String, Vec<String>)> {
    let output = Command::new(dbmon())
        .args(["--server", server, "--json", "clusters"])
        .output()
        .expect("run dbmon");
    if !output.status.success() {
        return Vec::new();
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let c: serde_json::Value = serde_json::from_str(line).expect("JSON");
            let reasons = c["reasons"].as_array().unwrap().iter();
            (
                c["id"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
                reasons.map(|r| r.as_str().unwrap().to_string()).collect(),
            )
        })
        .collect()
}

/// Polls the clusters until `done` holds; how long that took, or a panic with the last list.
fn until(
    server: &str,
    what: &str,
    within: Duration,
    done: impl Fn(&[(String, String, Vec<String>)]) -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        let listed = clusters(server);
        if done(&listed) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "{what}: not within {within:?}; clusters: {listed:#?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn status<'a>(
    listed: &'a [(String, String, Vec<String>)],
    id: &str,
) -> Option<&'a (String, String, Vec<String>)> {
    listed.iter().find(|c| c.0 == id)
}

fn all_healthy(listed: &[(String, String, Vec<String>)]) -> bool {
    DEMO_CLUSTERS
        .iter()
        .all(|id| status(listed, id).is_some_and(|c| c.1 == "healthy"))
        && status(listed, "local").is_some_and(|c| c.1 != "unknown")
}

/// Injects `fault` and waits for `cluster` to turn `degraded` with a reason containing each of
/// `reasons`; returns how long that took.
fn fault(server: &str, state: &Path, name: &str, cluster: &str, reasons: &[&str]) -> Duration {
    let before = clusters(server);
    assert!(
        status(&before, cluster).is_some_and(|c| c.1 == "healthy"),
        "{cluster} before {name}: {before:?}"
    );
    let started = Instant::now();
    let answer = xtask(&["demo", "fault", name], state);
    eprintln!(
        "{name} injected in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let said = text(&answer);
    assert!(answer.status.success(), "{said}");
    assert!(said.contains(&format!("{cluster} ")), "{said}");
    assert!(said.contains("within 4 s"), "{said}");
    for reason in reasons {
        assert!(
            said.contains(reason),
            "the fault does not announce {reason:?}: {said}"
        );
    }
    until(server, name, 2 * INTERVAL + SLACK, |listed| {
        status(listed, cluster).is_some_and(|c| {
            c.1 == "degraded" && reasons.iter().all(|r| c.2.iter().any(|x| x.contains(r)))
        })
    });
    started.elapsed()
}

#[test]
fn the_demo_runs_real_clusters_turns_faults_into_verdicts_and_leaves_nothing() {
    let state = tempfile::tempdir().unwrap();
    let mut demo = Demo::start(state.path());
    let folder = PathBuf::from(demo.line(
        "dbmon demo: starting its clusters in ",
        Duration::from_secs(30),
    ));
    demo.folder = Some(folder.clone());
    let started = Instant::now();
    let server = demo.line("dbmon serving on ", Duration::from_secs(180));
    let out = demo.output();
    assert!(
        !out.contains("going on without it"),
        "a cluster is missing:\n{out}"
    );
    until(
        &server,
        "every cluster healthy",
        Duration::from_secs(120),
        all_healthy,
    );
    eprintln!(
        "every cluster healthy {:.1} s after the start",
        started.elapsed().as_secs_f64()
    );

    // The status page the demo names lists its clusters.
    let out = demo.output();
    let web = out
        .lines()
        .find(|l| l.ends_with("# the web status page"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no status page named:\n{out}"));
    let page = http_get(&format!("{web}api/clusters"));
    for id in DEMO_CLUSTERS {
        assert!(
            page.contains(&format!("\"{id}\"")),
            "{id} not on {web}: {page}"
        );
    }

    // A second demo on the same state folder says so and leaves the first alone.
    let second = xtask(&["demo", "--debug-binaries"], state.path());
    assert!(!second.status.success());
    let said = text(&second);
    assert!(said.contains("a demo is already running (pid "), "{said}");
    assert!(said.contains(&server), "{said}");

    let took = fault(
        &server,
        state.path(),
        "crdb-node-draining",
        "demo-crdb",
        &[
            "node 2 (roach2:26257) is draining (node liveness)",
            "node 2 (roach2:26257) not ready",
        ],
    );
    eprintln!("crdb-node-draining shown after {:.1} s", took.as_secs_f64());
    let took = fault(
        &server,
        state.path(),
        "pg-replica-down",
        "demo-pg",
        &[
            "not answering: cannot connect",
            "expected replica 'demo-replica' is not streaming",
        ],
    );
    eprintln!("pg-replica-down shown after {:.1} s", took.as_secs_f64());
    let again = xtask(&["demo", "fault", "pg-replica-down"], state.path());
    assert!(!again.status.success(), "{}", text(&again));

    let healed = xtask(&["demo", "fault", "heal"], state.path());
    assert!(healed.status.success(), "{}", text(&healed));
    let took = until(
        &server,
        "healthy after heal",
        Duration::from_secs(60),
        all_healthy,
    );
    eprintln!("healthy {:.1} s after heal", took.as_secs_f64());

    let stopping = Instant::now();
    let status = demo.interrupt(Duration::from_secs(60));
    eprintln!(
        "stopped {:.1} s after SIGINT",
        stopping.elapsed().as_secs_f64()
    );
    let out = demo.output();
    assert!(status.is_some_and(|s| s.success()), "{status:?}:\n{out}");
    assert!(
        out.contains(&format!("removed {}", folder.display())),
        "{out}"
    );
    assert!(!folder.exists(), "{} is still there", folder.display());
    let left = leftovers(&folder);
    assert!(left.is_empty(), "processes left behind: {left:?}");
    assert!(!state.path().join("control.sock").exists());
    let gone = xtask(&["demo", "fault", "heal"], state.path());
    assert!(!gone.status.success());
    assert!(
        text(&gone).contains("no demo is running"),
        "{}",
        text(&gone)
    );
}
