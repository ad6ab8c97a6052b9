//! Reloading the configuration of a running host: SIGHUP and `dbmon reload` apply only what
//! changed (an added cluster starts with a connector loaded by the reload, a removed one ends
//! with a report saying so, a changed one keeps its history), a file with errors changes
//! nothing and `dbmon reload` exits 2 naming file:line:column, and a loaded library that
//! changed on disk is refused.

use crate::{lib, proto, reports_when};
use dbmon_test_support::{Host, json_lines};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt as _;

fn cluster(id: &str, connector: &str, interval: &str) -> String {
    let options = if connector == "misbehave" {
        ", options: {mode: ok}"
    } else {
        ""
    };
    format!(
        "  - {{id: {id}, connector: {connector}, interval: {interval}, timeout: 150ms, jitter: 0s{options}}}\n"
    )
}

fn write_config(host: &Host, clusters: &[String]) {
    let text = format!("clusters:\n{}", clusters.concat());
    std::fs::write(host.dir.path().join("dbmon.yaml"), text).unwrap();
}

fn hangup(host: &Host) {
    // SAFETY: kill(2) on the test's own child.
    unsafe { libc::kill(host.pid() as libc::pid_t, libc::SIGHUP) };
}

/// The clusters as `dbmon --json clusters` lists them, by id.
fn clusters(host: &Host) -> std::collections::BTreeMap<String, serde_json::Value> {
    json_lines(&host.cli(&["--json", "clusters"]))
        .into_iter()
        .map(|c| (c["id"].as_str().unwrap().to_string(), c))
        .collect()
}

