//! A cluster's verdict as `dbmon top` ranks and names it.

use dbmon_proto as proto;

/// A cluster's health verdict, in the order `top` lists them: the worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// The last collection failed: the cluster did not answer.
    Unreachable,
    /// The cluster answered and is not serving as it should.
    Unhealthy,
    /// Serving, with something to look at.
    Degraded,
    /// No verdict yet (or one this client does not know).
    Unknown,
    /// All well.
    Healthy,
}

impl Verdict {
    /// The verdict of a proto `Status` code.
    pub fn from_code(code: i32) -> Verdict {
        match proto::Status::try_from(code).unwrap_or(proto::Status::Unknown) {
            proto::Status::Healthy => Verdict::Healthy,
            proto::Status::Degraded => Verdict::Degraded,
            proto::Status::Unhealthy => Verdict::Unhealthy,
            proto::Status::Unreachable => Verdict::Unreachable,
            proto::Status::Unknown | proto::Status::Unspecified => Verdict::Unknown,
        }
    }

    /// Lowercase name, as the other client commands print it.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Unreachable => "unreachable",
            Verdict::Unhealthy => "unhealthy",
            Verdict::Degraded => "degraded",
            Verdict::Unknown => "unknown",
            Verdict::Healthy => "healthy",
        }
    }
}
