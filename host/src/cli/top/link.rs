//! The connection to the server: a snapshot (listing, stored reports) and the Watch stream;
//! when the stream breaks, reconnects with capped backoff and resumes from the newest report
//! held of each cluster.

use super::{cluster::HISTORY, model::Model};
use crate::cli::Transport;
use dbmon_proto as proto;
use futures::{StreamExt, future::BoxFuture};
use proto::monitor_client::MonitorClient;
use std::{collections::BTreeMap, pin::Pin, time::Duration};
use tonic::{Code, Streaming};

/// The gRPC client `top` uses.
pub type Client = MonitorClient<Transport>;

/// Stored-report requests in flight at once while taking a snapshot.
const PARALLEL_READS: usize = 8;

/// The longest wait between two reconnect attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// What the server had when the stream (re)opened, and the stream.
pub struct Snapshot {
    /// Every configured cluster.
    pub clusters: Vec<proto::Cluster>,
    /// Stored reports (newest `HISTORY` per cluster, or those after its resume point).
    pub reports: Vec<proto::Report>,
    /// Watch of all clusters, opened before the reports were read, so nothing falls between.
    pub stream: Streaming<proto::Report>,
}

/// Opens a Watch of every cluster, then reads the listing and each cluster's stored reports
/// (after `since`, where a cluster has one).
pub async fn snapshot(
    mut client: Client,
    since: BTreeMap<String, prost_types::Timestamp>,
) -> Result<Snapshot, tonic::Status> {
    let watch = proto::WatchRequest {
        cluster_ids: vec![],
    };
    let stream = client.watch(watch).await?.into_inner();
    let clusters = client
        .list_clusters(proto::ListClustersRequest {})
        .await?
        .into_inner()
        .clusters;
    let requests: Vec<proto::GetReportsRequest> = clusters
        .iter()
        .map(|cluster| proto::GetReportsRequest {
            cluster_id: cluster.id.clone(),
            limit: HISTORY as u32,
            since: since.get(&cluster.id).copied(),
        })
        .collect();
    let reads = requests.into_iter().map(|request| {
        let mut client = client.clone();
        async move {
            match client.get_reports(request).await {
                Ok(response) => Ok(response.into_inner().reports),
                // Removed from the config since the listing.
                Err(status) if status.code() == Code::NotFound => Ok(vec![]),
                Err(status) => Err(status),
            }
        }
    });
    let mut pages = futures::stream::iter(reads).buffer_unordered(PARALLEL_READS);
    let mut reports = Vec::new();
    while let Some(page) = pages.next().await {
        reports.extend(page?);
    }
    Ok(Snapshot {
        clusters,
        reports,
        stream,
    })
}

/// What happened on the connection.
pub enum News {
    /// A report from the stream.
    Report(Box<proto::Report>),
    /// The stream ended or failed, with why.
    Broke(String),
    /// The backoff before the next attempt is over.
    Retry,
    /// An attempt succeeded.
    Reconnected(Box<Snapshot>),
    /// An attempt failed, with why.
    Failed(String),
}

enum Phase {
    Live(Box<Streaming<proto::Report>>),
    Waiting(Pin<Box<tokio::time::Sleep>>),
    Connecting(BoxFuture<'static, Result<Snapshot, tonic::Status>>),
}

/// The stream and, while it is down, the reconnecting.
pub struct Link {
    client: Client,
    phase: Phase,
    attempt: u32,
}

impl Link {
    /// A link live on `stream`.
    pub fn new(client: Client, stream: Streaming<proto::Report>) -> Link {
        Link {
            client,
            phase: Phase::Live(Box::new(stream)),
            attempt: 0,
        }
    }

    /// Waits for the next news. Cancel-safe: what it waits on stays in `self`.
    pub async fn next(&mut self) -> News {
        match &mut self.phase {
            Phase::Live(stream) => match stream.message().await {
                Ok(Some(report)) => News::Report(Box::new(report)),
                Ok(None) => News::Broke("the server ended the stream".into()),
                Err(status) => News::Broke(crate::security::client::describe_status(&status)),
            },
            Phase::Waiting(sleep) => {
                sleep.as_mut().await;
                News::Retry
            }
            Phase::Connecting(attempt) => match attempt.as_mut().await {
                Ok(snapshot) => News::Reconnected(Box::new(snapshot)),
                Err(status) => News::Failed(crate::security::client::describe_status(&status)),
            },
        }
    }

    /// Applies `news` to `model` and moves the link on.
    pub fn apply(&mut self, news: News, model: &mut Model) {
        match news {
            News::Report(report) => model.record(*report),
            News::Broke(why) | News::Failed(why) => {
                self.attempt += 1;
                model.disconnected(self.attempt, why);
                let sleep = tokio::time::sleep(backoff(self.attempt));
                self.phase = Phase::Waiting(Box::pin(sleep));
            }
            News::Retry => {
                let attempt = snapshot(self.client.clone(), model.resume_points());
                self.phase = Phase::Connecting(Box::pin(attempt));
            }
            News::Reconnected(snapshot) => {
                let Snapshot {
                    clusters,
                    reports,
                    stream,
                } = *snapshot;
                model.load(&clusters, reports);
                self.attempt = 0;
                self.phase = Phase::Live(Box::new(stream));
            }
        }
    }
}

/// The wait before attempt `attempt` (from 1): 0.5 s, 1 s, 2 s ... at most `MAX_BACKOFF`.
pub fn backoff(attempt: u32) -> Duration {
    let wait = Duration::from_millis(500).saturating_mul(1 << attempt.saturating_sub(1).min(16));
    wait.min(MAX_BACKOFF)
}