async fn until(host: &Host, what: &str, done: impl Fn(&Host) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done(host) {
        assert!(Instant::now() < deadline, "{what}; log:\n{}", host.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_reload_applies_only_what_changed_and_a_bad_file_changes_nothing() {
    let config = format!(
        "clusters:\n{}{}",
        cluster("kept", "misbehave", "200ms"),
        cluster("gone", "misbehave", "200ms")
    );
    let mut host = Host::start(&config, &[lib("misbehave")]);
    reports_when(&host, "kept", 3, Duration::from_secs(10)).await;
    reports_when(&host, "gone", 1, Duration::from_secs(10)).await;

    // A new library, a new cluster using it, one cluster gone, one with a new interval.
    let plugins = host.dir.path().join("plugins.d");
    std::fs::copy(lib("system"), plugins.join("libdbmon_connector_system.so")).unwrap();
    write_config(
        &host,
        &[
            cluster("kept", "misbehave", "300ms"),
            cluster("new", "system", "200ms"),
        ],
    );
    let before = clusters(&host)["kept"]["reports_stored"].as_u64().unwrap();
    hangup(&host);
    until(&host, "the new cluster reports", |h| {
        clusters(h)
            .get("new")
            .is_some_and(|c| c["reports_stored"].as_u64() > Some(0))
    })
    .await;
    let now = clusters(&host);
    let kept = &now["kept"];
    assert_eq!(kept["interval_ms"], 300.0, "{kept}");
    assert!(
        kept["reports_stored"].as_u64().unwrap() >= before,
        "the changed cluster kept its history: {kept}"
    );
    let gone = json_lines(&host.cli(&["--json", "reports", "gone", "--limit", "1"]));
    assert_eq!(
        gone[0]["error"], "removed from the configuration by a reload",
        "{gone:?}"
    );
    let log = host.log();
    assert!(log.contains("reload: loaded connector system"), "{log}");
    assert!(log.contains("1 added, 1 removed, 1 changed"), "{log}");
    // The removed cluster's agent stopped: no report after the final one.
    let last = gone[0]["sequence"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let again = json_lines(&host.cli(&["--json", "reports", "gone", "--limit", "1"]));
    assert_eq!(again[0]["sequence"].as_u64().unwrap(), last);

    // A file with an error: `dbmon reload` says where and exits 2; nothing changes.
    std::fs::write(
        host.dir.path().join("dbmon.yaml"),
        "clusters:\n  - {id: kept, connector: misbehave, colour: red}\n",
    )
    .unwrap();
    let output = host.cli(&["reload"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("dbmon.yaml:2:") && stderr.contains("colour"),
        "{stderr}"
    );
    let still = clusters(&host);
    assert!(
        still.contains_key("new"),
        "the running configuration stays: {still:?}"
    );

    // A loaded library that changed on disk is refused; the rest reloads. (Its cluster goes
    // first: replacing the file of a library whose instance runs crashed the host in some
    // runs here, SIGSEGV or SIGBUS, although the new file is renamed over the old one.)
    write_config(&host, &[cluster("kept", "misbehave", "300ms")]);
    let output = host.cli(&["--json", "reload"]);
    assert_eq!(
        json_lines(&output)[0]["removed"],
        serde_json::json!(["new"])
    );
    let staged = host.dir.path().join("staged.so");
    std::fs::copy(lib("misbehave"), &staged).unwrap();
    std::fs::rename(&staged, plugins.join("libdbmon_connector_system.so")).unwrap();
    let output = host.cli(&["--json", "reload"]);
    if !output.status.success() {
        let log = host.log();
        let status = host.stop();
        panic!(
            "{output:?}\nhost: {status:?}\nlog:\n{log}\nstderr:\n{}",
            host.stderr()
        );
    }
    let answer = &json_lines(&output)[0];
    let refused = answer["refused"][0].as_str().unwrap_or_default();
    assert!(
        refused.contains("libdbmon_connector_system.so") && refused.contains("new file name"),
        "{answer}"
    );
    assert_eq!(answer["changed"], serde_json::json!([]), "{answer}");
}

/// A loopback address nothing listens on (as far as anyone can tell: the port was free).
fn free_address() -> String {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap().to_string()
}

fn listening_config(listen: &str, metrics_listen: Option<&str>) -> String {
    let metrics = metrics_listen.map_or(String::new(), |m| format!("metrics_listen: {m}\n"));
    format!(
        "listen: {listen}\n{metrics}clusters:\n{}",
        cluster("c", "system", "200ms")
    )
}

/// GET /metrics at `address`: its status, or the connection error.
async fn metrics_status(address: &str) -> Result<u16, String> {
    let client = dbmon_scrape::client(None).unwrap();
    crate::metrics::get(&client, &format!("http://{address}/metrics"), None)
        .await
        .map(|(status, _, _)| status)
}

/// The status page's event stream at `address`, once its answer has begun: a plain HTTP/1.1
/// connection, read to its end by the caller.
async fn event_stream(address: &str) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET /events HTTP/1.1\r\nHost: {address}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    stream
}

#[tokio::test]
async fn a_reload_moves_opens_and_closes_listeners_and_open_connections_go_on() {
    let (grpc_before, metrics_before) = (free_address(), free_address());
    let dir = crate::folder_with_plugins(&[(&lib("system"), "libdbmon_connector_system.so")]);
    let config = listening_config(&grpc_before, Some(&metrics_before));
    let host = Host::start_in_as_configured(dir, &config).unwrap();
    assert_eq!(host.url, format!("http://{grpc_before}"));
    assert_eq!(metrics_status(&metrics_before).await, Ok(200));
    // A connection opened before the move, and a Watch stream on it.
    let mut before = crate::client(&host).await;
    let mut watch = before
        .watch(proto::WatchRequest {
            cluster_ids: vec!["c".into()],
        })
        .await
        .unwrap()
        .into_inner();

    // Both addresses change: the listeners move; the open connection and stream go on.
    let (grpc_after, metrics_after) = (free_address(), free_address());
    let file = host.dir.path().join("dbmon.yaml");
    std::fs::write(&file, listening_config(&grpc_after, Some(&metrics_after))).unwrap();
    let output = host.cli(&["reload"]);
    let said = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "{said}{}", host.log());
    assert!(
        said.contains(&format!("listener listen: {grpc_before} -> {grpc_after}")),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "listener metrics_listen: {metrics_before} -> {metrics_after}"
        )),
        "{said}"
    );
    let moved = format!("http://{grpc_after}");
    let listed = crate::cli_to(&moved, &["--json", "clusters"]).await;
    assert!(listed.status.success(), "{listed:?}");
    assert!(tokio::net::TcpStream::connect(&grpc_before).await.is_err());
    let on_old_connection = before
        .list_clusters(proto::ListClustersRequest {})
        .await
        .expect("the connection made before the move still serves");
    assert_eq!(on_old_connection.into_inner().clusters.len(), 1);
    let event = tokio::time::timeout(Duration::from_secs(10), watch.message()).await;
    assert!(
        matches!(event, Ok(Ok(Some(_)))),
        "the Watch stream opened before the move ended: {event:?}"
    );
    assert_eq!(metrics_status(&metrics_after).await, Ok(200));
    assert!(metrics_status(&metrics_before).await.is_err());

    // An address another process holds: the reload is refused naming the field, nothing moves.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_address = taken.local_addr().unwrap().to_string();
    std::fs::write(
        &file,
        listening_config(&taken_address, Some(&metrics_after)),
    )
    .unwrap();
    let refused = crate::cli_to(&moved, &["reload"]).await;
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let errors = String::from_utf8_lossy(&refused.stderr);
    assert!(
        errors.contains("dbmon.yaml:1:9") && errors.contains("cannot listen on"),
        "{errors}"
    );
    assert!(tokio::net::TcpStream::connect(&grpc_after).await.is_ok());
    drop(taken);

    // metrics_listen removed closes the HTTP listener, and the status page's open event
    // streams with it; set again, it opens.
    let mut events = event_stream(&metrics_after).await;
    std::fs::write(&file, listening_config(&grpc_after, None)).unwrap();
    let closed = crate::cli_to(&moved, &["reload"]).await;
    let said = String::from_utf8_lossy(&closed.stdout).to_string();
    assert!(said.contains("metrics_listen: closed"), "{said}");
    assert!(metrics_status(&metrics_after).await.is_err());
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        let mut buf = [0u8; 4096];
        while matches!(events.read(&mut buf).await, Ok(n) if n > 0) {}
    })
    .await;
    assert!(
        ended.is_ok(),
        "the event stream outlived its closed listener"
    );
    let metrics_again = free_address();
    std::fs::write(&file, listening_config(&grpc_after, Some(&metrics_again))).unwrap();
    let opened = crate::cli_to(&moved, &["reload"]).await;
    let said = String::from_utf8_lossy(&opened.stdout).to_string();
    assert!(said.contains("metrics_listen: opened on"), "{said}");
    assert_eq!(metrics_status(&metrics_again).await, Ok(200));

    // A library the reload refuses is counted in /metrics.
    let junk = host.dir.path().join("plugins.d/libdbmon_connector_junk.so");
    std::fs::write(&junk, b"not a library").unwrap();
    let refusing = crate::cli_to(&moved, &["reload"]).await;
    let said = String::from_utf8_lossy(&refusing.stdout).to_string();
    assert!(said.contains("refused library"), "{said}");
    let client = dbmon_scrape::client(None).unwrap();
    let url = format!("http://{metrics_again}/metrics");
    let (_, _, body) = crate::metrics::get(&client, &url, None).await.unwrap();
    assert!(body.contains("\ndbmon_plugins_refused 1\n"), "{body}");
}

