//! Finds connector libraries in `plugins_dir`, checks them and loads them. A file that is not a
//! valid connector is refused with one log line naming it and the reason; the rest load.

pub mod convert;
mod load;
mod trust;

use abi_stable::std_types::{RResult, RString};
use dbmon_connector_api::ffi::{ConnectorModRef, InstanceBox};
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Arc,
};

pub use load::load_file;
pub use trust::{TrustPolicy, TrustedFile, sha256_file};

/// A loaded connector library.
pub struct Plugin {
    /// The connector's name.
    pub name: String,
    /// The connector's own version.
    pub version: String,
    /// The connector-api version it was built against.
    pub api_version: String,
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
    module: ConnectorModRef,
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

    /// The library's root module, for tools that drive it directly (the conformance kit).
    pub fn module(&self) -> ConnectorModRef {
        self.module
    }

    /// Validates one cluster's configuration (JSON) and builds its instance; an error carries
    /// the dotted path of the bad field and the message.
    pub fn instantiate(&self, config_json: String) -> Result<InstanceBox, (String, String)> {
        match (self.module.new_instance())(RString::from(config_json)) {
            RResult::ROk(instance) => Ok(instance),
            RResult::RErr(e) => Err((e.path.into_string(), e.message.into_string())),
        }
    }
}

impl Plugin {
    /// Validates one cluster's configuration without keeping an instance. Libraries built
    /// against connector-api 1.0 lack the entry point: an instance is built and dropped.
    pub fn validate(&self, config_json: String) -> Result<(), (String, String)> {
        match self.module.validate() {
            Some(validate) => match validate(RString::from(config_json)) {
                RResult::ROk(()) => Ok(()),
                RResult::RErr(e) => Err((e.path.into_string(), e.message.into_string())),
            },
            None => self.instantiate(config_json).map(drop),
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
                    "loaded connector {} {} (connector-api {})",
                    plugin.name, plugin.version, plugin.api_version
                ),
                Err(reason) => {
                    tracing::warn!(file = %path.display(), "refused plugin: {reason}");
                    refusals.push(Refusal { path, reason });
                }
            }
        }
        (registry, refusals)
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
    let trusted = policy.check_file(path)?;
    let mut plugin = load_file(&trusted.resolved)?;
    plugin.path = path.to_path_buf();
    plugin.sha256 = trusted.sha256;
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
