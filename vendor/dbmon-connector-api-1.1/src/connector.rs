//! The one trait a connector author implements.

use crate::{ClusterConfig, ConfigError, Report};
use serde::de::DeserializeOwned;
use std::{future::Future, time::Instant};

/// Errors a connector returns from `collect` and commands. Any `std::error::Error` converts
/// with `?`; the host shows the whole chain of causes.
pub type Error = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a connector says about itself.
#[derive(Clone, Debug)]
pub struct ConnectorInfo {
    /// The name clusters refer to (`connector: NAME`): lowercase, `[a-z0-9_-]`.
    pub name: &'static str,
    /// The connector's own version (usually `env!("CARGO_PKG_VERSION")`).
    pub version: &'static str,
    /// One line on what it monitors.
    pub description: &'static str,
    /// Commands clients can run (`dbmon run CLUSTER COMMAND`).
    pub commands: Vec<CommandInfo>,
}

/// A command a connector offers.
#[derive(Clone, Debug)]
pub struct CommandInfo {
    /// Its name.
    pub name: &'static str,
    /// One line on what it does.
    pub description: &'static str,
}

/// Facts about one collection.
#[derive(Clone, Debug)]
pub struct CollectContext {
    /// The host's sequence number of this collection (1 for the first).
    pub sequence: u64,
    /// Finish by then. It is a little before the host gives up on the collection (a tenth of
    /// the timeout, at most a second), so a report made by the deadline always arrives: use it
    /// for your own I/O timeouts, and a slow node costs a reason instead of the whole report.
    pub deadline: Instant,
}

impl CollectContext {
    /// Time left until the deadline (zero once past it).
    pub fn remaining(&self) -> std::time::Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// A connector: validates one cluster's configuration into an instance, then collects
/// reports from it on the host's schedule.
///
/// `collect` runs on the connector library's own tokio runtime context, so tokio I/O, timers
/// and `tokio::spawn` work inside it. Do not block the thread in it (no `std::thread::sleep`,
/// no blocking client): wrap blocking work in `tokio::task::spawn_blocking`.
pub trait Connector: Sized + Send + Sync + 'static {
    /// The connector's `options:` block. Use `#[serde(deny_unknown_fields)]` so that typos are
    /// reported, and `#[serde(default)]` for optional fields.
    type Options: DeserializeOwned + Send + Sync + 'static;

    /// Name, version, description, commands.
    fn info() -> ConnectorInfo;

    /// Validates a cluster's configuration and builds its instance. Return a
    /// [`ConfigError`] naming the bad field; the host shows it with the YAML file and line.
    fn new(config: ClusterConfig<Self::Options>) -> Result<Self, ConfigError>;

    /// Collects one report. Return `Err` only when nothing useful could be learned (the host
    /// then reports the cluster UNREACHABLE with your error); a partly failing cluster is a
    /// report with reasons.
    fn collect(&self, ctx: &CollectContext) -> impl Future<Output = Result<Report, Error>> + Send;

    /// Runs one of the commands named in [`ConnectorInfo::commands`].
    fn run_command(
        &self,
        command: &str,
        args: &[String],
        ctx: &CollectContext,
    ) -> impl Future<Output = Result<String, Error>> + Send {
        let _ = (args, ctx);
        let message = format!("unknown command '{command}'");
        async move { Err(message.into()) }
    }
}
