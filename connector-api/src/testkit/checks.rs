//! The checks themselves, over the stable ABI: the same calls, in the same runtime setup, as
//! the host's loader and agents make.

use super::{Conformance, Outcome, Report, probe::PanicProbe};
use crate::{
    Status, export,
    ffi::{API_VERSION, ConnectorModRef, FfiCollectRequest, FfiInfo, InstanceBox},
};
use abi_stable::std_types::{RResult, RString, RVec};
use serde_json::Value;
use std::{
    collections::HashSet,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::{Duration, Instant},
};

/// The prefix the SDK puts on errors that were panics.
const PANIC_PREFIX: &str = "connector panicked: ";
/// A poll that holds the thread longer than this blocks the host (it logs a warning).
const SLOW_POLL: Duration = Duration::from_millis(50);
/// How long the cancellation check lets a collection run before dropping it.
const CANCEL_AFTER: Duration = Duration::from_millis(50);
/// A command name no connector offers.
const NO_SUCH_COMMAND: &str = "dbmon-conformance-no-such-command";

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
    if name.is_empty() {
        problems.push(format!("the name is empty ({})", info.description));
    } else if !name
        .chars()
        .all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '-'))
    {
        problems.push(format!("name '{name}' must use only a-z, 0-9, '_' and '-'"));
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
        if command.is_empty() || command.contains(char::is_whitespace) {
            problems.push(format!("command name '{command}' is empty or has spaces"));
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
fn count(n: usize, thing: &str) -> String {
    format!("{n} {thing}{}", if n == 1 { "" } else { "s" })
}

/// The host loads any minor of its own major (`1.0.3` and `1.4.0` into a `1.2.0` host).
fn same_major(version: &str, host: &str) -> bool {
    let major = |v: &str| v.split('.').next().and_then(|m| m.parse::<u64>().ok());
    major(version).is_some() && major(version) == major(host)
}

fn new_instance(module: ConnectorModRef, config: &str) -> Result<InstanceBox, String> {
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

fn request(sequence: u64, timeout: Duration) -> FfiCollectRequest {
    FfiCollectRequest {
        sequence,
        timeout_ms: timeout.as_millis() as u64,
    }
}

/// One collection, given `timeout` as the host would, waited for `timeout + grace`.
async fn collect(
    instance: &InstanceBox,
    sequence: u64,
    timeout: Duration,
    grace: Duration,
) -> Result<String, String> {
    let future = instance.collect(request(sequence, timeout));
    let (result, took) = timed(future, timeout, grace).await?;
    let took = format!("{} ms", took.as_millis());
    match result {
        RResult::ROk(report) => {
            let status = Status::from_code(report.status).as_str().to_uppercase();
            Ok(format!(
                "{status} report in {took}: {}, {}, {}",
                count(report.series.len(), "metric"),
                count(report.nodes.len(), "node"),
                count(report.reasons.len(), "reason")
            ))
        }
        RResult::RErr(e) if e.starts_with(PANIC_PREFIX) => Err(format!("collect {e}")),
        RResult::RErr(e) if e.trim().is_empty() => Err("an error without a message".into()),
        RResult::RErr(e) => Ok(format!(
            "an error in {took} (the host reports UNREACHABLE): {e}"
        )),
    }
}

/// Drops a collection mid-flight, then collects again under the short deadline.
async fn cancellation(
    instance: &InstanceBox,
    kit: &Conformance,
    timeout: Duration,
) -> Result<String, String> {
    let mut first = instance.collect(request(3, timeout));
    let started = Instant::now();
    let finished = tokio::time::timeout(CANCEL_AFTER, &mut first).await.is_ok();
    let ran = started.elapsed().as_millis();
    drop(first);
    let again = collect(instance, 4, kit.collect_timeout, kit.grace).await;
    let again = again.map_err(|e| format!("after a cancelled collection: {e}"))?;
    if finished {
        Ok(format!(
            "finished in {ran} ms, before it could be cancelled (point the valid config at a SilentServer to test this); then {again}"
        ))
    } else {
        Ok(format!("dropped after {ran} ms mid-flight; then {again}"))
    }
}

/// A panic in collect must come back as an error. The kit cannot make the connector's own code
/// panic, so a probe does, through the same export layer (`export::root_module`) that
/// `export_connector!` wraps around every connector.
async fn panic_probe(
    info: &FfiInfo,
    in_process: bool,
    kit: &Conformance,
) -> Result<String, String> {
    let module = export::root_module::<PanicProbe>();
    let config = r#"{"id":"probe","interval_ms":1000,"timeout_ms":1000,"options":null}"#;
    let instance = new_instance(module, config)?;
    let second = Duration::from_secs(1);
    let (result, _) = timed(instance.collect(request(1, second)), second, kit.grace).await?;
    let caught = match result {
        RResult::RErr(e)
            if e.starts_with(PANIC_PREFIX) && e.contains(super::probe::PROBE_PANIC) =>
        {
            e
        }
        RResult::RErr(e) => {
            return Err(format!("the probe's panic came back as another error: {e}"));
        }
        RResult::ROk(_) => return Err("the probe's panic came back as a report".into()),
    };
    let whose = if in_process {
        "the export layer this connector is built with".to_string()
    } else {
        format!(
            "the kit's export layer (connector-api {API_VERSION}); the library carries its own copy (connector-api {})",
            info.api_version
        )
    };
    Ok(format!("came back as \"{caught}\" through {whose}"))
}

async fn command(
    instance: &InstanceBox,
    name: &str,
    args: Vec<String>,
    timeout: Duration,
    grace: Duration,
) -> Result<String, String> {
    let args: RVec<RString> = args.into_iter().map(RString::from).collect();
    let future = instance.run_command(name.into(), args, request(1, timeout));
    let (result, took) = timed(future, timeout, grace).await?;
    let took = took.as_millis();
    match result {
        RResult::ROk(_) if name == NO_SUCH_COMMAND => Err("an unknown command succeeded".into()),
        RResult::ROk(out) => Ok(format!("{} bytes of output in {took} ms", out.len())),
        RResult::RErr(e) if e.starts_with(PANIC_PREFIX) => Err(format!("the command {e}")),
        RResult::RErr(e) if e.trim().is_empty() => Err("an error without a message".into()),
        RResult::RErr(e) => Ok(format!("an error in {took} ms: {e}")),
    }
}

/// Awaits `future` for `timeout + grace`; fails when it runs longer or blocks the thread in a
/// poll for more than [`SLOW_POLL`].
async fn timed<F: Future + Unpin>(
    future: F,
    timeout: Duration,
    grace: Duration,
) -> Result<(F::Output, Duration), String> {
    let started = Instant::now();
    let mut watched = PollTimer {
        inner: future,
        longest: Duration::ZERO,
    };
    let output = tokio::time::timeout(timeout + grace, &mut watched).await;
    let took = started.elapsed();
    let limit = (timeout + grace).as_millis();
    if watched.longest > SLOW_POLL {
        return Err(format!(
            "blocked the thread for {} ms in one poll: await, never block (use spawn_blocking)",
            watched.longest.as_millis()
        ));
    }
    match output {
        Ok(output) if took <= timeout + grace => Ok((output, took)),
        _ => Err(format!(
            "still running after {} ms (timeout {} ms + {} ms grace, limit {limit} ms): bound every wait by ctx.deadline",
            took.as_millis(),
            timeout.as_millis(),
            grace.as_millis()
        )),
    }
}

/// Measures the longest single poll of a future.
struct PollTimer<F> {
    inner: F,
    longest: Duration,
}

impl<F: Future + Unpin> Future for PollTimer<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let start = Instant::now();
        let result = Pin::new(&mut self.inner).poll(cx);
        self.longest = self.longest.max(start.elapsed());
        result
    }
}
