//! `dbmon health`: one `grpc.health.v1.Health/Check` call, for container health checks and
//! load balancers' probes; exit status 0 when the server says SERVING, 1 otherwise.

use crate::security::client::{self, ClientSecurity};
use std::{process::ExitCode, time::Duration};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

/// How long the probe waits for the server, connecting and answering together.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Asks `server` about `service` (`""`: the server as a whole) and prints the answer
/// (`SERVING`, or `{"service":...,"status":...}` with `json`); SERVING is success.
pub async fn run(server: &str, security: &ClientSecurity, service: &str, json: bool) -> ExitCode {
    match tokio::time::timeout(TIMEOUT, check(server, security, service)).await {
        Ok(Ok(status)) => {
            let name = status.as_str_name();
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "service": service, "status": name })
                );
            } else {
                println!("{name}");
            }
            if status == ServingStatus::Serving {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Ok(Err(e)) => {
            eprintln!("dbmon: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("dbmon: no health answer from {server} within {TIMEOUT:?}");
            ExitCode::FAILURE
        }
    }
}

async fn check(
    server: &str,
    security: &ClientSecurity,
    service: &str,
) -> Result<ServingStatus, String> {
    let (channel, token) = client::connect(server, security)
        .await
        .map_err(|e| e.replace("bad server URL", "bad --server"))?;
    let answer = HealthClient::with_interceptor(channel, token)
        .check(HealthCheckRequest {
            service: service.to_string(),
        })
        .await
        .map_err(|status| client::describe_status(&status))?;
    Ok(answer.into_inner().status())
}