#[tokio::test]
async fn a_reload_changes_the_log_filter_and_a_bad_one_changes_nothing() {
    let dir = crate::folder_with_plugins(&[(&lib("misbehave"), "libdbmon_connector_misbehave.so")]);
    let failing = "  - {id: f, connector: misbehave, interval: 200ms, timeout: 100ms, jitter: 0s, options: {mode: fail}}\n";
    let with_level = |level: &str| format!("log_level: '{level}'\nclusters:\n{failing}");
    let host = Host::start_in_as_configured(dir, &with_level("info")).unwrap();
    reports_when(&host, "f", 3, Duration::from_secs(10)).await;
    // The agent logs a failed collection at debug: not under `info`.
    assert!(!host.log().contains("collection failed"), "{}", host.log());

    let file = host.dir.path().join("dbmon.yaml");
    std::fs::write(&file, with_level("info,dbmon=debug")).unwrap();
    let output = host.cli(&["reload"]);
    let said = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        said.contains("setting log_level: info -> info,dbmon=debug"),
        "{said}"
    );
    until(&host, "debug lines after the reload", |h| {
        h.log().contains("collection failed")
    })
    .await;

    std::fs::write(&file, with_level("info,dbmon=nonsense-level")).unwrap();
    let refused = host.cli(&["reload"]);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let errors = String::from_utf8_lossy(&refused.stderr);
    assert!(
        errors.contains("dbmon.yaml:1:12") && errors.contains("is not a log filter"),
        "{errors}"
    );
}
