//! The connector author's path, as someone outside the project walks it: `dbmon connector new`,
//! the project's own `cargo build` and `cargo test` (the conformance kit), `dbmon connector
//! check`, then the library loaded by a `dbmon serve` built before it, reporting. The project
//! lives outside the workspace and builds with no flags, against the SDK `new` copied into it.

use crate::{cli, json_lines, lib, reports_when};
use dbmon_proto as proto;
use dbmon_test_support::{Host, built_binary};
use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Output},
    time::Duration,
};

fn dbmon(args: &[&str]) -> Output {
    Command::new(built_binary("dbmon"))
        .args(args)
        .output()
        .expect("run dbmon")
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs cargo in the generated project as its author would: no flags, the registry as it is
/// (no lock file copied in, not `--offline`), nothing of the harness's cargo environment. The
/// target folder is a scratch one of its own (not the workspace's), kept between runs so that
/// a rerun compiles only the SDK and the project; the shared CARGO_HOME keeps downloads.
fn cargo(project: &Path, args: &[&str]) -> Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // At a lower priority, so that the hosts of tests running meanwhile keep their schedules.
    let mut command = Command::new("nice");
    command.arg(cargo).args(args).current_dir(project);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if (key.starts_with("CARGO_") || key.starts_with("__CARGO")) && key != "CARGO_HOME" {
            command.env_remove(&*key);
        }
    }
    command
        .env("CARGO_TARGET_DIR", author_target())
        .output()
        .expect("run cargo")
}

fn author_target() -> PathBuf {
    built_binary("dbmon")
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("author-test")
}

/// `127.0.0.1:PORT` where nothing listens.
fn closed_port() -> String {
    let released = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    released.local_addr().unwrap().to_string()
}

#[tokio::test]
async fn a_new_project_builds_passes_its_kit_checks_and_reports_from_a_prebuilt_host() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("hello");
    // No --sdk-path: the project must build with what this binary carries.
    let new = dbmon(&[
        "connector",
        "new",
        "hello",
        "--path",
        project.to_str().unwrap(),
    ]);
    assert!(new.status.success(), "{}", text(&new));
    assert!(
        String::from_utf8_lossy(&new.stdout).contains("vendor/connector-api"),
        "{}",
        text(&new)
    );
    let manifest = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("dbmon-connector-api = { path = \"vendor/connector-api\""),
        "{manifest}"
    );
    let vendored = project.join("vendor/connector-api/Cargo.toml");
    let vendored = std::fs::read_to_string(vendored).unwrap();
    let inherits = |line: &&str| !line.starts_with('#') && line.contains("workspace");
    assert_eq!(vendored.lines().find(inherits), None, "{vendored}");

    let built = cargo(&project, &["build"]);
    assert!(built.status.success(), "cargo build: {}", text(&built));
    let tested = cargo(&project, &["test"]);
    assert!(tested.status.success(), "cargo test: {}", text(&tested));
    let tests_run = String::from_utf8_lossy(&tested.stdout);
    assert!(
        tests_run.contains("test passes_the_conformance_kit ... ok"),
        "{tests_run}"
    );

    let library = author_target().join("debug/libdbmon_connector_hello.so");
    let checked = dbmon(&["connector", "check", library.to_str().unwrap()]);
    assert!(checked.status.success(), "{}", text(&checked));
    let out = String::from_utf8_lossy(&checked.stdout);
    for line in [
        "name           hello",
        "version        0.1.0",
        "verdict        would load",
    ] {
        assert!(out.contains(line), "{line:?} in:\n{out}");
    }
    assert!(out.contains("commands       probe: "), "{out}");

    // A listener that accepts, and a port nothing listens on.
    let up_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let up = up_listener.local_addr().unwrap().to_string();
    let down = closed_port();
    let cluster = dir.path().join("cluster.yaml");
    let entry = format!("id: web\nconnector: hello\nendpoints: [{up}, {down}]\ntimeout: 1s\n");
    std::fs::write(&cluster, entry).unwrap();
    let checked = dbmon(&[
        "connector",
        "check",
        library.to_str().unwrap(),
        "--config",
        cluster.to_str().unwrap(),
    ]);
    assert!(checked.status.success(), "{}", text(&checked));
    let out = String::from_utf8_lossy(&checked.stdout);
    assert!(
        out.contains("conformance checks against cluster 'web'"),
        "{out}"
    );
    assert!(out.contains("conformance: passed (11 checks)"), "{out}");

    let config = format!(
        "clusters:\n  - {{id: web, connector: hello, endpoints: [{up}, {down}], interval: 500ms, timeout: 400ms}}\n"
    );
    let host = Host::start(&config, &[library]);
    let reports = reports_when(&host, "web", 1, Duration::from_secs(20)).await;
    let report = &reports[0];
    assert_eq!(report.status, proto::Status::Degraded as i32, "{report:?}");
    assert_eq!(report.reasons.len(), 1, "{report:?}");
    assert!(
        report.reasons[0].starts_with(&format!("endpoint {down} refuses connections")),
        "{report:?}"
    );

    let json = json_lines(&cli(&host, &["--json", "reports", "web", "--limit", "1"]).await);
    assert_eq!(json[0]["metrics"]["endpoints_up"], 1.0, "{}", json[0]);
    assert_eq!(json[0]["metrics"]["endpoints_total"], 2.0, "{}", json[0]);
    let nodes = json[0]["nodes"].as_array().unwrap();
    assert_eq!(nodes[0]["id"], up.as_str());
    assert_eq!(nodes[0]["metrics"]["endpoint_up"], 1.0, "{}", json[0]);
    assert!(nodes[0]["metrics"]["connect_ms"].is_number(), "{}", json[0]);
    assert_eq!(nodes[1]["metrics"]["endpoint_up"], 0.0, "{}", json[0]);

    let probe = cli(&host, &["run", "web", "probe"]).await;
    let output = String::from_utf8_lossy(&probe.stdout);
    assert!(
        output.contains(&format!("{up}: accepted in ")),
        "{}",
        text(&probe)
    );
    assert!(
        output.contains(&format!("{down}: refuses connections")),
        "{}",
        text(&probe)
    );
}

