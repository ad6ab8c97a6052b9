//! The checks in the order they run, over the stable ABI: the same calls, in the same runtime
//! setup, as the host's loader and agents make. Info and configuration checks are here; the
//! calls that run the connector are in `calls`.

use super::{
    Conformance, Outcome, Report,
    calls::{NO_SUCH_COMMAND, PANIC_PREFIX, cancellation, collect, command, panic_probe},
};
use crate::ffi::{API_VERSION, ConnectorModRef, FfiInfo, InstanceBox};
use abi_stable::std_types::{RResult, RString};
use serde_json::Value;
use std::{collections::HashSet, time::Duration};

pub(super) async fn run(kit: &Conformance, module: ConnectorModRef, in_process: bool) -> Report {
    let mut report = Report::default();
    let info = (module.info())();
    report.connector = info.name.to_string();
    report.record("info", check_info(&info, in_process));

    let instance = match kit
        .valid_json()
        .and_then(|_| new_instance(module, &kit.valid))
    {
        Ok(instance) => {
            report.pass("valid config", "accepted".into());
            Some(instance)
        }
        Err(message) => {
            report.fail("valid config", message);
            None
        }
    };
    for invalid in &kit.invalid {
        let (config, label) = invalid.render(kit);
        let result = refused(module, &config, &invalid.path_prefix);
        report.record(format!("invalid {label}"), result);
    }
    for (label, options) in kit_own_options(kit) {
        let result = refused_or_accepted(module, &kit.with("options", options));
        report.record(format!("kit: options {label}"), result);
    }

    let timeout = Duration::from_millis(configured_timeout_ms(kit));
    let deadline = format!("deadline {} ms", kit.collect_timeout.as_millis());
    match &instance {
        Some(instance) => {
            let result = collect(instance, 1, timeout, kit.grace).await;
            report.record("collect", result);
            let result = collect(instance, 2, kit.collect_timeout, kit.grace).await;
            report.record(deadline, result);
            report.record("cancellation", cancellation(instance, kit, timeout).await);
        }
        None => {
            for name in ["collect", &deadline, "cancellation"] {
                let why = "needs an instance of the valid config".to_string();
                report.push(name, Outcome::Skipped, why);
            }
        }
    }
    report.record(
        "panic in collect",
        panic_probe(&info, in_process, kit).await,
    );

    let commands = info.commands.iter().map(|c| c.name.to_string());
    for name in commands.chain([NO_SUCH_COMMAND.to_string()]) {
        let check = if name == NO_SUCH_COMMAND {
            "unknown command".to_string()
        } else {
            format!("command {name}")
        };
        let Some(instance) = &instance else {
            let why = "needs an instance of the valid config".to_string();
            report.push(check, Outcome::Skipped, why);
            continue;
        };
        let args = kit.command_args.get(&name).cloned().unwrap_or_default();
        let result = command(instance, &name, args, timeout, kit.grace).await;
        report.record(check, result);
    }
    report
}

fn check_info(info: &FfiInfo, in_process: bool) -> Result<String, String> {
    let mut problems = Vec::new();
    let name = info.name.as_str();
    if let Some(problem) = crate::names::connector_name_problem(name) {
        problems.push(problem);
    }
    if info.version.is_empty() {
        problems.push("the version is empty".into());
    }
    let description = info.description.as_str();
    if description.trim().is_empty() || description.contains('\n') {
        problems.push("the description must be one non-empty line".into());
    }
    let api = info.api_version.as_str();
    let api_ok = if in_process {
        api == API_VERSION
    } else {
        same_major(api, API_VERSION)
    };
    if !api_ok {
        problems.push(format!(
            "built against connector-api {api}, but the kit is connector-api {API_VERSION}"
        ));
    }
    let mut seen = HashSet::new();
    for command in info.commands.iter() {
        let command = command.name.as_str();
        if let Some(problem) = crate::names::command_name_problem(command) {
            problems.push(problem);
        } else if !seen.insert(command) {
            problems.push(format!("command '{command}' is listed twice"));
        }
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    Ok(format!(
        "{name} {}, connector-api {api}, {}",
        info.version,
        count(info.commands.len(), "command")
    ))
}

/// "1 node", "2 nodes".
pub(super) fn count(n: usize, thing: &str) -> String {
    format!("{n} {thing}{}", if n == 1 { "" } else { "s" })
}

/// The host loads any minor of its own major (`1.0.3` and `1.4.0` into a `1.2.0` host).
fn same_major(version: &str, host: &str) -> bool {
    let major = |v: &str| v.split('.').next().and_then(|m| m.parse::<u64>().ok());
    major(version).is_some() && major(version) == major(host)
}

pub(super) fn new_instance(module: ConnectorModRef, config: &str) -> Result<InstanceBox, String> {
    match (module.new_instance())(RString::from(config)) {
        RResult::ROk(instance) => Ok(instance),
        RResult::RErr(e) if e.message.starts_with(PANIC_PREFIX) => Err(format!(
            "new panicked instead of returning a ConfigError: {}",
            e.message
        )),
        RResult::RErr(e) => Err(format!("refused at `{}`: {}", e.path, e.message)),
    }
}

/// An invalid config must be refused with a message, at `path_prefix` when one is given.
fn refused(module: ConnectorModRef, config: &str, path_prefix: &str) -> Result<String, String> {
    match (module.new_instance())(RString::from(config)) {
        RResult::ROk(_) => Err("accepted a configuration it should refuse".into()),
        RResult::RErr(e) => {
            let (path, message) = (e.path.as_str(), e.message.as_str());
            if message.starts_with(PANIC_PREFIX) {
                Err(format!(
                    "new panicked instead of returning a ConfigError: {message}"
                ))
            } else if message.trim().is_empty() {
                Err(format!("refused at `{path}` without a message"))
            } else if !path.starts_with(path_prefix) {
                Err(format!(
                    "refused at `{path}`, expected a path starting with `{path_prefix}`: {message}"
                ))
            } else {
                Ok(format!("refused at `{path}`: {message}"))
            }
        }
    }
}

/// Options the kit tries on its own: any connector may accept them, none may panic.
fn kit_own_options(kit: &Conformance) -> Vec<(&'static str, Value)> {
    let mut unknown = match kit
        .valid_json()
        .ok()
        .and_then(|v| v.get("options").cloned())
    {
        Some(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    unknown.insert("dbmon_conformance_unknown_option".into(), Value::Bool(true));
    vec![
        ("null", Value::Null),
        ("42", Value::from(42)),
        ("with an unknown field", Value::Object(unknown)),
    ]
}

fn refused_or_accepted(module: ConnectorModRef, config: &str) -> Result<String, String> {
    match (module.new_instance())(RString::from(config)) {
        RResult::ROk(_) => Ok("accepted (the options take it)".into()),
        RResult::RErr(e) if e.message.starts_with(PANIC_PREFIX) => Err(format!(
            "new panicked instead of returning a ConfigError: {}",
            e.message
        )),
        RResult::RErr(e) if e.message.trim().is_empty() => {
            Err(format!("refused at `{}` without a message", e.path))
        }
        RResult::RErr(e) => Ok(format!("refused at `{}`: {}", e.path, e.message)),
    }
}

fn configured_timeout_ms(kit: &Conformance) -> u64 {
    kit.valid_json()
        .ok()
        .and_then(|v| v.get("timeout_ms").and_then(Value::as_u64))
        .unwrap_or(5_000)
}
