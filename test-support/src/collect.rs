//! Collections as the host makes them, for connector tests that drive a [`Connector`]
//! directly: a context with a deadline, one collection that must succeed or fail, and
//! collections repeated until a condition holds. Each connector's `tests/common` passes its
//! own timeout.

use dbmon_connector_api::{CollectContext, Connector, Report};
use std::time::{Duration, Instant};

/// The context of a first collection with `timeout` left.
pub fn context(timeout: Duration) -> CollectContext {
    CollectContext {
        sequence: 1,
        deadline: Instant::now() + timeout,
    }
}

/// One collection with `timeout` left; the error as its message.
pub async fn try_collect<C: Connector>(connector: &C, timeout: Duration) -> Result<Report, String> {
    connector
        .collect(&context(timeout))
        .await
        .map_err(|e| e.to_string())
}

/// One collection with `timeout` left that must succeed.
pub async fn collect<C: Connector>(connector: &C, timeout: Duration) -> Report {
    try_collect(connector, timeout)
        .await
        .unwrap_or_else(|e| panic!("collection failed: {e}"))
}

/// The error of a collection with `timeout` left that must fail, and how long it took.
pub async fn collect_error<C: Connector>(connector: &C, timeout: Duration) -> (String, Duration) {
    let started = Instant::now();
    match try_collect(connector, timeout).await {
        Ok(report) => panic!("collection succeeded: {report:#?}"),
        Err(e) => (e, started.elapsed()),
    }
}

/// Collections (each with `timeout` left, each of which must succeed) every `every` until
/// `done` holds or `within` has passed since the first: the last report and when it was
/// taken. The caller judges a report for which `done` does not hold.
pub async fn collect_while<C: Connector>(
    connector: &C,
    timeout: Duration,
    every: Duration,
    within: Duration,
    done: impl Fn(&Report) -> bool,
) -> (Report, Duration) {
    let started = Instant::now();
    loop {
        let report = collect(connector, timeout).await;
        if done(&report) || started.elapsed() > within {
            return (report, started.elapsed());
        }
        tokio::time::sleep(every).await;
    }
}

/// Like [`collect_while`], returning the report for which `done` holds; panics with the last
/// report when none did within `within`.
pub async fn collect_until<C: Connector>(
    connector: &C,
    timeout: Duration,
    every: Duration,
    within: Duration,
    done: impl Fn(&Report) -> bool,
) -> Report {
    let (report, _) = collect_while(connector, timeout, every, within, &done).await;
    if !done(&report) {
        panic!("not reached within {within:?}; last report: {report:#?}");
    }
    report
}
