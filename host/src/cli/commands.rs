//! One function per client command: ask the server, print the answer to `out`.

use super::{Failure, Query, render};
use dbmon_proto as proto;
use proto::monitor_client::MonitorClient;
use std::io::Write;

type Client = MonitorClient<super::Transport>;

/// Runs `query`, printing to `out` (JSON lines when `json`).
pub async fn run(
    mut client: Client,
    json: bool,
    query: Query,
    out: &mut impl Write,
) -> Result<(), Failure> {
    match query {
        Query::Connectors => connectors(&mut client, json, out).await?,
        Query::Clusters => clusters(&mut client, json, out).await?,
        Query::Collectors => collectors(&mut client, json, out).await?,
        Query::Reload => unreachable!("`cli::run` runs `reload` itself, on the Admin service"),
        Query::Reports {
            cluster,
            limit,
            verbose,
        } => reports(&mut client, cluster, limit, json, verbose, out).await?,
        Query::Watch { clusters } => watch(&mut client, clusters, json, out).await?,
        Query::Top => unreachable!("`cli::run` runs `top` itself: it needs the server's URL"),
        Query::Run {
            cluster,
            command,
            args,
        } => run_command(&mut client, cluster, command, args, json, out).await?,
    }
    out.flush()?;
    Ok(())
}

async fn connectors(client: &mut Client, json: bool, out: &mut impl Write) -> Result<(), Failure> {
    let list = client
        .list_connectors(proto::ListConnectorsRequest {})
        .await?
        .into_inner()
        .connectors;
    if json {
        for c in &list {
            writeln!(out, "{}", render::connector_json(c))?;
        }
        return Ok(());
    }
    let mut rows = vec![
        [
            "NAME", "VERSION", "API", "ABI", "SHA256", "COMMANDS", "PATH",
        ]
        .map(String::from)
        .to_vec(),
    ];
    rows.extend(list.iter().map(|c| {
        let commands: Vec<&str> = c.commands.iter().map(|k| k.name.as_str()).collect();
        vec![
            c.name.clone(),
            c.version.clone(),
            c.api_version.clone(),
            c.abi_version.clone(),
            // Enough of the digest to compare with `sha256sum`; --json has it all.
            c.sha256.chars().take(12).collect(),
            commands.join(","),
            c.path.clone(),
        ]
    }));
    write!(out, "{}", render::table(&rows))?;
    Ok(())
}

async fn clusters(client: &mut Client, json: bool, out: &mut impl Write) -> Result<(), Failure> {
    let list = client
        .list_clusters(proto::ListClustersRequest {})
        .await?
        .into_inner()
        .clusters;
    if json {
        for c in &list {
            writeln!(out, "{}", render::cluster_json(c))?;
        }
        return Ok(());
    }
    // The collector column only where some cluster is collected elsewhere.
    let remote = list.iter().any(|c| !c.collector.is_empty());
    let mut header = vec!["ID", "CONNECTOR"];
    if remote {
        header.push("COLLECTOR");
    }
    header.extend(["STATUS", "LAST_REPORT", "REPORTS", "FAILS", "REASONS"]);
    let mut rows = vec![header.into_iter().map(String::from).collect::<Vec<_>>()];
    rows.extend(list.iter().map(|c| {
        let mut row = vec![c.id.clone(), c.connector.clone()];
        if remote {
            row.push(if c.collector.is_empty() {
                "-".into()
            } else {
                c.collector.clone()
            });
        }
        let mut reasons = c.reasons.clone();
        if !c.stale_reason.is_empty() {
            reasons.insert(0, c.stale_reason.clone());
        }
        if !c.store_note.is_empty() {
            reasons.insert(0, c.store_note.clone());
        }
        row.extend([
            format!(
                "{}{}",
                render::status(c.status),
                if c.stale { " (stale)" } else { "" }
            ),
            render::time(c.last_report_at.as_ref()).unwrap_or_else(|| "-".into()),
            c.reports_stored.to_string(),
            c.consecutive_failures.to_string(),
            reasons.join("; "),
        ]);
        row
    }));
    write!(out, "{}", render::table(&rows))?;
    Ok(())
}