#[test]
fn check_refuses_garbage_and_writable_files_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("libgarbage.so");
    std::fs::write(&garbage, b"\x7fELF, or so it claims: not a library at all").unwrap();
    let checked = dbmon(&["connector", "check", garbage.to_str().unwrap()]);
    assert_eq!(checked.status.code(), Some(1), "{}", text(&checked));
    let out = String::from_utf8_lossy(&checked.stdout);
    assert!(
        out.contains("verdict        refused: not a loadable shared library: "),
        "{out}"
    );

    let writable = dir.path().join("libsystem.so");
    std::fs::copy(lib("system"), &writable).unwrap();
    std::fs::set_permissions(&writable, std::fs::Permissions::from_mode(0o666)).unwrap();
    let checked = dbmon(&["connector", "check", writable.to_str().unwrap()]);
    assert_eq!(checked.status.code(), Some(1), "{}", text(&checked));
    let out = String::from_utf8_lossy(&checked.stdout);
    assert!(
        out.contains("verdict        refused: the file is writable by group or others (mode 0666)"),
        "{out}"
    );
    assert!(
        !out.contains("name "),
        "nothing is loaded from a refused file:\n{out}"
    );

    let insecure = dbmon(&[
        "connector",
        "check",
        writable.to_str().unwrap(),
        "--insecure",
    ]);
    assert!(insecure.status.success(), "{}", text(&insecure));
    assert!(String::from_utf8_lossy(&insecure.stdout).contains("name           system"));
}

#[test]
fn check_fails_a_connector_that_outlives_its_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = dir.path().join("cluster.yaml");
    std::fs::write(
        &cluster,
        "{id: stuck, connector: misbehave, timeout: 1s, options: {mode: hang}}\n",
    )
    .unwrap();
    let library = lib("misbehave");
    let checked = dbmon(&[
        "--json",
        "connector",
        "check",
        library.to_str().unwrap(),
        "--config",
        cluster.to_str().unwrap(),
    ]);
    assert_eq!(checked.status.code(), Some(1), "{}", text(&checked));
    let out: serde_json::Value = serde_json::from_slice(&checked.stdout).unwrap();
    assert_eq!(out["verdict"], "would load");
    assert_eq!(out["passed"], false);
    let checks = out["conformance"].as_array().unwrap();
    let collect = checks.iter().find(|c| c["check"] == "collect").unwrap();
    assert_eq!(collect["result"], "fail", "{collect}");
    assert!(
        collect["message"]
            .as_str()
            .unwrap()
            .starts_with("still running after "),
        "{collect}"
    );
    let echo = checks
        .iter()
        .find(|c| c["check"] == "command echo")
        .unwrap();
    assert_eq!(echo["result"], "pass", "{echo}");
}

#[test]
fn new_refuses_bad_names_and_existing_folders() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dbmon(&[
        "connector",
        "new",
        "My DB",
        "--path",
        dir.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("'My DB' is not a connector name"));
    let existing = dbmon(&[
        "connector",
        "new",
        "ok",
        "--path",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(existing.status.code(), Some(2), "{}", text(&existing));
    assert!(String::from_utf8_lossy(&existing.stderr).contains("already exists"));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written"
    );
}
