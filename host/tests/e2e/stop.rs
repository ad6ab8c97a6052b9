//! Signals: SIGTERM ends the host within its grace period whatever clients do, and open streams
//! learn why; SIGHUP reopens the log file and never ends the process.

use crate::{client, lib, reports_when};
use dbmon_proto as proto;
use dbmon_test_support::Host;
use std::time::{Duration, Instant};

const CONFIG: &str = "
store: {history: 5}
api: {shutdown_grace: 1s}
clusters:
  - {id: big, connector: misbehave, interval: 100ms, timeout: 90ms, jitter: 0s, options: {mode: ok, series: 2000}}
";

fn signal(host: &Host, signal: libc::c_int) {
    // SAFETY: kill(2) on the test's own child.
    unsafe { libc::kill(host.pid() as libc::pid_t, signal) };
}

#[tokio::test]
async fn sigterm_ends_the_host_within_the_grace_period_despite_a_stalled_watcher() {
    let mut host = Host::start(CONFIG, &[lib("misbehave")]);
    reports_when(&host, "big", 2, Duration::from_secs(10)).await;
    // A watcher that never reads (with a small window, so that it stalls soon): the server's
    // sends to it block on flow control.
    let mut grpc = crate::small_window_client(&host.url).await;
    let _stalled = grpc
        .watch(proto::WatchRequest {
            cluster_ids: vec![],
        })
        .await
        .expect("Watch")
        .into_inner();
    // And one that reads, to see how its stream ends.
    let mut reader = client(&host)
        .await
        .watch(proto::WatchRequest {
            cluster_ids: vec![],
        })
        .await
        .expect("Watch")
        .into_inner();
    reader.message().await.expect("stream").expect("a report");
    tokio::time::sleep(Duration::from_secs(1)).await;

    let asked = Instant::now();
    signal(&host, libc::SIGTERM);
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match reader.message().await {
                Ok(Some(_)) => continue,
                Ok(None) => return None,
                Err(status) => return Some(status),
            }
        }
    })
    .await
    .expect("the reading watcher's stream ends within 10 s");
    let end = end.expect("the stream must not end with OK when the server stops");
    assert_eq!(end.code(), tonic::Code::Unavailable, "{end:?}");
    assert!(end.message().contains("stopping"), "{end:?}");

    // The grace is 1 s here; Host::stop kills after 10 s.
    let status = tokio::task::spawn_blocking(move || {
        let status = host.stop();
        (status, host)
    })
    .await
    .unwrap();
    let took = asked.elapsed();
    let (status, host) = status;
    assert!(
        status.is_some_and(|s| s.success()),
        "exit {status:?} after {took:?}; log:\n{}",
        host.log()
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[tokio::test]
async fn dbmon_watch_says_the_server_is_stopping_and_exits_non_zero() {
    let mut host = Host::start(CONFIG, &[lib("misbehave")]);
    reports_when(&host, "big", 1, Duration::from_secs(10)).await;
    let url = host.url.clone();
    let watch = tokio::task::spawn_blocking(move || {
        std::process::Command::new(dbmon_test_support::built_binary("dbmon"))
            .args(["--server", &url, "--json", "watch"])
            .stdout(std::process::Stdio::null())
            .output()
            .expect("run dbmon watch")
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    tokio::task::spawn_blocking(move || host.stop())
        .await
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(15), watch)
        .await
        .expect("dbmon watch ends")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("stopping"), "{stderr}");
}

#[tokio::test]
async fn sighup_reopens_the_log_file_and_the_host_keeps_serving() {
    let host = Host::start(CONFIG, &[lib("misbehave")]);
    reports_when(&host, "big", 1, Duration::from_secs(10)).await;
    let log = host.dir.path().join("dbmon.log");
    let rotated = host.dir.path().join("dbmon.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    signal(&host, libc::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !host.log().contains("reopened the log file") {
        assert!(
            Instant::now() < deadline,
            "no new log after SIGHUP: {:?}",
            host.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A second SIGHUP, as the next rotation sends.
    signal(&host, libc::SIGHUP);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = reports_when(&host, "big", 1, Duration::from_secs(5)).await[0].sequence;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let later = reports_when(&host, "big", 1, Duration::from_secs(5)).await[0].sequence;
    assert!(later > seen, "the host stopped collecting after SIGHUP");
    assert!(
        std::fs::read_to_string(&rotated)
            .unwrap()
            .contains("serving on")
    );
}
