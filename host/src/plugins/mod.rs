//! Finds connector libraries in `plugins_dir`, checks them and loads them. A file that is not a
//! valid connector is refused with one log line naming it and the reason; the rest load.

pub mod convert;
mod instance;
mod load;
mod trust;
mod v1;

use abi_stable::std_types::{RResult, RString};
use dbmon_connector_api::{ConfigError, ffi::ConnectorModRef};
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Arc,
};

pub use instance::{CollectError, Collecting, Instance};
use load::{load_header, open_library};
pub use trust::{TrustPolicy, TrustedFile, sha256_file};

/// A loaded connector library.
pub struct Plugin {
    /// The connector's name.
    pub name: String,
    /// The connector's own version.
    pub version: String,
    /// The SDK (connector-api) version it was built with.
    pub api_version: String,
    /// The ABI version it was built against (for contract 1, the same as the SDK's).
    pub abi_version: String,
    /// One line on what it monitors.
    pub description: String,
    /// Commands it offers: (name, description).
    pub commands: Vec<(String, String)>,
    /// The file it was loaded from, as found (in the plugins folder).
    pub path: PathBuf,
    /// What `path` names once every symlink is followed: the file checked and loaded.
    pub resolved: PathBuf,
    /// SHA-256 of that file (lowercase hex).
    pub sha256: String,
    module: Module,
}

/// A library's root module, by the contract it was built against.
#[derive(Clone, Copy)]
enum Module {
    Current(ConnectorModRef),
    V1(v1::ModRef),
}

/// What a library says of itself, whichever its contract.
struct Info {
    name: String,
    version: String,
    sdk_version: String,
    abi_version: String,
    description: String,
    commands: Vec<(String, String)>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("path", &self.path)
            .field("sha256", &self.sha256)
            .finish_non_exhaustive()
    }
}

impl Plugin {
    /// `path`, or `path -> resolved` when it is a symlink, for log lines.
    pub fn shown_path(&self) -> String {
        if self.path == self.resolved {
            return self.path.display().to_string();
        }
        format!("{} -> {}", self.path.display(), self.resolved.display())
    }

    /// The library's root module, for tools that drive it directly (the conformance kit);
    /// `None` for a contract-1 library, which the current kit cannot drive.
    pub fn module(&self) -> Option<ConnectorModRef> {
        match self.module {
            Module::Current(module) => Some(module),
            Module::V1(_) => None,
        }
    }

    /// Validates one cluster's configuration (JSON) and builds its instance; an error names
    /// the dotted path of the bad field.
    pub fn instantiate(&self, config_json: String) -> Result<Instance, ConfigError> {
        match self.module {
            Module::Current(module) => match (module.new_instance())(RString::from(config_json)) {
                RResult::ROk(instance) => Ok(Instance::Current(instance)),
                RResult::RErr(e) => Err(ConfigError::at(e.path, e.message)),
            },
            Module::V1(module) => v1::new_instance(module, config_json).map(Instance::V1),
        }
    }

    /// Validates one cluster's configuration without keeping an instance.
    pub fn validate(&self, config_json: String) -> Result<(), ConfigError> {
        match self.module {
            Module::Current(module) => match (module.validate())(RString::from(config_json)) {
                RResult::ROk(()) => Ok(()),
                RResult::RErr(e) => Err(ConfigError::at(e.path, e.message)),
            },
            Module::V1(module) => v1::validate(module, config_json),
        }
    }
}

/// A file that was not loaded, and why.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The file.
    pub path: PathBuf,
    /// Why, in one line.
    pub reason: String,
}

/// Every connector loaded, by name.
#[derive(Default)]
pub struct Registry {
    by_name: BTreeMap<String, Arc<Plugin>>,
}

impl Registry {
    /// Loads every `*.so` in `dir` (sorted by file name) that `policy` trusts; refusals are
    /// logged and returned.
    pub fn load_dir(dir: &Path, policy: &TrustPolicy) -> (Registry, Vec<Refusal>) {
        let mut registry = Registry::default();
        let mut refusals = Vec::new();
        let files = match library_files(dir) {
            Ok(files) => files,
            Err(reason) => {
                tracing::error!(dir = %dir.display(), "cannot read the plugins folder: {reason}");
                return (registry, refusals);
            }
        };
        if let Err(reason) = policy.check_folder(dir) {
            tracing::error!(dir = %dir.display(), "refused every plugin: {reason}");
            let refused = files.into_iter().map(|path| Refusal {
                path,
                reason: reason.clone(),
            });
            refusals.extend(refused);
            return (registry, refusals);
        }
        for path in files {
            let result = load_checked(&path, policy).and_then(|plugin| registry.add(plugin));
            match result {
                Ok(plugin) => tracing::info!(
                    file = %plugin.shown_path(),
                    sha256 = %plugin.sha256,
                    "loaded connector {} {} (connector-api {}, ABI {})",
                    plugin.name, plugin.version, plugin.api_version, plugin.abi_version
                ),
                Err(reason) => {
                    tracing::warn!(file = %path.display(), "refused plugin: {reason}");
                    refusals.push(Refusal { path, reason });
                }
            }
        }
        (registry, refusals)
    }

