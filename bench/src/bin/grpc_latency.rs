//! Latency of sequential unary calls on one gRPC connection: `GetReports` (a response of a few
//! KB) beside the health check (a 2-byte answer, the no-op anchor), against the release host
//! with one `system` cluster. The client is tonic's, which does not set TCP_QUICKACK: a
//! server that leaves Nagle's algorithm on meets the client's delayed ACK on every response.
//!
//! `cargo build --release --workspace`, then
//! `cargo run --release -p dbmon-bench --bin grpc_latency -- --calls 1000`

use clap::Parser;
use dbmon_proto as proto;
use dbmon_test_support::{Host, built_library};
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// Sequential unary-call latency of the dbmon host.
#[derive(Debug, Parser)]
#[deny(missing_docs)]
struct Args {
    /// Calls of each kind, one at a time on one connection.
    #[arg(long, default_value_t = 1000)]
    calls: usize,
    /// Reports each GetReports asks for.
    #[arg(long, default_value_t = 1)]
    limit: u32,
}

fn main() -> Result<(), String> {
    let args = Args::parse();
    let config =
        "clusters:\n  - id: local\n    connector: system\n    interval: 1s\n    jitter: 0s\n";
    let host = Host::try_start_logging(config, &[built_library("dbmon_connector_system")], "info")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(run(&args, &host))
}

async fn run(args: &Args, host: &Host) -> Result<(), String> {
    let channel = Channel::from_shared(host.url.clone())
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    let mut monitor = proto::monitor_client::MonitorClient::new(channel.clone());
    let mut health = HealthClient::new(channel);
    let request = || proto::GetReportsRequest {
        cluster_id: "local".into(),
        limit: args.limit,
        since: None,
    };
    // The first report, so that every GetReports answers with one.
    let deadline = Instant::now() + Duration::from_secs(10);
    while monitor
        .get_reports(request())
        .await
        .map_err(|e| e.to_string())?
        .into_inner()
        .reports
        .is_empty()
    {
        if Instant::now() > deadline {
            return Err("no report within 10 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let size = prost::Message::encoded_len(
        &monitor
            .get_reports(request())
            .await
            .map_err(|e| e.to_string())?
            .into_inner(),
    );

    let mut reports = Vec::with_capacity(args.calls);
    let mut checks = Vec::with_capacity(args.calls);
    for _ in 0..args.calls {
        let started = Instant::now();
        monitor
            .get_reports(request())
            .await
            .map_err(|e| e.to_string())?;
        reports.push(started.elapsed());
        let started = Instant::now();
        health
            .check(HealthCheckRequest::default())
            .await
            .map_err(|e| e.to_string())?;
        checks.push(started.elapsed());
    }
    let (r50, r99) = percentiles(&mut reports);
    let (c50, c99) = percentiles(&mut checks);
    let total: Duration = reports.iter().sum();
    println!(
        "{} sequential calls each on one connection; GetReports answers {size} bytes",
        args.calls
    );
    println!(
        "GetReports  p50 {:>9.3} ms  p99 {:>9.3} ms  ({:.1} calls/s)",
        ms(r50),
        ms(r99),
        args.calls as f64 / total.as_secs_f64()
    );
    println!(
        "Health      p50 {:>9.3} ms  p99 {:>9.3} ms  (the no-op anchor)",
        ms(c50),
        ms(c99)
    );
    println!(
        "ratio GetReports / Health: p50 {:.2}x  p99 {:.2}x",
        ms(r50) / ms(c50),
        ms(r99) / ms(c99)
    );
    Ok(())
}

fn percentiles(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (at(0.50), at(0.99))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
