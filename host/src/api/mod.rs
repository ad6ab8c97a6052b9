//! The gRPC service `dbmon.v1.Monitor`, over the store and the loaded connectors.

mod convert;

use crate::{plugins::Registry, runner::Runner, store::Store};
use dbmon_proto as proto;
use std::{collections::HashMap, pin::Pin, sync::Arc, time::SystemTime};
use tokio::sync::{broadcast::error::RecvError, mpsc, watch};
use tokio_stream::{Stream, wrappers::ReceiverStream};
use tonic::{Request, Response, Status};

/// Reports converted ahead of a slow watcher before it is made to wait.
const WATCH_QUEUE: usize = 256;

/// The service state.
pub struct Monitor {
    /// Reports.
    pub store: Arc<Store>,
    /// Loaded connectors.
    pub registry: Arc<Registry>,
    /// Each cluster's connector, for commands.
    pub runners: HashMap<String, Arc<Runner>>,
    /// Turns true when the host stops; open streams end then.
    pub shutdown: watch::Receiver<bool>,
}

impl Monitor {
    fn unknown_cluster(&self, id: &str) -> Status {
        Status::not_found(format!(
            "unknown cluster '{id}'; clusters: {}",
            self.store.ids()
        ))
    }
}

type ReportStream = Pin<Box<dyn Stream<Item = Result<proto::Report, Status>> + Send>>;

#[tonic::async_trait]
impl proto::monitor_server::Monitor for Monitor {
    async fn list_connectors(
        &self,
        _: Request<proto::ListConnectorsRequest>,
    ) -> Result<Response<proto::ListConnectorsResponse>, Status> {
        let connectors = self
            .registry
            .iter()
            .map(|p| convert::connector(p))
            .collect();
        Ok(Response::new(proto::ListConnectorsResponse { connectors }))
    }

    async fn list_clusters(
        &self,
        _: Request<proto::ListClustersRequest>,
    ) -> Result<Response<proto::ListClustersResponse>, Status> {
        let clusters = self
            .store
            .clusters()
            .map(|s| convert::cluster(s, self.runners.get(&*s.info.id).map(|r| &**r)))
            .collect();
        Ok(Response::new(proto::ListClustersResponse { clusters }))
    }

    async fn get_reports(
        &self,
        request: Request<proto::GetReportsRequest>,
    ) -> Result<Response<proto::GetReportsResponse>, Status> {
        let req = request.into_inner();
        let slot = self
            .store
            .cluster(&req.cluster_id)
            .ok_or_else(|| self.unknown_cluster(&req.cluster_id))?;
        let since = match req.since {
            Some(t) => Some(
                SystemTime::try_from(t)
                    .map_err(|e| Status::invalid_argument(format!("since: {e}")))?,
            ),
            None => None,
        };
        let reports = slot
            .reports(req.limit as usize, since)
            .iter()
            .map(|r| convert::report(r))
            .collect();
        Ok(Response::new(proto::GetReportsResponse { reports }))
    }

    type WatchStream = ReportStream;

    async fn watch(
        &self,
        request: Request<proto::WatchRequest>,
    ) -> Result<Response<ReportStream>, Status> {
        let ids = request.into_inner().cluster_ids;
        if let Some(unknown) = ids.iter().find(|id| self.store.cluster(id).is_none()) {
            return Err(self.unknown_cluster(unknown));
        }
        let wanted = move |id: &str| ids.is_empty() || ids.iter().any(|w| w == id);
        // Subscribe before taking the snapshot, so that no report falls between the two.
        let mut feed = self.store.subscribe();
        let mut seen: HashMap<Arc<str>, u64> = HashMap::new();
        let snapshot: Vec<_> = self
            .store
            .clusters()
            .filter(|s| wanted(&s.info.id))
            .filter_map(|s| s.latest())
            .collect();
        let (tx, rx) = mpsc::channel(WATCH_QUEUE);
        let mut shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            for report in snapshot {
                seen.insert(Arc::clone(&report.cluster), report.sequence);
                if tx.send(Ok(convert::report(&report))).await.is_err() {
                    return;
                }
            }
            loop {
                let report = tokio::select! {
                    r = feed.recv() => r,
                    _ = shutdown.changed() => return,
                    _ = tx.closed() => return,
                };
                let report = match report {
                    Ok(r) => r,
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!("a watcher fell behind and missed {n} reports");
                        continue;
                    }
                    Err(RecvError::Closed) => return,
                };
                let already = seen
                    .get(&report.cluster)
                    .is_some_and(|s| *s >= report.sequence);
                if !wanted(&report.cluster) || already {
                    continue;
                }
                if tx.send(Ok(convert::report(&report))).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn run_command(
        &self,
        request: Request<proto::RunCommandRequest>,
    ) -> Result<Response<proto::RunCommandResponse>, Status> {
        let req = request.into_inner();
        let slot = self
            .store
            .cluster(&req.cluster_id)
            .ok_or_else(|| self.unknown_cluster(&req.cluster_id))?;
        let runner = self
            .runners
            .get(&req.cluster_id)
            .ok_or_else(|| self.unknown_cluster(&req.cluster_id))?;
        let offered = self
            .registry
            .get(&slot.info.connector)
            .map(|p| p.commands.iter().any(|(name, _)| *name == req.command))
            .unwrap_or(false);
        if !offered {
            let names: Vec<String> = self
                .registry
                .get(&slot.info.connector)
                .map(|p| p.commands.iter().map(|(n, _)| n.clone()).collect())
                .unwrap_or_default();
            return Err(Status::not_found(format!(
                "connector '{}' has no command '{}'; commands: {}",
                slot.info.connector,
                req.command,
                if names.is_empty() {
                    "none".into()
                } else {
                    names.join(", ")
                }
            )));
        }
        let timeout = slot.info.timeout;
        match runner.run_command(&req.command, req.args, timeout).await {
            Ok(output) => Ok(Response::new(proto::RunCommandResponse { output })),
            Err(e) => Err(Status::failed_precondition(format!(
                "{} on {}: {e}",
                req.command, req.cluster_id
            ))),
        }
    }
}
