//! Loading one library through abi_stable, with abi_stable's errors turned into one line an
//! operator can act on.

use super::{Info, Module, Plugin, v1};
use abi_stable::std_types::RStr;
use abi_stable::{
    StableAbi,
    abi_stability::abi_checking::check_layout_compatibility,
    library::{LibHeader, LibraryError, lib_header_from_path},
    type_layout::TypeLayout,
};
use dbmon_connector_api::ffi::{ABI_VERSION, ConnectorModRef, FfiHost, FfiLevel};
use std::path::Path;

/// Opens `path` as a library (dlopen) and finds its root module's header. Never unloads
/// anything: Rust libraries with thread-locals crash on dlclose, so abi_stable leaks them on
/// purpose; a library opened here stays mapped for the process's life.
pub fn open_library(path: &Path) -> Result<&'static LibHeader, String> {
    lib_header_from_path(path).map_err(|e| describe(&e))
}

/// The connector of an opened library (`path` is where it came from).
pub fn load_header(header: &'static LibHeader, path: &Path) -> Result<Plugin, String> {
    let built_with = header.version_strings().version.to_string();
    let max_level = FfiLevel::of_filter(tracing::level_filters::LevelFilter::current());
    let (module, info) = if major(&built_with) == major(ABI_VERSION) {
        check_layout(header, <ConnectorModRef as StableAbi>::LAYOUT, &built_with)?;
        // SAFETY: `check_layout` proved that one root module layout is a prefix of the other,
        // and the prefix type's accessors read fields past the library's end as `None`.
        let module = unsafe { header.unchecked_layout::<ConnectorModRef>() }
            .map_err(|e| format!("its root module failed: {e}"))?;
        (module.init())(FfiHost {
            log: forward_log,
            max_level,
        });
        (Module::Current(module), info(module))
    } else if major(&built_with) == major(v1::ABI_VERSION) {
        check_layout(header, v1::LAYOUT, &built_with)?;
        // SAFETY: as above, against contract 1's root module.
        let module = unsafe { header.unchecked_layout::<v1::ModRef>() }
            .map_err(|e| format!("its root module failed: {e}"))?;
        v1::init(module, forward_log_v1, max_level.0);
        (Module::V1(module), v1::info(module))
    } else {
        return Err(format!(
            "built against connector ABI {built_with}, but this host loads ABI {}.x (host has {ABI_VERSION}) and contract 1 (connector-api 1.x); rebuild the connector",
            major(ABI_VERSION)
        ));
    };
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
        .find_map(|(c, _)| command_name_problem(c))
    {
        return Err(format!(
            "connector '{}' offers a command no client could run: {problem}",
            info.name
        ));
    }
    Ok(Plugin {
        name: info.name,
        version: info.version,
        api_version: info.sdk_version,
        abi_version: info.abi_version,
        description: info.description,
        commands: info.commands,
        path: path.to_path_buf(),
        resolved: path.to_path_buf(),
        sha256: String::new(),
        module,
    })
}

fn info(module: ConnectorModRef) -> Info {
    let info = (module.info())();
    Info {
        name: info.name.into_string(),
        version: info.version.into_string(),
        sdk_version: info.sdk_version.into_string(),
        abi_version: info.abi_version.into_string(),
        description: info.description.into_string(),
        commands: info
            .commands
            .into_iter()
            .map(|c| (c.name.into_string(), c.description.into_string()))
            .collect(),
    }
}

/// abi_stable's own check (`init_root_module`) lets a library have more root-module fields
/// than the host but not fewer, which would refuse every connector built against an older
/// minor. Connectors of either an older or a newer minor are accepted here: whichever layout is
/// the shorter must be a prefix of the other.
fn check_layout(
    header: &LibHeader,
    host: &'static TypeLayout,
    built_with: &str,
) -> Result<(), String> {
    let Some(library) = header.layout() else {
        return Err("the library was built without its layout (unsafe_no_layout_constant)".into());
    };
    let older = check_layout_compatibility(library, host);
    if older.is_ok() || check_layout_compatibility(host, library).is_ok() {
        return Ok(());
    }
    if let Err(details) = older {
        // abi_stable's own text is a ~1,000-line layout dump: keep it for debugging only.
        tracing::debug!("layout mismatch details: {details}");
    }
    Err(format!(
        "its ABI does not match: built against connector ABI {built_with}, host has {ABI_VERSION}; rebuild the connector against connector-api {}",
        dbmon_connector_api::SDK_VERSION
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

/// Receives the connectors' log lines and re-emits them in the host's log.
extern "C" fn forward_log(level: FfiLevel, target: RStr<'_>, line: RStr<'_>) {
    let target = target.as_str();
    let line = line.as_str();
    match level.level() {
        None | Some(tracing::Level::ERROR) => {
            tracing::error!(target: "connector", source = target, "{line}")
        }
        Some(tracing::Level::WARN) => {
            tracing::warn!(target: "connector", source = target, "{line}")
        }
        Some(tracing::Level::INFO) => {
            tracing::info!(target: "connector", source = target, "{line}")
        }
        Some(tracing::Level::DEBUG) => {
            tracing::debug!(target: "connector", source = target, "{line}")
        }
        Some(_) => tracing::trace!(target: "connector", source = target, "{line}"),
    }
}

/// Contract 1 passes the same level codes as a bare byte.
extern "C" fn forward_log_v1(level: u8, target: RStr<'_>, line: RStr<'_>) {
    forward_log(FfiLevel(level), target, line)
}
