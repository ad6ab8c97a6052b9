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
    chmod(dir.path(), 0o777);
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

/// `plugins.d/NAME.so` as a symlink to a copy of the library in `dir/FOLDER` (mode `mode`);
/// returns the link and the real file.
fn linked(dir: &Path, name: &str, folder: &str, mode: u32) -> (PathBuf, PathBuf) {
    let base = std::fs::canonicalize(dir).unwrap();
    let outside = base.join(folder);
    std::fs::create_dir_all(&outside).unwrap();
    chmod(&outside, mode);
    let target = outside.join(format!("{name}.so"));
    std::fs::copy(lib(name), &target).unwrap();
    chmod(&target, 0o644);
    let link = base.join("plugins.d").join(format!("{name}.so"));
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&target, &link).unwrap();
    (link, target)
}

#[tokio::test]
async fn a_link_is_checked_where_it_points_and_logged_with_its_target() {
    let (dir, _, _) = folder();
    let (system_link, system_target) = linked(dir.path(), "system", "lib", 0o755);
    let (_, open) = linked(dir.path(), "misbehave", "open", 0o777);
    let open = open.parent().unwrap().to_path_buf();
    let host = Host::start_in(dir, CONFIG).unwrap_or_else(|e| panic!("{e}"));
    let connectors = loaded(&host).await;
    let names: Vec<&str> = connectors.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["system"]);
    let log = host.log();
    let shown = format!("{} -> {}", system_link.display(), system_target.display());
    assert!(
        log.lines()
            .any(|l| l.contains("loaded connector system") && l.contains(&shown)),
        "the link is logged with its target ({shown}):\n{log}"
    );
    let refusal = log
        .lines()
        .find(|l| l.contains("misbehave.so") && l.contains("refused"))
        .unwrap_or_else(|| panic!("no refusal of misbehave.so:\n{log}"));
    let expected = format!(
        "the folder {} on the way to the file is writable by group or others (mode 0777); run `chmod go-w {}` or set plugins.insecure: true",
        open.display(),
        open.display()
    );
    assert!(refusal.contains(&expected), "{refusal}");
}

#[tokio::test]
async fn a_writable_parent_of_the_plugins_folder_refuses_every_plugin() {
    let (dir, _, _) = folder();
    let parent = std::fs::canonicalize(dir.path()).unwrap();
    chmod(&parent, 0o777);
    let host = Host::start_in(dir, "clusters: []\n").unwrap_or_else(|e| panic!("{e}"));
    let mut grpc = client(&host).await;
    let list = grpc
        .list_connectors(proto::ListConnectorsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(list.connectors.is_empty());
    let log = host.log();
    let expected = format!(
        "refused every plugin: the folder {} on the way to the plugins folder is writable by group or others (mode 0777); run `chmod go-w {}`",
        parent.display(),
        parent.display()
    );
    assert!(log.contains(&expected), "{log}");
}

#[test]
fn the_worker_checks_the_way_to_its_plugin_too() {
    let (dir, _, _) = folder();
    let (link, target) = linked(dir.path(), "system", "open", 0o777);
    let worker = |extra: &[&str]| {
        std::process::Command::new(dbmon_test_support::built_binary("dbmon"))
            .arg("worker")
            .arg("--plugin")
            .arg(&link)
            .arg("--sha256")
            .arg(sha256(&target))
            .args(extra)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let refused = worker(&[]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    let open = target.parent().unwrap();
    assert!(
        stderr.contains(&format!(
            "the folder {} on the way to the file is writable by group or others (mode 0777)",
            open.display()
        )),
        "{stderr}"
    );
    // plugins.insecure reaches the worker as --insecure; with stdin closed at once it exits.
    let insecure = worker(&["--insecure"]);
    assert!(
        insecure.status.success(),
        "{}",
        String::from_utf8_lossy(&insecure.stderr)
    );
}
