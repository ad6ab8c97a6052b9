use crate::{client, folder_with_plugins, lib, reports_when};
use dbmon_proto as proto;
use dbmon_test_support::Host;
use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

const CONFIG: &str = "
clusters:
  - {id: local, connector: system, interval: 500ms, timeout: 400ms}
";

/// A real shared library with no dbmon root module, made by the C compiler.
fn plain_shared_library(dir: &Path) -> PathBuf {
    let source = dir.join("plain.c");
    std::fs::write(&source, "int plain_answer(void) { return 42; }\n").unwrap();
    let out = dir.join("plain.so");
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&out)
        .arg(&source)
        .status()
        .expect("cc (gcc) is needed to build a plain shared library");
    assert!(status.success());
    out
}

/// The line the host logged about `file`.
fn line_about<'a>(log: &'a str, file: &str) -> &'a str {
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(file) && l.contains("refused plugin"))
        .collect();
    assert_eq!(lines.len(), 1, "one line about {file} expected in:\n{log}");
    lines[0]
}

#[tokio::test]
async fn bad_files_are_refused_one_line_each_and_the_rest_serve() {
    let dir = folder_with_plugins(&[
        (&lib("system"), "libdbmon_connector_system.so"),
        (&lib("misbehave"), "a-misbehave.so"),
        (&lib("misbehave"), "b-misbehave-again.so"),
    ]);
    let plugins = dir.path().join("plugins.d");
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(plugins.join("garbage.so"), garbage).unwrap();
    std::fs::write(plugins.join("empty.so"), b"").unwrap();
    let plain = plain_shared_library(dir.path());
    std::fs::copy(plain, plugins.join("plain.so")).unwrap();
    std::fs::write(
        plugins.join("notes.txt"),
        "not a library, and not named .so",
    )
    .unwrap();

    let host = Host::start_in(dir, CONFIG).unwrap_or_else(|e| panic!("{e}"));
    reports_when(&host, "local", 1, Duration::from_secs(15)).await;
    let log = host.log();
    assert!(line_about(&log, "garbage.so").contains("not a loadable shared library"));
    assert!(line_about(&log, "empty.so").contains("not a loadable shared library"));
    assert!(line_about(&log, "plain.so").contains("no abi_stable root module"));
    let dup = line_about(&log, "b-misbehave-again.so");
    assert!(
        dup.contains("connector 'misbehave' is already loaded from")
            && dup.contains("a-misbehave.so"),
        "{dup}"
    );
    assert!(!log.contains("notes.txt"));

    let mut grpc = client(&host).await;
    let connectors = grpc
        .list_connectors(proto::ListConnectorsRequest {})
        .await
        .unwrap()
        .into_inner()
        .connectors;
    let names: Vec<&str> = connectors.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["misbehave", "system"]);
}

#[tokio::test]
async fn a_connector_built_against_another_abi_major_is_refused_naming_both_versions() {
    let other = crate::abi_compat::build_with_abi("3.0.0");
    let dir = folder_with_plugins(&[
        (&lib("system"), "libdbmon_connector_system.so"),
        (&other, "misbehave-v2.so"),
    ]);
    let host = Host::start_in(dir, CONFIG).unwrap_or_else(|e| panic!("{e}"));
    reports_when(&host, "local", 1, Duration::from_secs(15)).await;
    let log = host.log();
    let line = line_about(&log, "misbehave-v2.so");
    assert!(line.contains("built against connector ABI 3.0.0"), "{line}");
    assert!(
        line.contains(&format!(
            "host has {}",
            dbmon_connector_api::ffi::ABI_VERSION
        )),
        "{line}"
    );
}

#[tokio::test]
async fn a_connector_built_against_sdk_1_0_loads_through_the_adapter_and_reports() {
    let older = crate::abi_compat::build_v1("1.0.0");
    let dir = folder_with_plugins(&[(&older, "misbehave-1.0.so")]);
    let config = "clusters:\n  - {id: old, connector: misbehave, interval: 300ms, timeout: 200ms, options: {mode: ok}}\n";

    std::fs::write(dir.path().join("dbmon.yaml"), config).unwrap();
    // `--check` validates through the 1.1 entry point, which the 1.0 library lacks: the host
    // falls back to building and dropping an instance.
    let check = Command::new(dbmon_test_support::built_binary("dbmon"))
        .args(["serve", "--check", "--config"])
        .arg(dir.path().join("dbmon.yaml"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        stdout.contains("configuration OK (1 clusters, connectors: misbehave)"),
        "{stdout}"
    );
    let bad = "clusters:\n  - {id: old, connector: misbehave, options: {mode: sideways}}\n";
    std::fs::write(dir.path().join("bad.yaml"), bad).unwrap();
    let refused = Command::new(dbmon_test_support::built_binary("dbmon"))
        .args(["serve", "--check", "--config"])
        .arg(dir.path().join("bad.yaml"))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("unknown variant `sideways`"));

    let host = Host::start_in(dir, config).unwrap_or_else(|e| panic!("{e}"));
    let reports = reports_when(&host, "old", 2, Duration::from_secs(15)).await;
    assert_eq!(
        reports[0].status,
        proto::Status::Healthy as i32,
        "{:?}",
        reports[0]
    );
    let mut grpc = client(&host).await;
    let connectors = grpc
        .list_connectors(proto::ListConnectorsRequest {})
        .await
        .unwrap()
        .into_inner()
        .connectors;
    assert_eq!(connectors[0].api_version, "1.0.0");
}
