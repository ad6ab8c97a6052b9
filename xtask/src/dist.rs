//! `cargo xtask dist`: the release tarball, `target/dist/dbmon-VERSION-ARCH-linux.tar.gz`.
//!
//! Inside, under one folder `dbmon-VERSION-ARCH-linux/`: `bin/dbmon`, the bundled connectors
//! (stripped of debug info) in `plugins.d/`, the installed host's sample config `dbmon.yaml`
//! (`packaging/dbmon.yaml`), the systemd units, `completions/` for bash, zsh and fish,
//! the man page `dbmon.1`, and `README.md` (and `LICENSE` when the repository has one).

use anyhow::{Context, Result, bail};
use std::{
    path::{Path, PathBuf},
    process::Command,
};

/// What goes into the tarball, wherever it was built.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The host's version (`host/Cargo.toml`).
    pub version: String,
    /// The release `dbmon` binary: it also writes the completions and the man page.
    pub binary: PathBuf,
    /// The connector libraries, each already checked for debug info.
    pub connectors: Vec<PathBuf>,
    /// The repository's root, for `packaging/` and the README.
    pub root: PathBuf,
}

/// Files copied from the repository as they are: (source under the root, name in the tarball).
const COPIED: &[(&str, &str)] = &[
    ("packaging/dbmon.yaml", "dbmon.yaml"),
    ("packaging/dbmon.service", "dbmon.service"),
    ("packaging/dbmon@.service", "dbmon@.service"),
    ("README.md", "README.md"),
];

/// Completion scripts: (`dbmon completions` argument, file under `completions/`).
const COMPLETIONS: &[(&str, &str)] = &[
    ("bash", "dbmon.bash"),
    ("zsh", "_dbmon"),
    ("fish", "dbmon.fish"),
];

/// The tarball's top folder, also its name without `.tar.gz`.
pub fn package_name(version: &str) -> String {
    format!("dbmon-{version}-{}-linux", std::env::consts::ARCH)
}

/// Lays out the package under `stage` and packs it into `out_dir`; returns the tarball's path.
pub fn make(inputs: &Inputs, stage: &Path, out_dir: &Path) -> Result<PathBuf> {
    let name = package_name(&inputs.version);
    let top = stage.join(&name);
    if top.exists() {
        std::fs::remove_dir_all(&top).with_context(|| format!("clearing {}", top.display()))?;
    }
    lay_out(inputs, &top)?;
    std::fs::create_dir_all(out_dir)?;
    let tarball = out_dir.join(format!("{name}.tar.gz"));
    let status = Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("--owner=0")
        .arg("--group=0")
        .arg("-C")
        .arg(stage)
        .arg(&name)
        .status()
        .context("running tar")?;
    if !status.success() {
        bail!("tar failed making {}", tarball.display());
    }
    Ok(tarball)
}

/// Writes every file of the package into `top`.
fn lay_out(inputs: &Inputs, top: &Path) -> Result<()> {
    for folder in ["bin", "plugins.d", "completions"] {
        std::fs::create_dir_all(top.join(folder))?;
    }
    copy(&inputs.binary, &top.join("bin/dbmon"))?;
    for library in &inputs.connectors {
        let file = library
            .file_name()
            .context("a connector path without a file name")?;
        copy(library, &top.join("plugins.d").join(file))?;
    }
    for (source, name) in COPIED {
        copy(&inputs.root.join(source), &top.join(name))?;
    }
    let license = inputs.root.join("LICENSE");
    if license.exists() {
        copy(&license, &top.join("LICENSE"))?;
    }
    for (shell, file) in COMPLETIONS {
        let script = output(&inputs.binary, &["completions", shell])?;
        std::fs::write(top.join("completions").join(file), script)?;
    }
    std::fs::write(top.join("dbmon.1"), output(&inputs.binary, &["man"])?)?;
    Ok(())
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    Ok(())
}

