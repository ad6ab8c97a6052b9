//! The calls that run the connector: collections, commands and the panic probe, each timed
//! against its deadline and watched for polls that block the thread.

use super::{
    Conformance,
    checks::{count, new_instance},
    probe::{PROBE_PANIC, PanicProbe},
};
use crate::{
    SDK_VERSION, Status, export,
    ffi::{FfiCollectRequest, FfiErrorKind, FfiInfo, InstanceBox, extension},
    runtime,
};
use abi_stable::std_types::{RResult, RString, RVec};
use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::{Duration, Instant},
};

/// A poll that holds the thread longer than this blocks the host. The host warns from 50 ms;
/// the kit allows twice that, so that a busy test machine's scheduling is not mistaken for it.
const SLOW_POLL: Duration = Duration::from_millis(100);
/// How long the cancellation check lets a collection run before dropping it.
const CANCEL_AFTER: Duration = Duration::from_millis(50);
/// A command name no connector offers.
pub(super) const NO_SUCH_COMMAND: &str = "dbmon-conformance-no-such-command";

fn request(sequence: u64, timeout: Duration) -> FfiCollectRequest {
    FfiCollectRequest {
        sequence,
        timeout_ms: timeout.as_millis() as u64,
    }
}

/// One collection, given `timeout` as the host would, waited for `timeout + grace`.
pub(super) async fn collect(
    instance: &InstanceBox,
    sequence: u64,
    timeout: Duration,
    grace: Duration,
) -> Result<String, String> {
    let future = instance.collect(request(sequence, timeout));
    let waited_before = library_run_queue_wait();
    let (result, took) = timed(future, timeout, grace).await?;
    let waited = library_run_queue_wait().saturating_sub(waited_before);
    let took = format!("{} ms", took.as_millis());
    match result {
        RResult::ROk(report) => {
            // The SDK runs a collection as a task of the library's runtime, where the kit
            // cannot time its polls: the library times them and says so in the report. Its
            // figure is wall time; the time the library's threads waited for a core is taken
            // off, as for the polls the kit times itself.
            // abi 2.1 {
            let longest = report
                .extensions
                .iter()
                .find(|e| e.id == extension::LONGEST_POLL_US)
                .and_then(|e| e.words.first())
                .map(|&micros| Duration::from_micros(micros).saturating_sub(waited));
            if let Some(longest) = longest.filter(|&l| l > SLOW_POLL) {
                return Err(blocked(longest));
            }
            // } abi 2.1
            let status = Status::from_code(report.status).as_str().to_uppercase();
            Ok(format!(
                "{status} report in {took}: {}, {}, {}",
                count(report.series.len(), "metric"),
                count(report.nodes.len(), "node"),
                count(report.reasons.len(), "reason")
            ))
        }
        RResult::RErr(e) if e.kind == FfiErrorKind::PANICKED => {
            Err(format!("collect {}", e.message))
        }
        RResult::RErr(e) if e.message.trim().is_empty() => Err("an error without a message".into()),
        RResult::RErr(e) => Ok(format!(
            "an error in {took} (the host reports UNREACHABLE): {}",
            e.message
        )),
    }
}

/// Drops a collection mid-flight, then collects again under the short deadline.
pub(super) async fn cancellation(
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
            "finished in {ran} ms, before the kit could cancel it (nothing to wait for); then {again}"
        ))
    } else {
        Ok(format!("dropped after {ran} ms mid-flight; then {again}"))
    }
}

/// A panic in collect must come back as an error. The kit cannot make the connector's own code
/// panic, so a probe does, through the same export layer (`export::root_module`) that
/// `export_connector!` wraps around every connector.
pub(super) async fn panic_probe(
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
        RResult::RErr(e) if e.kind == FfiErrorKind::PANICKED && e.message.contains(PROBE_PANIC) => {
            e.message
        }
        RResult::RErr(e) => {
            return Err(format!(
                "the probe's panic came back as another error: {}",
                e.message
            ));
        }
        RResult::ROk(_) => return Err("the probe's panic came back as a report".into()),
    };
    let whose = if in_process {
        "the export layer this connector is built with".to_string()
    } else {
        format!(
            "the kit's export layer (connector-api {SDK_VERSION}); the library carries its own copy (connector-api {})",
            info.sdk_version
        )
    };
    Ok(format!("came back as \"{caught}\" through {whose}"))
}

pub(super) async fn command(
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
        RResult::RErr(e) if e.kind == FfiErrorKind::PANICKED => {
            Err(format!("the command {}", e.message))
        }
        RResult::RErr(e) if e.message.trim().is_empty() => Err("an error without a message".into()),
        RResult::RErr(e) if name == NO_SUCH_COMMAND && e.kind != FfiErrorKind::UNSUPPORTED => {
            Ok(format!(
                "an error in {took} ms: {} (a plain failure; CommandError::unknown says unsupported)",
                e.message
            ))
        }
        RResult::RErr(e) => Ok(format!("an error in {took} ms: {}", e.message)),
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
        return Err(blocked(watched.longest));
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

fn blocked(longest: Duration) -> String {
    format!(
        "blocked the thread for {} ms in one poll: await, never block (use spawn_blocking)",
        longest.as_millis()
    )
}

/// Measures the longest single poll of a future: its wall time less the time the thread was
/// ready but waited for a core (on a loaded machine a poll that computes for 30 ms can take
/// 100 ms of wall time). A poll that sleeps or waits for I/O keeps that time, so blocking is
/// still caught.
struct PollTimer<F> {
    inner: F,
    longest: Duration,
}

impl<F: Future + Unpin> Future for PollTimer<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let start = Instant::now();
        let waited_before = run_queue_wait();
        let result = Pin::new(&mut self.inner).poll(cx);
        let mut took = start.elapsed();
        if let (Some(before), Some(after)) = (waited_before, run_queue_wait()) {
            took = took.saturating_sub(after.saturating_sub(before));
        }
        self.longest = self.longest.max(took);
        result
    }
}

/// The time this thread has spent ready to run but waiting for a core: the second field of
/// Linux's `/proc/thread-self/schedstat` (nanoseconds); `None` where there is none.
fn run_queue_wait() -> Option<Duration> {
    schedstat_wait("/proc/thread-self/schedstat".as_ref())
}

/// The same, summed over this process's threads that connector libraries' runtimes run on
/// (the SDK names them `dbmon-NAME`); zero where Linux's `/proc` is not there.
fn library_run_queue_wait() -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    tasks
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|name| name.starts_with(runtime::THREAD_PREFIX))
        })
        .filter_map(|task| schedstat_wait(&task.path().join("schedstat")))
        .sum()
}

fn schedstat_wait(path: &std::path::Path) -> Option<Duration> {
    let text = std::fs::read_to_string(path).ok()?;
    let nanos = text.split_whitespace().nth(1)?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}
