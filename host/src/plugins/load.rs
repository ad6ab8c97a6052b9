//! Loading one library through abi_stable, with abi_stable's errors turned into one line an
//! operator can act on.

use super::Plugin;
use abi_stable::std_types::RStr;
use abi_stable::{
    StableAbi,
    abi_stability::abi_checking::check_layout_compatibility,
    library::{LibHeader, LibraryError, lib_header_from_path},
};
use dbmon_connector_api::ffi::{API_VERSION, ConnectorModRef, FfiHost, level};
use std::path::Path;

/// Loads `path` as a connector. Never unloads anything: Rust libraries with thread-locals
/// crash on dlclose, so abi_stable leaks them on purpose.
pub fn load_file(path: &Path) -> Result<Plugin, String> {
    let header = lib_header_from_path(path).map_err(|e| describe(&e))?;
    let built_with = header.version_strings().version.to_string();
    if major(&built_with) != major(API_VERSION) {
        return Err(format!(
            "built against connector-api {built_with}, but this host loads connector-api {}.x (host has {API_VERSION}); rebuild the connector",
            major(API_VERSION)
        ));
    }
    check_layout(header, &built_with)?;
    // SAFETY: `check_layout` proved that one root module layout is a prefix of the other, and
    // the prefix type's accessors read fields past the library's end as `None`.
    let module = unsafe { header.unchecked_layout::<ConnectorModRef>() }
        .map_err(|e| format!("its root module failed: {e}"))?;
    (module.init())(FfiHost {
        log: forward_log,
        max_level: max_level(),
    });
    let info = (module.info())();
    use dbmon_connector_api::names::{command_name_problem, connector_name_problem};
    if let Some(problem) = connector_name_problem(&info.name) {
        return Err(format!(
            "its name cannot be used: {problem} ({})",
            info.description
        ));
    }
    if let Some(problem) = info
        .commands
        .iter()
        .find_map(|c| command_name_problem(&c.name))
    {
        return Err(format!(
            "connector '{}' offers a command no client could run: {problem}",
            info.name
        ));
    }
    Ok(Plugin {
        name: info.name.into_string(),
        version: info.version.into_string(),
        api_version: info.api_version.into_string(),
        description: info.description.into_string(),
        commands: info
            .commands
            .into_iter()
            .map(|c| (c.name.into_string(), c.description.into_string()))
            .collect(),
        path: path.to_path_buf(),
        resolved: path.to_path_buf(),
        sha256: String::new(),
        module,
    })
}

/// abi_stable's own check (`init_root_module`) lets a library have more root-module fields
/// than the host but not fewer, which would refuse every connector built against an older
/// minor. Connectors of either an older or a newer minor are accepted here: whichever layout is
/// the shorter must be a prefix of the other.
fn check_layout(header: &LibHeader, built_with: &str) -> Result<(), String> {
    let Some(library) = header.layout() else {
        return Err("the library was built without its layout (unsafe_no_layout_constant)".into());
    };
    let host = <ConnectorModRef as StableAbi>::LAYOUT;
    let older = check_layout_compatibility(library, host);
    if older.is_ok() || check_layout_compatibility(host, library).is_ok() {
        return Ok(());
    }
    if let Err(details) = older {
        // abi_stable's own text is a ~1,000-line layout dump: keep it for debugging only.
        tracing::debug!("layout mismatch details: {details}");
    }
    Err(format!(
        "its ABI does not match: built against connector-api {built_with}, host has {API_VERSION}; rebuild the connector against connector-api {API_VERSION}"
    ))
}

/// One line for an error of `lib_header_from_path`.
fn describe(error: &LibraryError) -> String {
    match error {
        LibraryError::OpenError { err, .. } => format!("not a loadable shared library: {err}"),
        LibraryError::GetSymbolError { .. } => {
            "not a dbmon connector: the library exports no abi_stable root module".into()
        }
        LibraryError::InvalidAbiHeader(_) => {
            "built with an incompatible version of abi_stable; rebuild the connector".into()
        }
        other => first_line(&other.to_string()),
    }
}

fn major(version: &str) -> &str {
    version.split('.').next().unwrap_or(version)
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

fn max_level() -> u8 {
    use tracing::level_filters::LevelFilter;
    match LevelFilter::current() {
        LevelFilter::OFF => 0,
        LevelFilter::ERROR => level::ERROR,
        LevelFilter::WARN => level::WARN,
        LevelFilter::INFO => level::INFO,
        LevelFilter::DEBUG => level::DEBUG,
        _ => level::TRACE,
    }
}

/// Receives the connectors' log lines and re-emits them in the host's log.
extern "C" fn forward_log(level: u8, target: RStr<'_>, line: RStr<'_>) {
    let target = target.as_str();
    let line = line.as_str();
    match level {
        level::ERROR => tracing::error!(target: "connector", source = target, "{line}"),
        level::WARN => tracing::warn!(target: "connector", source = target, "{line}"),
        level::INFO => tracing::info!(target: "connector", source = target, "{line}"),
        level::DEBUG => tracing::debug!(target: "connector", source = target, "{line}"),
        _ => tracing::trace!(target: "connector", source = target, "{line}"),
    }
}
