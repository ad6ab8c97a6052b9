//! Builds the misbehave test connector against another contract, the way a third party on
//! another release would: against a copy of the frozen 1.1 SDK (`vendor/`), at 1.1 or as an
//! older 1.x minor whose layout lacks the entry points added since (the blocks marked `// abi
//! 1.N {` ... `// } abi 1.N` in its sources); or against this SDK over a copy of the ABI crate
//! with another version. misbehave keeps to the 1.1 SDK's API so that it builds against both.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::Mutex,
};

static BUILD: Mutex<()> = Mutex::new(());

/// An exclusive `flock` on a file beside the shared target folder, held until dropped.
struct TargetLock(std::fs::File);

impl TargetLock {
    fn take(target: &Path) -> TargetLock {
        std::fs::create_dir_all(target).unwrap();
        let file = std::fs::File::create(target.join(".abi-compat.lock")).unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor this process owns; it blocks until the lock is ours.
        let taken = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(taken, 0, "flock: {}", std::io::Error::last_os_error());
        TargetLock(file)
    }
}

impl Drop for TargetLock {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: as in `take`; closing the file would release it too.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

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

/// Rewrites the `version = "..."` of `[package]`.
fn with_version(manifest: &str, version: &str) -> String {
    manifest
        .lines()
        .map(|line| {
            if line.starts_with("version = ") {
                format!("version = \"{version}\"")
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Makes the dependency on `crate_name` (its line starts `crate_name = `) a path dependency.
fn with_dependency(manifest: &str, crate_name: &str, path: &str, version: &str) -> String {
    let dependency = format!("{crate_name} = ");
    manifest
        .lines()
        .map(|line| {
            if line.starts_with(&dependency) {
                format!("{crate_name} = {{ path = \"{path}\", version = \"{version}\" }}")
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn major_minor(version: &str) -> (u32, u32) {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap());
    (parts.next().unwrap(), parts.next().unwrap())
}

/// The project folder for `name`, under the workspace's `target/` so that a rerun only relinks.
fn project(name: &str) -> PathBuf {
    let target = dbmon_test_support::built_binary("dbmon")
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let project = target.join(format!("abi-compat/{name}"));
    for dir in ["connector-api/src", "connector-abi/src", "misbehave/src"] {
        let _ = std::fs::remove_dir_all(project.join(dir));
    }
    project
}

/// Copies misbehave, writes the project's workspace manifest (the root's shared settings and
/// dependency versions, the SDK at `sdk_version`, these members) and builds misbehave.
fn finish(project: &Path, members: &str, sdk_version: &str) -> PathBuf {
    let root = workspace();
    // misbehave has no ABI blocks: nothing of major 0 is stripped.
    copy_sources(
        &root.join("test-connectors/misbehave/src"),
        &project.join("misbehave/src"),
        0,
        0,
    );
    std::fs::copy(
        root.join("test-connectors/misbehave/Cargo.toml"),
        project.join("misbehave/Cargo.toml"),
    )
    .unwrap();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let shared = &manifest[manifest.find("[workspace.package]").unwrap()..];
    let shared = with_dependency(shared, "dbmon-connector-api", "connector-api", sdk_version);
    let manifest = format!("[workspace]\nresolver = \"3\"\nmembers = [{members}]\n\n{shared}");
    std::fs::write(project.join("Cargo.toml"), manifest).unwrap();
    std::fs::copy(root.join("Cargo.lock"), project.join("Cargo.lock")).unwrap();
    // One target folder for every such project: the registry crates build once, and only the
    // SDK copies and misbehave differ. Builds take turns, across test processes too (nextest
    // runs each test in its own), and each library is copied out before the next build can
    // overwrite it.
    let target = project.parent().unwrap().join("target");
    let _turn = TargetLock::take(&target);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["build", "-p", "dbmon-connector-misbehave"])
        .current_dir(project)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "building {} failed:\n{}",
        project.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let library = project.join("libdbmon_connector_misbehave.so");
    std::fs::copy(
        target.join("debug/libdbmon_connector_misbehave.so"),
        &library,
    )
    .unwrap();
    library
}

/// The `.so` of misbehave built against a copy of the frozen 1.1 SDK as version `version`
/// (`1.N.0`, N at most 1): contract 1, which the host loads through its adapter.
pub fn build_v1(version: &str) -> PathBuf {
    let _one_at_a_time = BUILD.lock().unwrap_or_else(|p| p.into_inner());
    let (major, minor) = major_minor(version);
    assert!(major == 1 && minor <= 1, "the frozen SDK is 1.1");
    let root = workspace();
    let sdk = root.join("vendor/dbmon-connector-api-1.1");
    let project = project(&format!("sdk-{version}"));
    copy_sources(
        &sdk.join("src"),
        &project.join("connector-api/src"),
        major,
        minor,
    );
    let sdk_manifest = std::fs::read_to_string(sdk.join("Cargo.toml")).unwrap();
    std::fs::write(
        project.join("connector-api/Cargo.toml"),
        with_version(&sdk_manifest, version),
    )
    .unwrap();
    finish(&project, "\"connector-api\", \"misbehave\"", version)
}

/// The `.so` of misbehave built against this SDK over a copy of the ABI crate carrying
/// version `version`: what a library of another ABI major (or minor) looks like to the host.
pub fn build_with_abi(version: &str) -> PathBuf {
    let _one_at_a_time = BUILD.lock().unwrap_or_else(|p| p.into_inner());
    let (major, minor) = major_minor(version);
    let root = workspace();
    let project = project(&format!("abi-{version}"));
    copy_sources(
        &root.join("connector-abi/src"),
        &project.join("connector-abi/src"),
        major,
        minor,
    );
    copy_sources(
        &root.join("connector-api/src"),
        &project.join("connector-api/src"),
        major,
        minor,
    );
    let abi_manifest = std::fs::read_to_string(root.join("connector-abi/Cargo.toml")).unwrap();
    std::fs::write(
        project.join("connector-abi/Cargo.toml"),
        with_version(&abi_manifest, version),
    )
    .unwrap();
    let sdk_manifest = std::fs::read_to_string(root.join("connector-api/Cargo.toml")).unwrap();
    std::fs::write(
        project.join("connector-api/Cargo.toml"),
        with_dependency(
            &sdk_manifest,
            "dbmon-connector-abi",
            "../connector-abi",
            version,
        ),
    )
    .unwrap();
    let sdk_version = dbmon_connector_api::SDK_VERSION;
    finish(
        &project,
        "\"connector-abi\", \"connector-api\", \"misbehave\"",
        sdk_version,
    )
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
