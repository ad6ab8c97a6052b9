//! `cargo xtask`: the repository's two everyday commands.
//!
//! - `cargo xtask serve [ARGS]`: builds the host and the bundled connectors (release), installs
//!   the connector libraries into `plugins.d/`, and runs `dbmon serve --config dbmon.yaml`.
//! - `cargo xtask test [ARGS]`: builds every crate (the integration tests load the connector
//!   libraries and run the `dbmon` binary), then runs every test: `cargo nextest run
//!   --workspace [ARGS]` and the doc tests where cargo-nextest is installed, else `cargo test
//!   --workspace [ARGS]`.
//! - `cargo xtask demo`: real clusters to watch (etcd, Redis Cluster, PostgreSQL with a replica,
//!   CockroachDB's HTTP formats) on loopback ports in a temp folder, a `dbmon serve` on them,
//!   and faults on demand (`cargo xtask demo fault NAME`); see `demo/mod.rs`.
//! - `cargo xtask dist`: builds the release and packs `target/dist/dbmon-VERSION-ARCH-linux.tar.gz`
//!   (the binary, the stripped connectors, the sample config, the systemd units, completions and
//!   the man page; see `dist.rs`).

mod demo;
mod dist;

use anyhow::{Context, Result, bail};
use std::{
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

fn main() -> Result<ExitCode> {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let root = workspace_root();
    match task.as_str() {
        "serve" => serve(&root, &rest),
        "test" => test(&root, &rest),
        "demo" => demo::main(&root, &rest),
        "dist" => {
            let tarball = make_dist(&root)?;
            println!("wrote {}", tarball.display());
            Ok(ExitCode::SUCCESS)
        }
        "install-plugins" => {
            install_plugins(&root, "release")?;
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            eprintln!(
                "usage: cargo xtask serve [dbmon serve args] | test [cargo test args] | demo [fault NAME] | dist | install-plugins"
            );
            Ok(ExitCode::from(2))
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Package names of the bundled connectors: every folder under `connectors/`.
fn bundled_connectors(root: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(root.join("connectors"))? {
        let manifest = entry?.path().join("Cargo.toml");
        if !manifest.exists() {
            continue;
        }
        let text = std::fs::read_to_string(&manifest)?;
        let name = text
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("name = ")
                    .map(|n| n.trim_matches('"').to_string())
            })
            .with_context(|| format!("no package name in {}", manifest.display()))?;
        names.push(name);
    }
    names.sort();
    Ok(names)
}

fn cargo(root: &Path, args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo).args(args).current_dir(root).status()?;
    if !status.success() {
        bail!("cargo {} failed", args.join(" "));
    }
    Ok(())
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"))
}

/// Builds the host and the bundled connectors with `profile`; returns the build folder and each
/// connector's library there (checked for debug info in release builds).
fn build_host_and_connectors(root: &Path, profile: &str) -> Result<(PathBuf, Vec<PathBuf>)> {
    let connectors = bundled_connectors(root)?;
    let mut args = vec!["build", "--profile", profile, "-p", "dbmon"];
    for name in &connectors {
        args.extend(["-p", name.as_str()]);
    }
    cargo(root, &args)?;
    let built = target_dir(root).join(if profile == "dev" { "debug" } else { profile });
    let mut libraries = Vec::new();
    for name in &connectors {
        let source = built.join(format!("lib{}.so", name.replace('-', "_")));
        if profile == "release" && has_debug_info(&source)? {
            bail!(
                "{} carries debug info: give {name} `strip = \"debuginfo\"` in the root \
                 Cargo.toml ([profile.release.package.{name}]), as every bundled connector has",
                source.display()
            );
        }
        libraries.push(source);
    }
    Ok((built, libraries))
}

fn install_plugins(root: &Path, profile: &str) -> Result<()> {
    let (_, libraries) = build_host_and_connectors(root, profile)?;
    let plugins = root.join("plugins.d");
    for source in &libraries {
        let file = source
            .file_name()
            .context("a library path without a file name")?;
        let file = file.to_string_lossy();
        let dest = plugins.join(&*file);
        // Replace, never overwrite in place: a running host may have the old file mapped.
        let _ = std::fs::remove_file(&dest);
        std::fs::copy(source, &dest).with_context(|| format!("installing {file}"))?;
        let size_mb = std::fs::metadata(&dest)?.len() as f64 / 1e6;
        println!("installed plugins.d/{file} ({size_mb:.1} MB)");
    }
    Ok(())
}

/// Whether an ELF file has DWARF debug info (a `.debug_info` or `.debug_line` section): the release libraries are meant to ship
/// without (the root Cargo.toml strips them), which makes them 5-12 times smaller.
fn has_debug_info(file: &Path) -> Result<bool> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let u16_at = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
    };
    let u64_at = |at: usize| {
        bytes
            .get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
    };
    // 64-bit little-endian ELF, the only kind the bundled connectors are built as.
    if bytes.get(..6) != Some(b"\x7fELF\x02\x01".as_slice()) {
        bail!("{} is not a 64-bit little-endian ELF file", file.display());
    }
    let malformed = || anyhow::anyhow!("{}: malformed ELF section table", file.display());
    let table = u64_at(0x28).ok_or_else(malformed)? as usize;
    let entry_size = u16_at(0x3A).ok_or_else(malformed)? as usize;
    let count = u16_at(0x3C).ok_or_else(malformed)? as usize;
    let names_index = u16_at(0x3E).ok_or_else(malformed)? as usize;
    let section = |i: usize| table + i * entry_size;
    let names = u64_at(section(names_index) + 0x18).ok_or_else(malformed)? as usize;
    for i in 0..count {
        let name = names + u32_at(section(i)).ok_or_else(malformed)? as usize;
        // Not every .debug_ section: .debug_gdb_scripts is loaded, and stripping keeps it.
        if bytes.get(name..).is_some_and(|rest| {
            rest.starts_with(b".debug_info\0") || rest.starts_with(b".debug_line\0")
        }) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `cargo xtask dist`: a release build packed by `dist::make` into `target/dist/`.
fn make_dist(root: &Path) -> Result<PathBuf> {
    let (built, connectors) = build_host_and_connectors(root, "release")?;
    let inputs = dist::Inputs {
        version: dist::package_version(&root.join("host/Cargo.toml"))?,
        binary: built.join("dbmon"),
        connectors,
        root: root.to_path_buf(),
    };
    let target = target_dir(root);
    dist::make(&inputs, &target.join("dist/stage"), &target.join("dist"))
}

fn serve(root: &Path, rest: &[String]) -> Result<ExitCode> {
    install_plugins(root, "release")?;
    let status = Command::new(target_dir(root).join("release/dbmon"))
        .args(["serve", "--config", "dbmon.yaml"])
        .args(rest)
        .current_dir(root)
        .status()?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn test(root: &Path, rest: &[String]) -> Result<ExitCode> {
    // All targets, so the libraries and the binary are built once, with the features the tests
    // unify (a plain `build --workspace` resolves them apart, and `test` then built everything
    // a second time: twice the disk and the time).
    cargo(root, &["build", "--workspace", "--all-targets"])?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let run = |args: &[&str]| -> Result<bool> {
        Ok(Command::new(&cargo)
            .args(args)
            .current_dir(root)
            .status()?
            .success())
    };
    // cargo-nextest runs the tests of all binaries side by side (cargo test runs one binary
    // at a time); doc tests are cargo test's alone. Every test runs even after a failure, so
    // one run shows every failing test.
    let nextest = Command::new(&cargo)
        .args(["nextest", "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let passed = if nextest {
        let mut args = vec!["nextest", "run", "--workspace", "--no-fail-fast"];
        args.extend(rest.iter().map(String::as_str));
        let tests = run(&args)?;
        let docs = run(&["test", "--workspace", "--doc"])?;
        tests && docs
    } else {
        let mut args = vec!["test", "--workspace", "--no-fail-fast"];
        args.extend(rest.iter().map(String::as_str));
        run(&args)?
    };
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_connector_ships_stripped_from_release_builds() {
        let root = workspace_root();
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        for name in bundled_connectors(&root).unwrap() {
            let table = format!("[profile.release.package.{name}]\n");
            let rest = manifest.split(&table).nth(1);
            let strip = rest.and_then(|rest| rest.split("\n[").next());
            assert!(
                strip.is_some_and(|t| t.contains("strip = \"debuginfo\"")),
                "the root Cargo.toml lacks {table}strip = \"debuginfo\""
            );
        }
    }

    #[test]
    fn debug_info_is_found_in_an_unstripped_file_only() {
        // This test binary is a dev build: it has debug info.
        let this = std::env::current_exe().unwrap();
        assert!(has_debug_info(&this).unwrap());
        let dir = std::env::temp_dir().join(format!("xtask-strip-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let stripped = dir.join("stripped");
        let status = Command::new("objcopy")
            .args([
                "--strip-debug",
                this.to_str().unwrap(),
                stripped.to_str().unwrap(),
            ])
            .status();
        if status.is_ok_and(|s| s.success()) {
            assert!(!has_debug_info(&stripped).unwrap());
        }
        let text = dir.join("text");
        std::fs::write(&text, "not ELF").unwrap();
        let err = has_debug_info(&text).unwrap_err().to_string();
        assert!(
            err.contains("is not a 64-bit little-endian ELF file"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
