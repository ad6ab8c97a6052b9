//! `cargo xtask`: the repository's two everyday commands.
//!
//! - `cargo xtask serve [ARGS]`: builds the host and the bundled connectors (release), installs
//!   the connector libraries into `plugins.d/`, and runs `dbmon serve --config dbmon.yaml`.
//! - `cargo xtask test [ARGS]`: builds every crate (the integration tests load the connector
//!   libraries and run the `dbmon` binary), then runs `cargo test --workspace [ARGS]`.

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
        "install-plugins" => {
            install_plugins(&root, "release")?;
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            eprintln!(
                "usage: cargo xtask serve [dbmon serve args] | test [cargo test args] | install-plugins"
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

fn install_plugins(root: &Path, profile: &str) -> Result<()> {
    let connectors = bundled_connectors(root)?;
    let mut args = vec!["build", "--profile", profile, "-p", "dbmon"];
    for name in &connectors {
        args.extend(["-p", name.as_str()]);
    }
    cargo(root, &args)?;
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    let built = target.join(if profile == "dev" { "debug" } else { profile });
    let plugins = root.join("plugins.d");
    for name in &connectors {
        let file = format!("lib{}.so", name.replace('-', "_"));
        let dest = plugins.join(&file);
        // Replace, never overwrite in place: a running host may have the old file mapped.
        let _ = std::fs::remove_file(&dest);
        std::fs::copy(built.join(&file), &dest).with_context(|| format!("installing {file}"))?;
        println!("installed plugins.d/{file}");
    }
    Ok(())
}

fn serve(root: &Path, rest: &[String]) -> Result<ExitCode> {
    install_plugins(root, "release")?;
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    let status = Command::new(target.join("release/dbmon"))
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
    cargo(root, &["build", "--workspace"])?;
    // Every test binary runs even after a failure, so one run shows every failing test.
    let mut args = vec!["test", "--workspace", "--no-fail-fast"];
    args.extend(rest.iter().map(String::as_str));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo).args(&args).current_dir(root).status()?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