async fn collectors(client: &mut Client, json: bool, out: &mut impl Write) -> Result<(), Failure> {
    let list = client
        .list_collectors(proto::ListCollectorsRequest {})
        .await?
        .into_inner()
        .collectors;
    if json {
        for c in &list {
            writeln!(out, "{}", render::collector_json(c))?;
        }
        return Ok(());
    }
    // The share columns only where some collector shares its clusters through etcd.
    let shared = list.iter().any(|c| c.coordinated);
    let mut header = vec![
        "ID",
        "STATE",
        "ADDRESS",
        "SINCE",
        "LAST_PUSH",
        "CLUSTERS",
        "BUFFERED",
        "STORED",
    ];
    if shared {
        header.extend(["WEIGHT", "MOVES_1H", "NOTE"]);
    }
    let mut rows = vec![header.into_iter().map(String::from).collect::<Vec<_>>()];
    rows.extend(list.iter().map(|c| {
        let (state, since) = if c.connected {
            ("connected", c.connected_since.as_ref())
        } else {
            ("away", c.disconnected_at.as_ref())
        };
        let clusters = if shared {
            c.clusters.len().to_string()
        } else {
            c.clusters.join(",")
        };
        let mut row = vec![
            c.id.clone(),
            state.to_string(),
            if c.address.is_empty() {
                "-".into()
            } else {
                c.address.clone()
            },
            render::time(since).unwrap_or_else(|| "-".into()),
            render::time(c.last_push.as_ref()).unwrap_or_else(|| "-".into()),
            clusters,
            c.buffered_reports.to_string(),
            c.reports_stored.to_string(),
        ];
        if shared {
            row.extend([
                c.weight.to_string(),
                c.moves_last_hour.to_string(),
                c.why_nothing.clone(),
            ]);
        }
        row
    }));
    write!(out, "{}", render::table(&rows))?;
    Ok(())
}

async fn reports(
    client: &mut Client,
    cluster: String,
    limit: u32,
    json: bool,
    verbose: bool,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let request = proto::GetReportsRequest {
        cluster_id: cluster,
        limit,
        since: None,
    };
    let reports = client.get_reports(request).await?.into_inner().reports;
    print_reports(&reports, json, verbose, true, out)?;
    Ok(())
}

async fn watch(
    client: &mut Client,
    clusters: Vec<String>,
    json: bool,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let request = proto::WatchRequest {
        cluster_ids: clusters,
    };
    let mut stream = client.watch(request).await?.into_inner();
    if !json {
        write!(out, "{}", render::table(&[render::REPORT_HEADER.to_vec()]))?;
        out.flush()?;
    }
    while let Some(report) = stream.message().await? {
        print_reports(std::slice::from_ref(&report), json, false, false, out)?;
        // Each report as it comes, even when stdout is a pipe.
        out.flush()?;
    }
    Ok(())
}

async fn run_command(
    client: &mut Client,
    cluster: String,
    command: String,
    args: Vec<String>,
    json: bool,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let request = proto::RunCommandRequest {
        cluster_id: cluster,
        command,
        args,
    };
    let output = client.run_command(request).await?.into_inner().output;
    if json {
        writeln!(out, "{}", serde_json::json!({ "output": output }))?;
    } else {
        writeln!(out, "{}", output.trim_end())?;
    }
    Ok(())
}

