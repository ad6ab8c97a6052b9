//! The client subcommands: they talk to a running host over gRPC.

mod commands;
mod reload;
mod render;
mod top;

use crate::security::client::{self, BearerInterceptor, ClientSecurity};
use dbmon_proto as proto;
use proto::monitor_client::MonitorClient;
use std::{io, process::ExitCode};
use tonic::{service::interceptor::InterceptedService, transport::Channel};

/// The client's transport: a channel whose calls carry the bearer token.
pub(crate) type Transport = InterceptedService<Channel, BearerInterceptor>;

/// What to ask the server.
#[derive(Debug, clap::Subcommand)]
pub enum Query {
    /// Lists the loaded connectors.
    Connectors,
    /// Lists the clusters with their latest verdict.
    Clusters,
    /// Lists the collectors that push to the server, and their clusters.
    Collectors,
    /// Makes the server read its configuration again and apply what changed (exit 2 when
    /// the file has errors: they are printed, and the running configuration stays).
    Reload,
    /// Shows stored reports of a cluster, newest first.
    Reports {
        /// Cluster id.
        cluster: String,
        /// At most this many reports (0: all stored).
        #[arg(long, default_value_t = 10)]
        limit: u32,
        /// Also print each report's labels, metrics and nodes.
        #[arg(short, long)]
        verbose: bool,
    },
    /// Prints the current report of each cluster, then every new one as it comes.
    Watch {
        /// Clusters to watch (default: all).
        clusters: Vec<String>,
    },
    /// A live full-screen view of every cluster, worst first (q quits).
    Top,
    /// Runs a command of a cluster's connector.
    Run {
        /// Cluster id.
        cluster: String,
        /// Command name (see `dbmon connectors`).
        command: String,
        /// Its arguments.
        args: Vec<String>,
    },
}

/// Why a client command failed.
#[derive(Debug, thiserror::Error)]
enum Failure {
    /// The server is unreachable or refused the request; the message says which.
    #[error("{0}")]
    Server(String),
    /// Printing failed.
    #[error("cannot write the output: {0}")]
    Output(#[from] io::Error),
}

impl From<tonic::Status> for Failure {
    fn from(status: tonic::Status) -> Self {
        Failure::Server(client::describe_status(&status))
    }
}

/// Runs one query against `server` with `security`'s credentials, printing JSON lines when
/// `json`.
///
/// Output goes through `io::Write`, never `println!` (which panics when stdout is gone), and
/// a reader that closed the pipe early (`dbmon clusters | head -1`) ends the command quietly
/// with success, as it does for Unix tools. Restoring SIGPIPE's default action would also do
/// that, but the signal is process-wide: it would need setting in `main` before the runtime
/// starts, for the client commands only (`serve` and the worker write to sockets and pipes
/// whose peers may go away), and it would hide every other write error; here a full disk
/// behind `> file` is still reported.
pub async fn run(server: String, security: ClientSecurity, json: bool, query: Query) -> ExitCode {
    let mut out = io::stdout();
    if matches!(query, Query::Reload) {
        return match reload::run(&server, &security, json, &mut out).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("dbmon: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let result = match connect(&server, &security).await {
        Ok(client) if matches!(query, Query::Top) => top::run(client, &server).await,
        Ok(client) => commands::run(client, json, query, &mut out).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dbmon: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn connect(
    server: &str,
    security: &ClientSecurity,
) -> Result<MonitorClient<Transport>, Failure> {
    let (channel, token) = client::connect(server, security)
        .await
        .map_err(|e| Failure::Server(e.replace("bad server URL", "bad --server")))?;
    // A page of reports of a large cluster (3,000 series × 100 reports) is far above tonic's
    // 4 MiB default; the server bounds what it sends.
    Ok(MonitorClient::with_interceptor(channel, token)
        .max_decoding_message_size(MAX_RESPONSE_BYTES))
}

/// Largest answer the client accepts.
const MAX_RESPONSE_BYTES: usize = 1 << 30;