    /// The connectors after a reload: every one loaded already, and the libraries of `dir`
    /// not loaded yet (returned apart too). A loaded file that changed since is refused:
    /// a library cannot be unloaded safely, so a new version needs a new file name.
    pub fn reloaded(
        &self,
        dir: &Path,
        policy: &TrustPolicy,
    ) -> (Registry, Vec<Arc<Plugin>>, Vec<Refusal>) {
        let mut registry = Registry {
            by_name: self.by_name.clone(),
        };
        let mut added = Vec::new();
        let mut refusals = Vec::new();
        let files = match library_files(dir) {
            Ok(files) => files,
            Err(reason) => {
                refusals.push(Refusal {
                    path: dir.to_path_buf(),
                    reason: format!("cannot read the plugins folder: {reason}"),
                });
                return (registry, added, refusals);
            }
        };
        for path in files {
            let loaded = self.by_name.values().find(|p| p.path == path);
            let result = match loaded {
                Some(plugin) => match policy.check_file(&path) {
                    Ok(trusted) if trusted.sha256 == plugin.sha256 => continue,
                    Ok(_) => Err(format!(
                        "changed since connector '{}' was loaded from it; a loaded library \
                         cannot be unloaded: install the new version under a new file name \
                         (or restart the host)",
                        plugin.name
                    )),
                    Err(reason) => Err(reason),
                },
                None => load_checked(&path, policy).and_then(|plugin| registry.add(plugin)),
            };
            match result {
                Ok(plugin) => {
                    tracing::info!(
                        file = %plugin.shown_path(),
                        sha256 = %plugin.sha256,
                        "reload: loaded connector {} {} (connector-api {}, ABI {})",
                        plugin.name, plugin.version, plugin.api_version, plugin.abi_version
                    );
                    added.push(plugin);
                }
                Err(reason) => {
                    tracing::warn!(file = %path.display(), "reload: refused plugin: {reason}");
                    refusals.push(Refusal { path, reason });
                }
            }
        }
        (registry, added, refusals)
    }

    fn add(&mut self, plugin: Plugin) -> Result<Arc<Plugin>, String> {
        if let Some(first) = self.by_name.get(&plugin.name) {
            return Err(format!(
                "connector '{}' is already loaded from {}",
                plugin.name,
                first.path.display()
            ));
        }
        let plugin = Arc::new(plugin);
        self.by_name
            .insert(plugin.name.clone(), Arc::clone(&plugin));
        Ok(plugin)
    }

    /// The connector called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Plugin>> {
        self.by_name.get(name)
    }

    /// All connectors, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Plugin>> {
        self.by_name.values()
    }

    /// The names, comma-separated, for error messages.
    pub fn names(&self) -> String {
        if self.by_name.is_empty() {
            return "none".into();
        }
        self.by_name.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// Loads one file the way `serve` does: trust checks first, then the library. The file
/// loaded is the one checked, wherever a symlink at `path` points by then.
pub fn load_checked(path: &Path, policy: &TrustPolicy) -> Result<Plugin, String> {
    load_trusted(path, policy.check_file(path)?)
}

/// Loads the open file that was checked and hashed, not whatever `path` names by now.
fn load_trusted(path: &Path, trusted: TrustedFile) -> Result<Plugin, String> {
    let load_path = trusted.load_path();
    // The loader's own words name the file it opened: name the operator's.
    let resolved = trusted.resolved.display().to_string();
    let named = |e: String| e.replace(&*load_path.to_string_lossy(), &resolved);
    let header = open_library(&load_path).map_err(named)?;
    // The loader knows the library by the name `/proc/self/fd/N` from now on, and would take
    // a later file opened as the same N for it: the descriptor stays open as long as the
    // library stays loaded, which is for good.
    let TrustedFile {
        resolved,
        sha256,
        file,
    } = trusted;
    std::mem::forget(file);
    let mut plugin = load_header(header, &resolved)?;
    plugin.path = path.to_path_buf();
    plugin.resolved = resolved;
    plugin.sha256 = sha256;
    Ok(plugin)
}

/// Absolute paths of the `.so` files in `dir`, sorted; dlopen treats a bare name as a library
/// to search for, so paths must be absolute.
fn library_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let dir = std::fs::canonicalize(dir).map_err(|e| e.to_string())?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| e.to_string())?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "so"))
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bundled library copied into a folder of the test's own.
    fn copy_of(crate_name: &str, dir: &Path, file: &str) -> PathBuf {
        let path = dir.join(file);
        std::fs::copy(dbmon_test_support::built_library(crate_name), &path).unwrap();
        path
    }

    #[test]
    fn the_library_loaded_is_the_one_checked_even_when_the_path_changes_between() {
        let dir = tempfile::tempdir().unwrap();
        let path = copy_of(
            "dbmon_connector_system",
            dir.path(),
            "libdbmon_connector_x.so",
        );
        let trusted = TrustPolicy::default().check_file(&path).unwrap();
        let checked = trusted.sha256.clone();
        // Another library renamed over the path after the checks (an upgrade, or someone
        // racing an allowlist): the one checked loads all the same.
        let other = copy_of("dbmon_connector_misbehave", dir.path(), "staged.so");
        std::fs::rename(&other, &path).unwrap();
        let plugin = load_trusted(&path, trusted).unwrap();
        assert_eq!(plugin.name, "system");
        assert_eq!(plugin.sha256, checked);
        assert_eq!(plugin.path, path);
        assert!(
            !plugin.resolved.starts_with("/proc"),
            "{:?}",
            plugin.resolved
        );
    }
}
