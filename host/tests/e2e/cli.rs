//! The client commands as a shell runs them: output into a pipe whose reader has gone, and
//! what `reports` shows of labels and units.

use crate::{cli, json_lines, lib, reports_when};
use dbmon_test_support::{Host, built_binary};
use std::{
    net::TcpStream,
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

/// Runs the client with stdout a pipe whose read end is already closed, as `| head -1` leaves
/// it once head has its line; kills it after `within` if it has not exited.
fn into_closed_pipe(host: &Host, args: &[&str], within: Duration) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut child = Command::new(built_binary("dbmon"))
        .arg("--server")
        .arg(&host.url)
        .args(args)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + within;
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    child.wait_with_output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_exits_quietly_when_the_reader_is_gone() {
    let config = "
clusters:
  - {id: local, connector: system, interval: 500ms, timeout: 400ms}
  - {id: echo, connector: misbehave, interval: 500ms, timeout: 400ms, options: {mode: ok}}
";
    let host = Host::start(config, &[lib("system"), lib("misbehave")]);
    reports_when(&host, "local", 1, Duration::from_secs(15)).await;
    let commands: [&[&str]; 10] = [
        &["connectors"],
        &["--json", "connectors"],
        &["clusters"],
        &["--json", "clusters"],
        &["reports", "local"],
        &["reports", "local", "-v"],
        &["--json", "reports", "local"],
        &["watch"],
        &["--json", "watch"],
        &["run", "echo", "echo", "hello"],
    ];
    // `quiet`: nothing on stderr either (the author's commands log there, so for them only
    // the panic and the status count).
    let ends_quietly = |args: &[&str], quiet: bool| {
        let output =
            tokio::task::block_in_place(|| into_closed_pipe(&host, args, Duration::from_secs(20)));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stderr.contains("panicked"),
            "dbmon {args:?} panicked:\n{stderr}"
        );
        assert!(
            output.status.success() && (stderr.is_empty() || !quiet),
            "dbmon {args:?} did not exit quietly ({}):\n{stderr}",
            output.status
        );
    };
    for args in commands {
        ends_quietly(args, true);
    }
    let library = lib("system");
    let library = library.to_str().unwrap();
    ends_quietly(&["connector", "check", library], false);
    ends_quietly(&["--json", "connector", "check", library], false);
    // A server that cannot be reached is still an error, with its message.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let unreachable = Command::new(built_binary("dbmon"))
        .args(["--server", "http://127.0.0.1:1", "clusters"])
        .stdout(writer)
        .output()
        .unwrap();
    assert!(!unreachable.status.success());
    assert!(String::from_utf8_lossy(&unreachable.stderr).contains("cannot reach the dbmon server"));
}

/// A real redis-server on a free loopback port, killed when dropped.
struct Redis {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    fn start() -> Redis {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--port")
            .arg(port.to_string())
            .arg("--dir")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (Debian package redis-server)");
        let redis = Redis {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        redis
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_show_report_and_node_labels_and_node_units() {
    let redis = Redis::start();
    let config = format!(
        "
clusters:
  - id: cache
    connector: redis
    interval: 500ms
    timeout: 400ms
    endpoints: ['redis://127.0.0.1:{}']
",
        redis.port
    );
    let host = Host::start(&config, &[lib("redis")]);
    reports_when(&host, "cache", 1, Duration::from_secs(20)).await;

    let verbose = cli(&host, &["reports", "cache", "--limit", "1", "-v"]).await;
    let text = String::from_utf8_lossy(&verbose.stdout);
    let line = |start: &str| {
        text.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no line starting {start:?}:\n{text}"))
    };
    assert!(line("  labels ").contains(r#"mode="standalone""#), "{text}");
    let node = line(&format!("  node 127.0.0.1:{}", redis.port));
    assert!(
        node.contains(r#"role="master""#) && node.contains("version="),
        "{text}"
    );
    assert!(
        line("    round_trip_ms ").trim_end().ends_with(" ms"),
        "{text}"
    );

    let json = &json_lines(&cli(&host, &["--json", "reports", "cache", "--limit", "1"]).await)[0];
    // Today's keys stay as they were...
    assert_eq!(json["units"]["memory_used_bytes"], "bytes", "{json}");
    assert_eq!(json["labels"]["mode"], "standalone", "{json}");
    assert_eq!(json["nodes"][0]["labels"]["role"], "master", "{json}");
    assert!(
        json["nodes"][0]["metrics"]["round_trip_ms"].is_number(),
        "{json}"
    );
    // ...and nodes carry the units of their metrics.
    assert_eq!(json["nodes"][0]["units"]["round_trip_ms"], "ms", "{json}");
}