fn print_reports(
    reports: &[proto::Report],
    json: bool,
    verbose: bool,
    header: bool,
    out: &mut impl Write,
) -> std::io::Result<()> {
    if json {
        for r in reports {
            writeln!(out, "{}", render::report_json(r))?;
        }
        return Ok(());
    }
    let head = render::REPORT_HEADER.map(String::from).to_vec();
    if !verbose {
        let mut rows: Vec<Vec<String>> = Vec::new();
        if header {
            rows.push(head);
        }
        rows.extend(reports.iter().map(render::report_row));
        return write!(out, "{}", render::table(&rows));
    }
    // Each report with its header, then its labels, metrics and nodes indented below.
    for r in reports {
        write!(
            out,
            "{}",
            render::table(&[head.clone(), render::report_row(r)])
        )?;
        write!(out, "{}", render::report_details(r))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        api::{Monitor, MonitorService},
        store::{
            ClusterInfo, Collected, Collection, MetricKind, Outcome, SchemaParts, SeriesDef, Span,
            Store,
        },
    };
    use std::{
        sync::Arc,
        time::{Duration, SystemTime},
    };

    /// A server whose one cluster has a report with a counter (with help), a histogram
    /// series and a series of unknown kind: what connectors will send once the ABI carries
    /// kinds, put straight into the host's model.
    async fn server() -> (String, tokio::task::JoinHandle<()>) {
        let info = ClusterInfo {
            id: "a".into(),
            connector: "c".into(),
            endpoints: vec![],
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
        };
        let store = Arc::new(Store::new([info], 3));
        let parts = SchemaParts {
            text: "hits_totalHits.lat_bucketleinfup".into(),
            series: vec![
                SeriesDef {
                    name: Span::new(0, 10),
                    help: Span::new(10, 5),
                    kind: MetricKind::Counter,
                    ..SeriesDef::default()
                },
                SeriesDef {
                    name: Span::new(15, 10),
                    labels: Span::new(0, 1),
                    kind: MetricKind::Histogram,
                    ..SeriesDef::default()
                },
                SeriesDef {
                    name: Span::new(30, 2),
                    ..SeriesDef::default()
                },
            ],
            labels: vec![crate::store::LabelDef {
                key: Span::new(25, 2),
                value: Span::new(27, 3),
            }],
            ..SchemaParts::default()
        };
        let collected = Collected::new(
            dbmon_connector_api::Status::Healthy,
            vec![],
            parts,
            [7.0, 3.0, 1.0].into(),
            [].into(),
        )
        .unwrap();
        store.cluster("a").unwrap().record_now(Collection {
            sequence: 1,
            started_at: SystemTime::now(),
            duration: Duration::from_millis(1),
            outcome: Outcome::Collected(collected),
            origin: None,
        });
        let monitor = Monitor::for_tests(store);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let serve = tonic::transport::Server::builder()
            .add_service(MonitorService::new(monitor, 4 << 20))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
        let task = tokio::spawn(async move {
            let _ = serve.await;
        });
        (address, task)
    }

    async fn reports(address: &str, json: bool, verbose: bool) -> String {
        let client = crate::cli::connect(address, &Default::default())
            .await
            .unwrap();
        let query = Query::Reports {
            cluster: "a".into(),
            limit: 1,
            verbose,
        };
        let mut out = Vec::new();
        run(client, json, query, &mut out).await.unwrap();
        String::from_utf8(out).unwrap()
    }

    #[tokio::test]
    async fn a_kind_set_in_the_host_model_reaches_reports_json_and_verbose() {
        let (address, server) = server().await;
        let json: serde_json::Value =
            serde_json::from_str(reports(&address, true, false).await.trim()).unwrap();
        assert_eq!(
            json["kinds"],
            serde_json::json!({"hits_total": "counter", "lat_bucket": "histogram"})
        );
        assert_eq!(json["help"], serde_json::json!({"hits_total": "Hits."}));
        assert_eq!(json["metrics"]["hits_total"], 7.0);
        assert_eq!(json["metrics"][r#"lat_bucket{le="inf"}"#], 3.0);
        let text = reports(&address, false, true).await;
        let line = |name: &str| {
            let found = text.lines().find(|l| l.trim_start().starts_with(name));
            found
                .unwrap_or_else(|| panic!("no {name} in {text}"))
                .to_string()
        };
        assert!(line("hits_total").contains("counter"), "{text}");
        assert!(line("lat_bucket").contains("histogram"), "{text}");
        assert!(line("up ").trim_end().ends_with('-'), "{text}");
        server.abort();
    }
}
