//! The collector and the server as two real processes: reports flow over the ingest stream
//! with mutual TLS and tokens, commands go back through it, a killed server loses nothing the
//! collector made and stores nothing twice, and a collector that goes away leaves its clusters
//! stale with the reason until it returns.

use crate::lib;
use dbmon_test_support::{Host, TestCa, json_lines};
use sha2::Digest;
use std::{
    process::Output,
    time::{Duration, Instant},
};

const COLLECTOR_TOKEN: &str = "collector-secret-0123456789abcdef";
const OPS_TOKEN: &str = "ops-secret-fedcba9876543210";

fn sha256(text: &str) -> String {
    dbmon::security::certs::hex(&sha2::Sha256::digest(text.as_bytes()))
}

/// A CA, the server's certificate for 127.0.0.1, client certificates for the collector `c1`
/// and the operator, and the two tokens, in one folder.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("dbmon split CA");
        ca.write(dir.path());
        ca.server_cert(&["127.0.0.1", "localhost"])
            .write(dir.path(), "server");
        ca.client_cert("c1").write(dir.path(), "c1");
        ca.client_cert("ops").write(dir.path(), "ops");
        std::fs::write(dir.path().join("c1.token"), format!("{COLLECTOR_TOKEN}\n")).unwrap();
        std::fs::write(dir.path().join("ops.token"), OPS_TOKEN).unwrap();
        Pki { dir }
    }

    fn at(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// The server's `tls:` (client certificates required) and `auth:` (the collector may
    /// only push; the operator reads and runs commands).
    fn server_security(&self) -> String {
        format!(
            "tls: {{cert: {}, key: {}, client_ca: {}, client_auth: required}}\n\
             auth:\n  tokens:\n\
             \x20   - {{name: c1, sha256: {}, roles: [ingest]}}\n\
             \x20   - {{name: ops, sha256: {}, roles: [read, command]}}\n",
            self.at("server.crt"),
            self.at("server.key"),
            self.at("ca.crt"),
            sha256(COLLECTOR_TOKEN),
            sha256(OPS_TOKEN),
        )
    }

    /// The collector's `collector:` block for `upstream`.
    fn collector_block(&self, upstream: &str) -> String {
        format!(
            "collector: {{id: c1, upstream: '{upstream}', ca: {}, cert: {}, key: {}, token_file: {}}}\n",
            self.at("ca.crt"),
            self.at("c1.crt"),
            self.at("c1.key"),
            self.at("c1.token"),
        )
    }

    /// The operator's CLI flags.
    fn cli_flags(&self) -> Vec<String> {
        vec![
            "--ca".into(),
            self.at("ca.crt"),
            "--cert".into(),
            self.at("ops.crt"),
            "--key".into(),
            self.at("ops.key"),
            "--token-file".into(),
            self.at("ops.token"),
        ]
    }
}

const CLUSTER: &str = "clusters:\n  - {id: edge, connector: misbehave, interval: 200ms, timeout: 150ms, jitter: 0s, options: {mode: ok, series: 3}}\n";

