//! The client subcommands: they talk to a running host over gRPC.

mod render;

use dbmon_proto as proto;
use proto::monitor_client::MonitorClient;
use std::process::ExitCode;
use tonic::transport::Channel;

/// What to ask the server.
#[derive(Debug, clap::Subcommand)]
pub enum Query {
    /// Lists the loaded connectors.
    Connectors,
    /// Lists the clusters with their latest verdict.
    Clusters,
    /// Shows stored reports of a cluster, newest first.
    Reports {
        /// Cluster id.
        cluster: String,
        /// At most this many reports (0: all stored).
        #[arg(long, default_value_t = 10)]
        limit: u32,
        /// Also print each report's metrics and nodes.
        #[arg(short, long)]
        verbose: bool,
    },
    /// Prints the current report of each cluster, then every new one as it comes.
    Watch {
        /// Clusters to watch (default: all).
        clusters: Vec<String>,
    },
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

/// Runs one query against `server`, printing JSON lines when `json`.
pub async fn run(server: String, json: bool, query: Query) -> ExitCode {
    match run_inner(&server, json, query).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dbmon: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_inner(server: &str, json: bool, query: Query) -> Result<(), String> {
    let channel = Channel::from_shared(server.to_string())
        .map_err(|e| format!("bad --server '{server}': {e}"))?
        .connect()
        .await
        .map_err(|e| format!("cannot reach the dbmon server at {server}: {e}"))?;
    let mut client = MonitorClient::new(channel);
    let failed = |e: tonic::Status| e.message().to_string();
    match query {
        Query::Connectors => {
            let list = client
                .list_connectors(proto::ListConnectorsRequest {})
                .await
                .map_err(failed)?
                .into_inner()
                .connectors;
            if json {
                list.iter()
                    .for_each(|c| println!("{}", render::connector_json(c)));
            } else {
                let mut rows = vec![
                    ["NAME", "VERSION", "API", "SHA256", "COMMANDS", "PATH"]
                        .map(String::from)
                        .to_vec(),
                ];
                rows.extend(list.iter().map(|c| {
                    let commands: Vec<&str> = c.commands.iter().map(|k| k.name.as_str()).collect();
                    vec![
                        c.name.clone(),
                        c.version.clone(),
                        c.api_version.clone(),
                        // Enough of the digest to compare with `sha256sum`; --json has it all.
                        c.sha256.chars().take(12).collect(),
                        commands.join(","),
                        c.path.clone(),
                    ]
                }));
                print!("{}", render::table(&rows));
            }
        }
        Query::Clusters => {
            let list = client
                .list_clusters(proto::ListClustersRequest {})
                .await
                .map_err(failed)?
                .into_inner()
                .clusters;
            if json {
                list.iter()
                    .for_each(|c| println!("{}", render::cluster_json(c)));
            } else {
                let mut rows = vec![
                    [
                        "ID",
                        "CONNECTOR",
                        "STATUS",
                        "LAST_REPORT",
                        "REPORTS",
                        "FAILS",
                        "REASONS",
                    ]
                    .map(String::from)
                    .to_vec(),
                ];
                rows.extend(list.iter().map(|c| {
                    vec![
                        c.id.clone(),
                        c.connector.clone(),
                        format!(
                            "{}{}",
                            render::status(c.status),
                            if c.stale { " (stale)" } else { "" }
                        ),
                        render::time(c.last_report_at.as_ref()).unwrap_or_else(|| "-".into()),
                        c.reports_stored.to_string(),
                        c.consecutive_failures.to_string(),
                        c.reasons.join("; "),
                    ]
                }));
                print!("{}", render::table(&rows));
            }
        }
        Query::Reports {
            cluster,
            limit,
            verbose,
        } => {
            let request = proto::GetReportsRequest {
                cluster_id: cluster,
                limit,
                since: None,
            };
            let reports = client
                .get_reports(request)
                .await
                .map_err(failed)?
                .into_inner()
                .reports;
            print_reports(&reports, json, verbose, true);
        }
        Query::Watch { clusters } => {
            let mut stream = client
                .watch(proto::WatchRequest {
                    cluster_ids: clusters,
                })
                .await
                .map_err(failed)?
                .into_inner();
            if !json {
                print!("{}", render::table(&[render::REPORT_HEADER.to_vec()]));
            }
            while let Some(report) = stream.message().await.map_err(failed)? {
                print_reports(std::slice::from_ref(&report), json, false, false);
            }
        }
        Query::Run {
            cluster,
            command,
            args,
        } => {
            let request = proto::RunCommandRequest {
                cluster_id: cluster,
                command,
                args,
            };
            let output = client
                .run_command(request)
                .await
                .map_err(failed)?
                .into_inner()
                .output;
            if json {
                println!("{}", serde_json::json!({ "output": output }));
            } else {
                println!("{}", output.trim_end());
            }
        }
    }
    Ok(())
}

fn print_reports(reports: &[proto::Report], json: bool, verbose: bool, header: bool) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if json {
        for r in reports {
            let _ = writeln!(out, "{}", render::report_json(r));
        }
    } else {
        let mut rows: Vec<Vec<String>> = Vec::new();
        if header {
            rows.push(render::REPORT_HEADER.map(String::from).to_vec());
        }
        rows.extend(reports.iter().map(render::report_row));
        if verbose {
            // Each report with its header, then its metrics and nodes indented below.
            let head = render::REPORT_HEADER.map(String::from).to_vec();
            for (i, r) in reports.iter().enumerate() {
                let row = rows[i + header as usize].clone();
                let _ = write!(out, "{}", render::table(&[head.clone(), row]));
                let _ = write!(out, "{}", render::report_details(r));
            }
        } else {
            let _ = write!(out, "{}", render::table(&rows));
        }
    }
    let _ = out.flush();
}
