//! Running a connector command where the cluster's connector runs: the one check of the
//! command's name against what the connector offers, and the one mapping of a command's
//! failure to a gRPC status, shared by the client API and a collector answering its server.

use crate::{
    names::quote,
    plugins::{CollectError, Registry},
    runner::Runner,
};
use std::time::Duration;
use tonic::Status;

/// Runs `command` through `runner`, the connector `connector` of `cluster`, abandoned after
/// `timeout`: NOT_FOUND when the connector offers no such command; a failure as its status.
pub async fn run(
    registry: &Registry,
    runner: &Runner,
    connector: &str,
    cluster: &str,
    command: &str,
    args: Vec<String>,
    timeout: Duration,
) -> Result<String, Status> {
    if let Some(problem) = dbmon_connector_api::names::command_name_problem(command) {
        return Err(Status::invalid_argument(problem));
    }
    let names: Vec<&str> = registry
        .get(connector)
        .map(|p| p.commands.iter().map(|(n, _)| n.as_str()).collect())
        .unwrap_or_default();
    if !names.contains(&command) {
        return Err(Status::not_found(format!(
            "connector '{connector}' has no command {}; commands: {}",
            quote(command),
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            }
        )));
    }
    runner
        .run_command(command, args, timeout)
        .await
        .map_err(|e| status(command, cluster, e))
}

/// The status of a command that failed, saying which command on which cluster.
fn status(command: &str, cluster: &str, e: CollectError) -> Status {
    let message = format!("{command} on {cluster}: {e}");
    match e {
        CollectError::Failed(_) => Status::failed_precondition(message),
        CollectError::Panicked(_) => Status::internal(message),
        CollectError::TimedOut(_) => Status::deadline_exceeded(message),
        CollectError::Unsupported(_) => Status::unimplemented(message),
        CollectError::BadInput(_) => Status::invalid_argument(message),
    }
}
