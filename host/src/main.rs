//! `dbmon`: the monitoring host (`dbmon serve`) and its command-line client.

use dbmon::{cli, logging, serve};

use clap::{Parser, Subcommand};
use std::{path::PathBuf, process::ExitCode};

/// Cluster monitoring host: collects reports through connector plugins and serves them over gRPC.
#[derive(Debug, Parser)]
#[command(name = "dbmon", version, about)]
#[deny(missing_docs)]
struct Cli {
    /// The dbmon server the client commands talk to.
    #[arg(
        long,
        global = true,
        env = "DBMON_SERVER",
        default_value = "http://127.0.0.1:4000"
    )]
    server: String,
    /// Print one JSON object per line instead of a table.
    #[arg(long, global = true)]
    json: bool,
    /// Log filter (tracing EnvFilter syntax: info, debug, dbmon=debug,connector=trace).
    #[arg(long, global = true, env = "DBMON_LOG", default_value = "info")]
    log_level: String,
    /// Write the log to this file instead of stderr.
    #[arg(long, global = true, env = "DBMON_LOG_FILE")]
    log_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the host: loads plugins, collects every cluster, serves gRPC.
    Serve(serve::ServeArgs),
    #[command(flatten)]
    Query(cli::Query),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            if let Err(e) = logging::init(&cli.log_level, cli.log_file.as_deref()) {
                eprintln!("dbmon: {e}");
                return ExitCode::FAILURE;
            }
            match serve::serve(args).await {
                Ok(code) => code,
                Err(e) => {
                    tracing::error!("{e:#}");
                    eprintln!("dbmon: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Query(query) => cli::run(cli.server, cli.json, query).await,
    }
}
