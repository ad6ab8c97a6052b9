use crate::{client, lib, reports_when};
use dbmon_proto as proto;
use dbmon_test_support::Host;
use sha2::{Digest, Sha256};
use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    time::Duration,
};

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A temp host folder with the system and misbehave libraries in `plugins.d/`.
fn folder() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins.d");
    std::fs::create_dir(&plugins).unwrap();
    let system = plugins.join("system.so");
    let misbehave = plugins.join("misbehave.so");
    std::fs::copy(lib("system"), &system).unwrap();
    std::fs::copy(lib("misbehave"), &misbehave).unwrap();
    chmod(&system, 0o755);
    chmod(&misbehave, 0o755);
    (dir, system, misbehave)
}

const CONFIG: &str =
    "clusters:\n  - {id: local, connector: system, interval: 500ms, timeout: 400ms}\n";

async fn loaded(host: &Host) -> Vec<proto::Connector> {
    reports_when(host, "local", 1, Duration::from_secs(15)).await;
    let mut grpc = client(host).await;
    grpc.list_connectors(proto::ListConnectorsRequest {})
        .await
        .unwrap()
        .into_inner()
        .connectors
}

#[tokio::test]
async fn writable_or_foreign_files_are_refused_and_digests_are_shown() {
    let (dir, system, misbehave) = folder();
    chmod(&misbehave, 0o666);
    let root = unsafe { libc::geteuid() } == 0;
    let foreign = dir.path().join("plugins.d/foreign.so");
    if root {
        std::fs::copy(lib("misbehave"), &foreign).unwrap();
        chmod(&foreign, 0o755);
        std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
    }
    let system_digest = sha256(&system);
    let host = Host::start_in(dir, CONFIG).unwrap_or_else(|e| panic!("{e}"));
    let connectors = loaded(&host).await;
    let names: Vec<&str> = connectors.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["system"]);
    assert_eq!(connectors[0].sha256, system_digest);
    let log = host.log();
    assert!(log.contains(&system_digest), "the digest is logged:\n{log}");
    let refusal = log
        .lines()
        .find(|l| l.contains("misbehave.so") && l.contains("refused"))
        .unwrap();
    assert!(
        refusal.contains("writable by group or others (mode 0666)"),
        "{refusal}"
    );
    if root {
        let refusal = log
            .lines()
            .find(|l| l.contains("foreign.so") && l.contains("refused"))
            .unwrap();
        assert!(refusal.contains("owned by uid 65534"), "{refusal}");
    }
}

#[tokio::test]
async fn insecure_loads_them_anyway() {
    let (dir, _, misbehave) = folder();
    chmod(&misbehave, 0o666);
    chmod(&dir.path().join("plugins.d"), 0o777);
    let config = format!("plugins: {{insecure: true}}\n{CONFIG}");
    let host = Host::start_in(dir, &config).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<String> = loaded(&host).await.into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["misbehave", "system"]);
}

#[tokio::test]
async fn a_writable_folder_refuses_every_plugin() {
    let (dir, _, _) = folder();
    chmod(&dir.path().join("plugins.d"), 0o777);
    let host = Host::start_in(dir, "clusters: []\n").unwrap_or_else(|e| panic!("{e}"));
    let mut grpc = client(&host).await;
    let list = grpc
        .list_connectors(proto::ListConnectorsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(list.connectors.is_empty());
    let log = host.log();
    assert!(
        log.contains(
            "refused every plugin: the plugins folder is writable by group or others (mode 0777)"
        ),
        "{log}"
    );
}

#[tokio::test]
async fn the_allowlist_admits_only_pinned_builds() {
    let (dir, system, _) = folder();
    let config = format!("plugins:\n  allow: ['{}']\n{CONFIG}", sha256(&system));
    let host = Host::start_in(dir, &config).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<String> = loaded(&host).await.into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["system"]);
    let log = host.log();
    let refusal = log
        .lines()
        .find(|l| l.contains("misbehave.so") && l.contains("refused"))
        .unwrap();
    assert!(refusal.contains("is not in plugins.allow"), "{refusal}");
}