/// A server on `port` (0: any) with `extra` config (TLS, auth, store), no clusters of its own.
fn server(extra: &str, port: u16) -> Host {
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{port}");
    Host::start_in_with(dir, extra, &["--role", "server", "--listen", &listen])
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A collector of the `edge` cluster pushing to `upstream`.
fn collector(config: &str) -> Host {
    let dir = crate::folder_with_plugins(&[(&lib("misbehave"), "libdbmon_connector_misbehave.so")]);
    Host::start_in_with(dir, config, &["--role", "collector"]).unwrap_or_else(|e| panic!("{e}"))
}

/// The CLI against `url` with `args`, off the async runtime.
async fn cli(url: &str, args: Vec<String>) -> Output {
    crate::cli_to(url, &args).await
}

async fn cli_json(url: &str, flags: &[String], args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = flags.to_vec();
    all.push("--json".into());
    all.extend(args.iter().map(|a| a.to_string()));
    json_lines(&cli(url, all).await)
}

/// The clusters of `url`, once `ready` holds for them (or panics after `within`, with `log`).
async fn clusters_when(
    url: &str,
    flags: &[String],
    within: Duration,
    log: impl Fn() -> String,
    ready: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + within;
    loop {
        let clusters = cli_json(url, flags, &["clusters"]).await;
        if ready(&clusters) {
            return clusters;
        }
        assert!(
            Instant::now() < deadline,
            "not ready after {within:?}: {clusters:?}\nlog:\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn reports_of(cluster: &serde_json::Value) -> u64 {
    cluster["reports_stored"].as_u64().unwrap_or(0)
}

fn kill9(host: &Host) {
    // SAFETY: kill(2) on the test's own child.
    unsafe { libc::kill(host.pid() as libc::pid_t, libc::SIGKILL) };
}

#[tokio::test]
async fn a_collector_pushes_over_mutual_tls_with_a_token_and_commands_run_through_the_server() {
    let pki = Pki::new();
    let server = server(&pki.server_security(), 0);
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let collector = collector(&format!("{}{CLUSTER}", pki.collector_block(&server.url)));
    let flags = pki.cli_flags();
    let log = || format!("server:\n{}\ncollector:\n{}", server.log(), collector.log());
    let clusters = clusters_when(&server.url, &flags, Duration::from_secs(20), log, |c| {
        c.len() == 1 && reports_of(&c[0]) >= 3
    })
    .await;
    let edge = &clusters[0];
    assert_eq!(edge["id"], "edge");
    assert_eq!(edge["collector"], "c1");
    assert_eq!(edge["status"], "healthy");
    assert!(edge["last_push"].is_string(), "{edge}");

    let collectors = cli_json(&server.url, &flags, &["collectors"]).await;
    assert_eq!(collectors.len(), 1, "{collectors:?}");
    let c1 = &collectors[0];
    assert_eq!(c1["id"], "c1");
    assert_eq!(c1["connected"], true);
    assert_eq!(c1["clusters"], serde_json::json!(["edge"]));
    assert_eq!(c1["identity"], "token 'c1'", "{c1}");
    assert!(c1["reports_stored"].as_u64().unwrap() >= 3);

    // The server loads no connector; it lists those its collectors loaded.
    let connectors = cli_json(&server.url, &flags, &["connectors"]).await;
    let names: Vec<&str> = connectors
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["misbehave"], "{connectors:?}");

    // The table shows who collects the cluster.
    let mut table = flags.clone();
    table.push("clusters".into());
    let text = String::from_utf8_lossy(&cli(&server.url, table).await.stdout).into_owned();
    assert!(text.contains("COLLECTOR") && text.contains("c1"), "{text}");

    // A command reaches the collector's connector and its answer comes back.
    let mut run = flags.clone();
    run.extend(["run", "edge", "echo", "hello", "there"].map(String::from));
    let output = cli(&server.url, run).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "hello there"
    );
    // The connector's own refusal keeps its code on the way back.
    let mut unknown = flags.clone();
    unknown.extend(["run", "edge", "nope"].map(String::from));
    let output = cli(&server.url, unknown).await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("has no command 'nope'"), "{stderr}");

    // The collector's token may push but not read.
    let mut as_collector = vec!["--ca".to_string(), pki.at("ca.crt"), "--cert".into()];
    as_collector.extend([pki.at("c1.crt"), "--key".into(), pki.at("c1.key")]);
    as_collector.extend(["--token-file".into(), pki.at("c1.token"), "clusters".into()]);
    let refused = cli(&server.url, as_collector).await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("read"), "names the missing role: {stderr}");
    for secret in [COLLECTOR_TOKEN, OPS_TOKEN] {
        assert!(!server.log().contains(secret) && !collector.log().contains(secret));
    }
}

