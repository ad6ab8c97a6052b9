//! Builds the misbehave test connector against a copy of connector-api with another version,
//! the way a third party on another SDK release would: another major, or an older minor whose
//! layout lacks the entry points added since (the blocks marked `// abi 1.N {` ... `// } abi
//! 1.N` in connector-api's sources).

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

/// Copies a source tree, dropping the ABI blocks newer than `minor` from `.rs` files.
fn copy_sources(from: &Path, to: &Path, major: u32, minor: u32) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_sources(&entry.path(), &dest, major, minor);
        } else {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            std::fs::write(dest, strip_newer_blocks(&text, major, minor)).unwrap();
        }
    }
}

/// Removes every `// abi M.N {` ... `// } abi M.N` block with `N > minor` (same major).
fn strip_newer_blocks(text: &str, major: u32, minor: u32) -> String {
    let mut out = String::with_capacity(text.len());
    let mut skipping = false;
    for line in text.lines() {
        let marker = line.trim();
        if let Some(version) = marker
            .strip_prefix("// abi ")
            .and_then(|m| m.strip_suffix(" {"))
        {
            let newer = version
                .split_once('.')
                .and_then(|(ma, mi)| Some((ma.parse::<u32>().ok()?, mi.parse::<u32>().ok()?)))
                .is_some_and(|(ma, mi)| ma == major && mi > minor);
            skipping |= newer;
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
        if skipping && marker.starts_with("// } abi ") {
            skipping = false;
        }
    }
    out
}

/// Rewrites the `version = "..."` of `[package]` and the workspace's `dbmon-connector-api` line.
fn with_api_version(manifest: &str, version: &str) -> String {
    manifest
        .lines()
        .map(|line| {
            if line.starts_with("version = ") {
                format!("version = \"{version}\"")
            } else if line.starts_with("dbmon-connector-api = ") {
                format!(
                    "dbmon-connector-api = {{ path = \"connector-api\", version = \"{version}\" }}"
                )
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `.so` of misbehave built against connector-api `version` (`MAJOR.MINOR.PATCH`). The
/// project and its target folder live under the workspace's `target/`, so a rerun only relinks.
pub fn build(version: &str) -> PathBuf {
    let _one_at_a_time = BUILD.lock().unwrap_or_else(|p| p.into_inner());
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap());
    let (major, minor) = (parts.next().unwrap(), parts.next().unwrap());
    let root = workspace();
    let target = dbmon_test_support::built_binary("dbmon")
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let project = target.join(format!("abi-compat/api-{version}"));
    let _ = std::fs::remove_dir_all(project.join("connector-api/src"));
    copy_sources(
        &root.join("connector-api/src"),
        &project.join("connector-api/src"),
        major,
        minor,
    );
    copy_sources(
        &root.join("test-connectors/misbehave/src"),
        &project.join("misbehave/src"),
        major,
        minor,
    );
    let api_manifest = std::fs::read_to_string(root.join("connector-api/Cargo.toml")).unwrap();
    std::fs::write(
        project.join("connector-api/Cargo.toml"),
        with_api_version(&api_manifest, version),
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
    let manifest = format!(
        "[workspace]\nresolver = \"3\"\nmembers = [\"connector-api\", \"misbehave\"]\n\n{}",
        with_api_version(shared, version)
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

#[test]
fn newer_blocks_are_stripped_and_older_ones_kept() {
    let text = "a\n// abi 1.1 {\nb\n// } abi 1.1\nc\n    // abi 1.2 {\nd\n    // } abi 1.2\ne\n";
    assert_eq!(strip_newer_blocks(text, 1, 0), "a\nc\ne\n");
    assert_eq!(
        strip_newer_blocks(text, 1, 1),
        "a\n// abi 1.1 {\nb\n// } abi 1.1\nc\ne\n"
    );
    assert_eq!(strip_newer_blocks(text, 2, 0), text);
}
