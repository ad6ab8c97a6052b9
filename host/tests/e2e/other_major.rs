//! Builds the misbehave test connector against a copy of connector-api with another version
//! number, the way a third party on another SDK release would.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::Mutex,
};

static BUILD: Mutex<()> = Mutex::new(());

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

/// The `.so` of misbehave built against connector-api `version`. The project and its target
/// folder live under the workspace's `target/`, so a second run only relinks.
pub fn build(version: &str) -> PathBuf {
    let _one_at_a_time = BUILD.lock().unwrap_or_else(|p| p.into_inner());
    let root = workspace();
    let target = dbmon_test_support::built_binary("dbmon")
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let project = target.join(format!("abi-compat/api-{version}"));
    copy_dir(
        &root.join("connector-api/src"),
        &project.join("connector-api/src"),
    );
    copy_dir(
        &root.join("test-connectors/misbehave/src"),
        &project.join("misbehave/src"),
    );
    let set_version = |text: String| {
        text.replacen(
            "version = \"1.0.0\"",
            &format!("version = \"{version}\""),
            1,
        )
    };
    let api_manifest = std::fs::read_to_string(root.join("connector-api/Cargo.toml")).unwrap();
    std::fs::write(
        project.join("connector-api/Cargo.toml"),
        set_version(api_manifest),
    )
    .unwrap();
    std::fs::copy(
        root.join("test-connectors/misbehave/Cargo.toml"),
        project.join("misbehave/Cargo.toml"),
    )
    .unwrap();
    // The workspace's shared settings and dependency versions, with the SDK at `version`.
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let shared = &manifest[manifest.find("[workspace.package]").unwrap()..];
    let shared = shared.replace(
        "dbmon-connector-api = { path = \"connector-api\", version = \"1.0.0\" }",
        &format!("dbmon-connector-api = {{ path = \"connector-api\", version = \"{version}\" }}"),
    );
    let manifest = format!(
        "[workspace]\nresolver = \"3\"\nmembers = [\"connector-api\", \"misbehave\"]\n\n{shared}"
    );
    std::fs::write(project.join("Cargo.toml"), manifest).unwrap();
    std::fs::copy(root.join("Cargo.lock"), project.join("Cargo.lock")).unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["build", "-p", "dbmon-connector-misbehave"])
        .current_dir(&project)
        .env("CARGO_TARGET_DIR", project.join("target"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "building against connector-api {version} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    project.join("target/debug/libdbmon_connector_misbehave.so")
}
