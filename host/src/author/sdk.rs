//! The connector SDK a new project builds against: by default the copy of connector-api this
//! binary carries (embedded by build.rs), written into the project as
//! `vendor/connector-api/`, so that the project builds with nothing but this binary and a
//! reachable crates.io; or a checkout named by `--sdk-path`.

use dbmon_connector_api::{SDK_VERSION, ffi::ABI_VERSION};
use std::path::{Component, Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/sdk_files.rs"));

/// Where, inside a new project, the carried SDK is written.
pub const VENDOR_DIR: &str = "vendor/connector-api";

/// Where a project's `dbmon-connector-api` comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sdk {
    /// The SDK this binary carries (connector-api [`SDK_VERSION`]), copied into the project.
    Vendored,
    /// A connector-api checkout (`--sdk-path`), as a canonical path.
    Checkout(PathBuf),
}

impl Sdk {
    /// Checks that `path` holds the dbmon-connector-api crate, of this host's major version.
    pub fn checkout(path: &Path) -> Result<Sdk, String> {
        let advice = format!(
            "name the connector-api folder of a dbmon checkout (the one holding its Cargo.toml), \
             or leave --sdk-path out: this dbmon carries connector-api {SDK_VERSION} and writes \
             it into the project"
        );
        let dir = std::fs::canonicalize(path)
            .map_err(|e| format!("--sdk-path {}: {e}; {advice}", path.display()))?;
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        if !manifest.contains("name = \"dbmon-connector-api\"") {
            return Err(format!(
                "--sdk-path {}: not the dbmon-connector-api crate (no Cargo.toml naming it); {advice}",
                dir.display()
            ));
        }
        if let Some(version) = package_version(&manifest)
            && major(&version) != major(SDK_VERSION)
        {
            return Err(format!(
                "--sdk-path {}: connector-api {version} is of another major than this dbmon's \
                 ({SDK_VERSION}), so this host would refuse a library built against it; {advice}",
                dir.display()
            ));
        }
        Ok(Sdk::Checkout(dir))
    }

    /// The value of `dbmon-connector-api =` in the Cargo.toml of a project at `project` (an
    /// absolute path). A checkout is named relative to the project when the two share a folder
    /// below `/`, so that moving both together (or cloning a repository holding both) keeps
    /// the project building; otherwise by its absolute path.
    pub fn dependency(&self, project: &Path) -> String {
        match self {
            Sdk::Vendored => format!(
                "{{ path = \"{VENDOR_DIR}\", version = \"{}\" }}",
                major_minor(SDK_VERSION)
            ),
            Sdk::Checkout(dir) => {
                let path = relative_path(dir, project).unwrap_or_else(|| dir.clone());
                format!("{{ path = {:?} }}", path.display().to_string())
            }
        }
    }

    /// The comment above the dependency in the project's Cargo.toml.
    pub fn note(&self) -> String {
        match self {
            Sdk::Vendored => format!(
                "# vendor/connector-api is connector-api {SDK_VERSION} and vendor/connector-abi the ABI it builds\n\
                 # (connector ABI {ABI_VERSION}), copied from the dbmon that wrote this project, so that it builds\n\
                 # with no registry carrying the SDK: commit them with your code."
            ),
            Sdk::Checkout(_) => {
                "# A connector-api checkout, named by `dbmon connector new --sdk-path`.".into()
            }
        }
    }

    /// The files to write into the project: (path in the project, contents).
    pub fn files(&self) -> Vec<(PathBuf, &'static [u8])> {
        match self {
            Sdk::Vendored => SDK_FILES
                .iter()
                .map(|(path, bytes)| (Path::new("vendor").join(path), *bytes))
                .collect(),
            Sdk::Checkout(_) => Vec::new(),
        }
    }
}

/// `1.1` of `1.1.0`: the oldest SDK the generated code compiles with is this host's minor.
pub fn major_minor(version: &str) -> String {
    version.splitn(3, '.').take(2).collect::<Vec<_>>().join(".")
}

fn major(version: &str) -> &str {
    version.split('.').next().unwrap_or(version)
}

/// `version = "..."` of a manifest's `[package]` table; `None` when it is inherited or absent.
fn package_version(manifest: &str) -> Option<String> {
    let package = manifest.split("[package]").nth(1)?;
    let table = package.split("\n[").next()?;
    table.lines().find_map(|line| {
        let value = line.trim().strip_prefix("version")?.trim_start();
        let value = value.strip_prefix('=')?.trim();
        Some(value.strip_prefix('"')?.split('"').next()?.to_string())
    })
}