#[tokio::test]
async fn a_collector_without_the_ingest_role_is_refused_and_says_so() {
    let pki = Pki::new();
    // The operator's token (read, command) in the collector's token file.
    std::fs::copy(
        pki.dir.path().join("ops.token"),
        pki.dir.path().join("c1.token"),
    )
    .unwrap();
    let server = server(&pki.server_security(), 0);
    let collector = collector(&format!("{}{CLUSTER}", pki.collector_block(&server.url)));
    let deadline = Instant::now() + Duration::from_secs(15);
    while !collector.log().contains("ingest") {
        assert!(
            Instant::now() < deadline,
            "collector log:\n{}",
            collector.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let line = collector
        .log()
        .lines()
        .find(|l| l.contains("cannot push"))
        .map(String::from)
        .unwrap_or_else(|| panic!("no refusal in the collector's log:\n{}", collector.log()));
    assert!(line.contains("ingest"), "names the missing role: {line}");
    let flags = pki.cli_flags();
    let collectors = cli_json(&server.url, &flags, &["collectors"]).await;
    assert!(collectors.is_empty(), "{collectors:?}");
}

/// Every collector sequence of `c1` the server stores for `edge`, oldest first.
async fn collector_sequences(url: &str, flags: &[String]) -> Vec<u64> {
    let reports = cli_json(url, flags, &["reports", "edge", "--limit", "0"]).await;
    let mut sequences: Vec<u64> = reports
        .iter()
        .map(|r| {
            assert_eq!(r["collector"], "c1", "{r}");
            r["collector_sequence"].as_u64().unwrap()
        })
        .collect();
    sequences.reverse();
    sequences
}

#[tokio::test]
async fn a_server_killed_while_the_collector_pushes_loses_nothing_and_stores_nothing_twice() {
    let store = tempfile::tempdir().unwrap();
    let extra = format!(
        "store: {{kind: file, path: {}, history: 1000}}\n",
        store.path().display()
    );
    let first = server(&extra, 0);
    let port: u16 = first.url.rsplit(':').next().unwrap().parse().unwrap();
    let collector = collector(&format!(
        "collector: {{id: c1, upstream: '{}'}}\n{CLUSTER}",
        first.url
    ));
    let flags: Vec<String> = Vec::new();
    clusters_when(
        &first.url,
        &flags,
        Duration::from_secs(20),
        || first.log(),
        |c| c.len() == 1 && reports_of(&c[0]) >= 5,
    )
    .await;
    let before = collector_sequences(&first.url, &flags).await;
    kill9(&first);
    drop(first);
    // The collector goes on collecting while the server is away.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let second = server(&extra, port);
    let log = || format!("server:\n{}\ncollector:\n{}", second.log(), collector.log());
    // Everything made meanwhile arrives within a few seconds of the restart.
    let deadline = Instant::now() + Duration::from_secs(15);
    let sequences = loop {
        let sequences = collector_sequences(&second.url, &flags).await;
        let collectors = cli_json(&second.url, &flags, &["collectors"]).await;
        let caught_up = collectors
            .first()
            .is_some_and(|c| c["connected"] == true && c["buffered_reports"].as_u64() <= Some(2));
        if caught_up && sequences.len() > before.len() + 10 {
            break sequences;
        }
        assert!(Instant::now() < deadline, "{sequences:?}\n{}", log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Each collection once, none missing: 1, 2, 3, ... with no gap and no repeat.
    let expected: Vec<u64> = (1..=*sequences.last().unwrap()).collect();
    assert_eq!(sequences, expected, "{}", log());
    assert!(
        sequences.starts_with(&before),
        "what was stored before the kill is kept"
    );
}

#[tokio::test]
async fn a_collector_that_goes_away_leaves_its_clusters_stale_with_the_reason_until_it_returns() {
    let server = server("clusters: []\n", 0);
    let config = format!(
        "collector: {{id: c1, upstream: '{}'}}\n{CLUSTER}",
        server.url
    );
    let first = collector(&config);
    let flags: Vec<String> = Vec::new();
    clusters_when(
        &server.url,
        &flags,
        Duration::from_secs(20),
        || server.log(),
        |c| c.len() == 1 && reports_of(&c[0]) >= 2,
    )
    .await;
    kill9(&first);
    drop(first);
    // Three intervals (200ms) and the timeout later, the cluster is stale, and says why.
    let log = || server.log();
    let clusters = clusters_when(&server.url, &flags, Duration::from_secs(10), log, |c| {
        c[0]["stale"] == true
    })
    .await;
    let reason = clusters[0]["stale_reason"].as_str().unwrap();
    assert!(reason.contains("collector 'c1' disconnected"), "{reason}");
    // A command for it cannot reach its collector: UNAVAILABLE, naming it.
    let output = cli(
        &server.url,
        ["run", "edge", "echo", "hi"].map(String::from).to_vec(),
    )
    .await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("collector 'c1'") && stderr.contains("not connected"),
        "{stderr}"
    );
    let stored = reports_of(&clusters[0]);

    let _second = collector(&config);
    let clusters = clusters_when(
        &server.url,
        &flags,
        Duration::from_secs(20),
        || server.log(),
        |c| c[0]["stale"] == false && reports_of(&c[0]) > stored,
    )
    .await;
    assert_eq!(clusters[0]["collector"], "c1");
    let collectors = cli_json(&server.url, &flags, &["collectors"]).await;
    assert_eq!(collectors[0]["connected"], true);
}

#[test]
fn a_collector_needs_an_upstream_and_says_where_to_set_it() {
    let dir = tempfile::tempdir().unwrap();
    let (output, stderr) = crate::serve_until_exit(
        dir.path(),
        "dbmon.yaml",
        "clusters: []\n",
        &["--role", "collector"],
    );
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--upstream"), "{stderr}");
    let (output, stderr) = crate::serve_until_exit(
        dir.path(),
        "dbmon.yaml",
        "collector:\n  upstream: server:4000\nclusters: []\n",
        &["--role", "collector"],
    );
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("dbmon.yaml:2:") && stderr.contains("not a server URL"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_collector_with_two_upstreams_fails_over_when_its_server_dies() {
    let first = server("clusters: []\n", 0);
    let second = server("clusters: []\n", 0);
    let collector = collector(&format!(
        "collector: {{id: c1, upstream: ['{}', '{}']}}\n{CLUSTER}",
        first.url, second.url
    ));
    let flags: Vec<String> = Vec::new();
    clusters_when(
        &first.url,
        &flags,
        Duration::from_secs(20),
        || first.log(),
        |c| c.len() == 1 && reports_of(&c[0]) >= 2,
    )
    .await;
    let before = collector_sequences(&first.url, &flags).await;
    kill9(&first);
    drop(first);
    // The second server gets the collector, and every report the first did not acknowledge.
    let log = || format!("server:\n{}\ncollector:\n{}", second.log(), collector.log());
    let clusters = clusters_when(&second.url, &flags, Duration::from_secs(15), log, |c| {
        c.len() == 1 && reports_of(&c[0]) >= 3
    })
    .await;
    assert_eq!(clusters[0]["collector"], "c1");
    let after = collector_sequences(&second.url, &flags).await;
    // What the first acknowledged stays there (its memory store went with it); the second
    // takes over from there, without a gap.
    assert!(after[0] > before[0], "{before:?} then {after:?}");
    let expected: Vec<u64> = (after[0]..=*after.last().unwrap()).collect();
    assert_eq!(after, expected, "no gap, no repeat on the second server");
}

#[tokio::test]
async fn a_reloaded_collector_tells_its_server_of_its_new_clusters_in_the_same_session() {
    let server = server("clusters: []\n", 0);
    let head = format!("collector: {{id: c1, upstream: '{}'}}\n", server.url);
    let first = collector(&format!("{head}{CLUSTER}"));
    let flags: Vec<String> = Vec::new();
    clusters_when(
        &server.url,
        &flags,
        Duration::from_secs(20),
        || server.log(),
        |c| c.len() == 1 && reports_of(&c[0]) >= 2,
    )
    .await;
    let more = CLUSTER.replace("id: edge", "id: edge-2");
    let text = format!("{head}{CLUSTER}{}", more.trim_start_matches("clusters:\n"));
    std::fs::write(first.dir.path().join("dbmon.yaml"), text).unwrap();
    // SAFETY: kill(2) on the test's own child.
    unsafe { libc::kill(first.pid() as libc::pid_t, libc::SIGHUP) };
    let log = || format!("server:\n{}\ncollector:\n{}", server.log(), first.log());
    let clusters = clusters_when(&server.url, &flags, Duration::from_secs(20), log, |c| {
        c.len() == 2 && c.iter().all(|c| reports_of(c) >= 2)
    })
    .await;
    assert!(
        clusters.iter().all(|c| c["collector"] == "c1"),
        "{clusters:?}"
    );
    assert!(
        !server.log().contains("ended the session"),
        "the session went on:\n{}",
        server.log()
    );
}
