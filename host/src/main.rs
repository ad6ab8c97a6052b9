//! `dbmon`: the monitoring host (`dbmon serve`) and its command-line client.

use dbmon::{author, cli, completions, health_check, isolation, logging, security, serve, version};

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
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
    /// Log filter (tracing EnvFilter syntax: info, debug, dbmon=debug,connector=trace). By
    /// default `serve` takes the file's `log_level:` (which a reload changes), else `info`.
    #[arg(long, global = true, env = "DBMON_LOG")]
    log_level: Option<String>,
    /// Write the log to this file instead of stderr.
    #[arg(long, global = true, env = "DBMON_LOG_FILE")]
    log_file: Option<PathBuf>,
    /// Log line format: text, or json (one object per line, for log shippers).
    #[arg(
        long,
        global = true,
        env = "DBMON_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    log_format: logging::LogFormat,
    /// CA certificate (PEM) that signs the server's certificate (https:// servers); by
    /// default, the system's roots.
    #[arg(long, global = true, env = "DBMON_CA")]
    ca: Option<PathBuf>,
    /// Client certificate (PEM), for servers that ask for one (with --key).
    #[arg(long, global = true, env = "DBMON_CERT")]
    cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, global = true, env = "DBMON_KEY")]
    key: Option<PathBuf>,
    /// Bearer token sent with every call (prefer --token-file: a flag shows in `ps`).
    #[arg(long, global = true, env = "DBMON_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// File holding the bearer token (a trailing newline is ignored).
    #[arg(
        long,
        global = true,
        env = "DBMON_TOKEN_FILE",
        conflicts_with = "token"
    )]
    token_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the host: loads plugins, collects every cluster, serves gRPC.
    Serve(serve::ServeArgs),
    /// Tools for connector authors: start a project, check a built library.
    Connector {
        /// What to do.
        #[command(subcommand)]
        command: author::ConnectorCommand,
    },
    /// Makes a CA and the server and client certificates it signs, for TLS.
    Certs {
        /// What to do.
        #[command(subcommand)]
        command: security::certs::CertsCommand,
    },
    /// Makes bearer tokens for `auth.tokens`.
    Token {
        /// What to do.
        #[command(subcommand)]
        command: security::certs::TokenCommand,
    },
    #[command(flatten)]
    Query(cli::Query),
    /// Asks the server's grpc.health.v1 service; exits 0 when it is SERVING, else 1.
    Health {
        /// The service to ask about (default: the server as a whole; `dbmon.store`: its store).
        #[arg(long, default_value = "")]
        service: String,
    },
    /// Prints the shell completion script (bash, zsh, fish, elvish or powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Prints the man page (roff) to stdout: `dbmon man > dbmon.1`.
    Man,
    /// Runs one cluster's connector for a host (`isolation: process`); started by the host.
    #[command(hide = true)]
    Worker(isolation::child::WorkerArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = parse();
    let log_level = cli.log_level.as_deref().unwrap_or("info");
    match cli.command {
        Command::Serve(args) => {
            let log_file = match logging::init(log_level, cli.log_format, cli.log_file.as_deref()) {
                Ok(log_file) => log_file,
                Err(e) => {
                    eprintln!("dbmon: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match serve::serve(args, cli.log_level.as_deref(), log_file.clone()).await {
                Ok(code) => code,
                Err(e) => {
                    // Once: on stderr, and in the log when the log is elsewhere.
                    if log_file.is_some() {
                        tracing::error!("{e:#}");
                    }
                    eprintln!("dbmon: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Connector { command } => {
            // The checked connector's log lines are forwarded to this log.
            if let Err(e) = logging::init(log_level, cli.log_format, cli.log_file.as_deref()) {
                eprintln!("dbmon: {e}");
                return ExitCode::FAILURE;
            }
            author::run(command, cli.json)
        }
        Command::Certs { command } => security::certs::run_certs(command),
        Command::Token { command } => security::certs::run_token(command),
        Command::Query(query) => {
            let client =
                match client_security(&cli.token, &cli.token_file, &cli.ca, &cli.cert, &cli.key) {
                    Ok(client) => client,
                    Err(code) => return code,
                };
            cli::run(cli.server, client, cli.json, query).await
        }
        Command::Health { ref service } => {
            let client =
                match client_security(&cli.token, &cli.token_file, &cli.ca, &cli.cert, &cli.key) {
                    Ok(client) => client,
                    Err(code) => return code,
                };
            health_check::run(&cli.server, &client, service, cli.json).await
        }
        Command::Completions { shell } => printed(completions::completions(
            command(),
            shell,
            &mut std::io::stdout(),
        )),
        Command::Man => printed(completions::man(command(), &mut std::io::stdout())),
        Command::Worker(args) => {
            logging::init_worker(log_level);
            // A hangup of the host's terminal is the host's to handle; a worker ends when its
            // host closes its stdin.
            // SAFETY: setting a signal's disposition to SIG_IGN before any other thread uses it.
            unsafe { libc::signal(libc::SIGHUP, libc::SIG_IGN) };
            match isolation::child::run(args).await {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("dbmon worker: error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// The CLI's definition, with `--version` naming the connector ABIs this host loads.
fn command() -> clap::Command {
    Cli::command().version(version::text())
}

/// The exit code of a command that only prints: a reader gone early (`| head`) is success.
fn printed(result: std::io::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dbmon: cannot write the output: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse() -> Cli {
    Cli::from_arg_matches(&command().get_matches()).unwrap_or_else(|e| e.exit())
}

/// The client's credentials from the global flags; on error, the exit code after saying why.
fn client_security(
    token: &Option<String>,
    token_file: &Option<PathBuf>,
    ca: &Option<PathBuf>,
    cert: &Option<PathBuf>,
    key: &Option<PathBuf>,
) -> Result<security::client::ClientSecurity, ExitCode> {
    let token = match (token, token_file) {
        (Some(text), _) => Some(security::client::Token::new(text)),
        (None, Some(file)) => match security::client::Token::from_file(file) {
            Ok(token) => Some(token),
            Err(e) => {
                eprintln!("dbmon: {e}");
                return Err(ExitCode::FAILURE);
            }
        },
        (None, None) => None,
    };
    Ok(security::client::ClientSecurity {
        ca: ca.clone(),
        cert: cert.clone(),
        key: key.clone(),
        token,
    })
}