/// `target` as seen from `base` (both absolute and free of `..`), when they have a folder other
/// than `/` in common.
fn relative_path(target: &Path, base: &Path) -> Option<PathBuf> {
    let target: Vec<Component> = target.components().collect();
    let base: Vec<Component> = base.components().collect();
    let common = target.iter().zip(&base).take_while(|(t, b)| t == b).count();
    if common <= 1 {
        return None;
    }
    let mut path: PathBuf = base[common..].iter().map(|_| "..").collect();
    path.extend(&target[common..]);
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_sdk() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../connector-api")
    }

    fn carried(path: &str) -> &'static str {
        let bytes = SDK_FILES.iter().find(|(p, _)| *p == path).unwrap().1;
        std::str::from_utf8(bytes).unwrap()
    }

    #[test]
    fn the_binary_carries_every_source_file_of_the_sdk() {
        fn walk(root: &Path, dir: &Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let relative = dir.join(entry.unwrap().file_name());
                if root.join(&relative).is_dir() {
                    walk(root, &relative, found);
                } else {
                    found.push(relative.to_str().unwrap().to_string());
                }
            }
        }
        let workspace = repo_sdk().join("..");
        let mut on_disk = Vec::new();
        for krate in ["connector-api", "connector-abi"] {
            on_disk.push(format!("{krate}/Cargo.toml"));
            on_disk.push(format!("{krate}/README.md"));
            walk(&workspace, &Path::new(krate).join("src"), &mut on_disk);
        }
        on_disk.sort();
        let mut carried: Vec<&str> = SDK_FILES.iter().map(|(path, _)| *path).collect();
        carried.sort();
        assert_eq!(carried, on_disk);
        for (path, bytes) in SDK_FILES {
            assert_eq!(
                *bytes,
                std::fs::read(workspace.join(path)).unwrap(),
                "{path}"
            );
        }
    }

    #[test]
    fn the_carried_manifest_stands_alone() {
        for (krate, version) in [
            ("connector-api", SDK_VERSION),
            ("connector-abi", ABI_VERSION),
        ] {
            let manifest = carried(&format!("{krate}/Cargo.toml"));
            for line in manifest.lines().filter(|line| !line.starts_with('#')) {
                let key = line.split('=').next().unwrap();
                assert!(
                    !key.contains("workspace") && !line.contains("workspace = true"),
                    "{krate} inherits from a workspace a new project does not have: {line}"
                );
                // The one path dependency is the SDK's on its ABI, carried beside it.
                if line.contains("path =") {
                    assert!(
                        line.starts_with("dbmon-connector-abi = { path = \"../connector-abi\""),
                        "{krate}: a path dependency leaves the project: {line}"
                    );
                }
            }
            assert_eq!(
                package_version(manifest).as_deref(),
                Some(version),
                "{krate}"
            );
        }
    }

    #[test]
    fn the_vendored_sdk_is_a_relative_path_with_the_hosts_minor() {
        let dependency = Sdk::Vendored.dependency(Path::new("/anywhere/hello"));
        let minor = major_minor(SDK_VERSION);
        let wanted = format!("{{ path = \"vendor/connector-api\", version = \"{minor}\" }}");
        assert_eq!(dependency, wanted);
        let files = Sdk::Vendored.files();
        let paths: Vec<_> = files.iter().map(|(p, _)| p.to_str().unwrap()).collect();
        assert!(paths.contains(&"vendor/connector-api/Cargo.toml"));
        assert!(paths.contains(&"vendor/connector-api/src/lib.rs"));
        assert!(paths.contains(&"vendor/connector-abi/src/lib.rs"));
    }

    #[test]
    fn a_checkout_is_named_relative_to_the_project_when_they_share_a_folder() {
        let sdk = Sdk::checkout(&repo_sdk()).unwrap();
        let Sdk::Checkout(dir) = &sdk else {
            panic!("{sdk:?}")
        };
        let beside = dir.parent().unwrap().join("hello");
        assert_eq!(sdk.dependency(&beside), "{ path = \"../connector-api\" }");
        let deeper = dir.parent().unwrap().join("a/b/hello");
        assert_eq!(
            sdk.dependency(&deeper),
            "{ path = \"../../../connector-api\" }"
        );
        let elsewhere = Sdk::Checkout(PathBuf::from("/opt/sdk"));
        assert_eq!(
            elsewhere.dependency(Path::new("/home/me/hello")),
            "{ path = \"/opt/sdk\" }"
        );
        assert!(
            sdk.files().is_empty(),
            "a checkout is referred to, not copied"
        );
    }

    #[test]
    fn a_folder_that_is_not_the_sdk_is_refused_with_what_to_do() {
        let host_crate = Path::new(env!("CARGO_MANIFEST_DIR"));
        let err = Sdk::checkout(host_crate).unwrap_err();
        assert!(err.contains("not the dbmon-connector-api crate"), "{err}");
        assert!(err.contains("or leave --sdk-path out"), "{err}");

        let err = Sdk::checkout(Path::new("/no/such/sdk")).unwrap_err();
        assert!(err.starts_with("--sdk-path /no/such/sdk: "), "{err}");
        assert!(err.contains("name the connector-api folder"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let other_major = "[package]\nname = \"dbmon-connector-api\"\nversion = \"7.0.0\"\n";
        std::fs::write(dir.path().join("Cargo.toml"), other_major).unwrap();
        let err = Sdk::checkout(dir.path()).unwrap_err();
        assert!(
            err.contains("connector-api 7.0.0 is of another major"),
            "{err}"
        );
    }
}