/// What `binary ARGS` prints; an error when it fails or prints nothing.
fn output(binary: &Path, args: &[&str]) -> Result<Vec<u8>> {
    let out = Command::new(binary)
        .args(args)
        .output()
        .with_context(|| format!("running {}", binary.display()))?;
    if !out.status.success() || out.stdout.is_empty() {
        bail!(
            "{} {} failed: {}",
            binary.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out.stdout)
}

/// The `version = "..."` of `[package]` in `manifest`.
pub fn package_version(manifest: &Path) -> Result<String> {
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    text.lines()
        .take_while(|l| !l.starts_with('[') || l.trim() == "[package]")
        .find_map(|l| l.trim().strip_prefix("version = "))
        .map(|v| v.trim_matches('"').to_string())
        .with_context(|| format!("no package version in {}", manifest.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A fresh folder under the system's temporary folder, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(what: &str) -> Scratch {
            let path = std::env::temp_dir().join(format!("xtask-{what}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            Scratch(path)
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A stand-in for the release binary: prints a line naming its arguments and the
    /// subcommands the real one's completions and man page name.
    fn fake_binary(dir: &Path) -> PathBuf {
        let path = dir.join("dbmon");
        std::fs::write(&path, "#!/bin/sh\necho \"fake $* serve clusters\"\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn the_tarball_holds_the_binary_connectors_config_units_completions_and_man_page() {
        let dir = Scratch::new("dist-layout");
        let build = dir.path().join("release");
        std::fs::create_dir_all(&build).unwrap();
        let binary = fake_binary(&build);
        let connectors: Vec<PathBuf> = ["libdbmon_connector_a.so", "libdbmon_connector_b.so"]
            .iter()
            .map(|name| {
                let path = build.join(name);
                std::fs::write(&path, "not really a library").unwrap();
                path
            })
            .collect();
        let inputs = Inputs {
            version: "9.8.7".into(),
            binary,
            connectors,
            root: crate::workspace_root(),
        };
        let tarball = make(&inputs, &dir.path().join("stage"), &dir.path().join("dist")).unwrap();
        let name = package_name("9.8.7");
        assert_eq!(
            tarball.file_name().unwrap().to_str().unwrap(),
            format!("{name}.tar.gz")
        );
        assert!(name.starts_with("dbmon-9.8.7-") && name.ends_with("-linux"));
        let listing = Command::new("tar")
            .arg("-tzf")
            .arg(&tarball)
            .output()
            .unwrap();
        assert!(listing.status.success());
        let entries: Vec<String> = String::from_utf8(listing.stdout)
            .unwrap()
            .lines()
            .map(|l| l.trim_end_matches('/').to_string())
            .collect();
        for entry in [
            "bin/dbmon",
            "plugins.d/libdbmon_connector_a.so",
            "plugins.d/libdbmon_connector_b.so",
            "dbmon.yaml",
            "dbmon.service",
            "dbmon@.service",
            "completions/dbmon.bash",
            "completions/_dbmon",
            "completions/dbmon.fish",
            "dbmon.1",
            "README.md",
        ] {
            let full = format!("{name}/{entry}");
            assert!(entries.contains(&full), "{full} missing from {entries:#?}");
        }
        // What the binary printed went into the files.
        let unpacked = dir.path().join("unpacked");
        std::fs::create_dir_all(&unpacked).unwrap();
        let status = Command::new("tar")
            .arg("-xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(&unpacked)
            .status()
            .unwrap();
        assert!(status.success());
        let bash = std::fs::read_to_string(unpacked.join(&name).join("completions/dbmon.bash"));
        assert_eq!(bash.unwrap(), "fake completions bash serve clusters\n");
        let man = std::fs::read_to_string(unpacked.join(&name).join("dbmon.1")).unwrap();
        assert_eq!(man, "fake man serve clusters\n");
        let config = std::fs::read_to_string(unpacked.join(&name).join("dbmon.yaml")).unwrap();
        assert!(config.contains("/usr/lib/dbmon/plugins.d"), "{config}");
    }

    #[test]
    fn a_binary_that_fails_stops_the_package() {
        let dir = Scratch::new("dist-failing");
        let binary = dir.path().join("dbmon");
        std::fs::write(&binary, "#!/bin/sh\necho broken >&2\nexit 3\n").unwrap();
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
        let inputs = Inputs {
            version: "1.0.0".into(),
            binary,
            connectors: vec![],
            root: crate::workspace_root(),
        };
        let err = make(&inputs, &dir.path().join("stage"), &dir.path().join("dist")).unwrap_err();
        assert!(format!("{err:#}").contains("broken"), "{err:#}");
    }

    #[test]
    fn the_version_is_the_hosts() {
        let root = crate::workspace_root();
        let version = package_version(&root.join("host/Cargo.toml")).unwrap();
        assert!(version.split('.').count() == 3, "{version}");
    }
}
