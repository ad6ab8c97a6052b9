//! The `for` rule of one cluster: a new verdict counts once it held for `for` reports in a
//! row. Pure: the engine feeds it each report's verdict and sends what it returns.

use dbmon_connector_api::Status;
use std::time::SystemTime;

/// Whether a verdict has an alert (degraded, unhealthy, unreachable).
pub fn alerting(status: Status) -> bool {
    matches!(
        status,
        Status::Degraded | Status::Unhealthy | Status::Unreachable
    )
}

/// What a settled verdict changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The alert of this verdict ends (the cluster recovered, or has another problem now).
    pub resolved: Option<Status>,
    /// An alert of this verdict starts, at the time of the first report that had it.
    pub fired: Option<(Status, SystemTime)>,
}

/// One cluster's verdicts as the `for` rule sees them.
#[derive(Debug, Clone)]
pub struct Tracker {
    for_reports: usize,
    /// The verdict that held for `for` reports, once one did.
    settled: Option<Status>,
    /// A verdict other than `settled`: how many reports in a row had it, since when.
    candidate: Option<(Status, usize, SystemTime)>,
}

impl Tracker {
    /// A cluster of which nothing is known yet; `for_reports` 0 is read as 1.
    pub fn new(for_reports: usize) -> Tracker {
        Tracker {
            for_reports: for_reports.max(1),
            settled: None,
            candidate: None,
        }
    }

    /// The verdict that holds now (held for `for` reports), if one does.
    pub fn settled(&self) -> Option<Status> {
        self.settled
    }

    /// A report with `status`, collected `at`. `unknown` (a connector that cannot tell) is
    /// passed over: it neither counts toward a change nor breaks a run of reports.
    pub fn observe(&mut self, status: Status, at: SystemTime) -> Option<Transition> {
        if !alerting(status) && status != Status::Healthy {
            return None;
        }
        if self.settled == Some(status) {
            self.candidate = None;
            return None;
        }
        let (count, since) = match self.candidate {
            Some((s, n, since)) if s == status => (n + 1, since),
            _ => (1, at),
        };
        if count < self.for_reports {
            self.candidate = Some((status, count, since));
            return None;
        }
        let before = self.settled.replace(status);
        self.candidate = None;
        let transition = Transition {
            resolved: before.filter(|s| alerting(*s)),
            fired: alerting(status).then_some((status, since)),
        };
        (transition.resolved.is_some() || transition.fired.is_some()).then_some(transition)
    }
}
