//! The gRPC service `dbmon.v1.Monitor`, over the store and the loaded connectors.

pub mod command;
pub(crate) mod convert;
mod encodings;
pub mod health;
mod oversize;
pub mod reflection;
mod service;
mod watch;

use crate::{
    ingest::Collectors,
    names::{cluster_id_problem, quote},
    store::Store,
};
use dbmon_proto as proto;
pub use oversize::OversizeLayer;
pub use service::MonitorService;
use std::{pin::Pin, sync::Arc, time::SystemTime};
use tokio_stream::Stream;
use tonic::{Request, Response, Status};
pub use watch::{Watchers, stopping, sweep};

/// Cluster ids listed in a NOT_FOUND message before "and N more".
const LISTED_IDS: usize = 20;

/// The service state.
pub struct Monitor {
    /// Reports.
    pub store: Arc<Store>,
    /// The loaded connectors and each local cluster's runner (for commands).
    pub live: Arc<crate::live::Live>,
    /// Turns true when the host stops; open streams end then.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Open Watch streams.
    pub watchers: Arc<Watchers>,
    /// Limits on what clients may ask.
    pub limits: crate::config::Api,
    /// The collectors that push to this host, and the clusters they collect.
    pub collectors: Arc<Collectors>,
}

#[cfg(test)]
impl Monitor {
    /// A monitor of `store` with no connectors and small limits, for unit tests.
    pub(crate) fn for_tests(store: Arc<Store>) -> Monitor {
        use std::time::Duration;
        Monitor {
            store,
            live: Arc::default(),
            shutdown: tokio::sync::watch::channel(false).1,
            watchers: Arc::new(Watchers::default()),
            collectors: Arc::new(Collectors::new([])),
            limits: crate::config::Api {
                max_message_bytes: 4 << 20,
                max_streams_per_connection: 100,
                max_watchers: 10,
                watch_max_lag_bytes: 64 << 20,
                watch_stall_timeout: Duration::from_secs(30),
                shutdown_grace: Duration::from_secs(1),
            },
        }
    }
}

impl Monitor {
    /// A Watch stream of the clusters `request` names (all when none).
    fn open_watch(&self, request: Request<proto::WatchRequest>) -> Result<EncodedStream, Status> {
        let peer = request.remote_addr();
        let ids = request.into_inner().cluster_ids;
        for id in &ids {
            self.slot(id)?;
        }
        let seat = self.watchers.take(self.limits.max_watchers, peer)?;
        let watcher = watch::Watcher::new(
            Arc::clone(&self.store),
            ids,
            self.shutdown.clone(),
            self.limits.watch_max_lag_bytes,
            seat,
        );
        Ok(Box::pin(futures::stream::unfold(
            watcher,
            |mut w| async move { w.next().await.map(|item| (item, w)) },
        )))
    }

    /// The stored reports a GetReports request asks for, newest first.
    fn stored_reports(
        &self,
        req: proto::GetReportsRequest,
    ) -> Result<Vec<Arc<crate::store::Report>>, Status> {
        let slot = self.slot(&req.cluster_id)?;
        let since = match req.since {
            Some(t) => Some(
                SystemTime::try_from(t)
                    .map_err(|e| Status::invalid_argument(format!("since: {e}")))?,
            ),
            None => None,
        };
        Ok(slot.reports(req.limit as usize, since))
    }

    /// GetReports' answer: each report's shared encoding, as the response's field 1.
    fn encoded_reports(
        &self,
        req: proto::GetReportsRequest,
    ) -> Result<dbmon_proto::codec::Repeated, Status> {
        let items = self
            .stored_reports(req)?
            .iter()
            .map(|r| encodings::encoded(r))
            .collect();
        Ok(dbmon_proto::codec::Repeated { field: 1, items })
    }

    /// The slot of a cluster a request names: INVALID_ARGUMENT for an id the config could not
    /// hold, NOT_FOUND for one it does not.
    fn slot(&self, id: &str) -> Result<Arc<crate::store::ClusterSlot>, Status> {
        if let Some(problem) = cluster_id_problem(id) {
            return Err(Status::invalid_argument(problem));
        }
        self.store.cluster(id).ok_or_else(|| {
            let slots = self.store.clusters();
            let ids: Vec<&str> = slots.iter().map(|s| &*s.info.id).collect();
            let listed = if ids.is_empty() {
                "none configured".to_string()
            } else if ids.len() > LISTED_IDS {
                format!(
                    "{} and {} more",
                    ids[..LISTED_IDS].join(", "),
                    ids.len() - LISTED_IDS
                )
            } else {
                ids.join(", ")
            };
            Status::not_found(format!("unknown cluster {}; clusters: {listed}", quote(id)))
        })
    }
}

type ReportStream = Pin<Box<dyn Stream<Item = Result<proto::Report, Status>> + Send>>;
type EncodedStream = Pin<Box<dyn Stream<Item = Result<encodings::Encoded, Status>> + Send>>;

#[tonic::async_trait]
impl proto::monitor_server::Monitor for Monitor {
    async fn list_connectors(
        &self,
        _: Request<proto::ListConnectorsRequest>,
    ) -> Result<Response<proto::ListConnectorsResponse>, Status> {
        let mut connectors: Vec<proto::Connector> = self
            .live
            .registry()
            .iter()
            .map(|p| convert::connector(p))
            .collect();
        // And those the connected collectors loaded, unless the same library is loaded here.
        for remote in self.collectors.connectors() {
            if !connectors
                .iter()
                .any(|c| c.name == remote.name && c.sha256 == remote.sha256)
            {
                connectors.push(remote);
            }
        }
        Ok(Response::new(proto::ListConnectorsResponse { connectors }))
    }

    async fn list_clusters(
        &self,
        _: Request<proto::ListClustersRequest>,
    ) -> Result<Response<proto::ListClustersResponse>, Status> {
        let clusters = self
            .store
            .clusters()
            .iter()
            .map(|s| {
                let local = self.live.runner(&s.info.id);
                let local = local.as_deref();
                let remote = self.collectors.remote(&s.info.id);
                convert::cluster(s, local, remote.as_ref())
            })
            .collect();
        Ok(Response::new(proto::ListClustersResponse { clusters }))
    }

    /// Served by [`MonitorService`] from encodings shared between calls; this one converts
    /// (the same messages) for a caller that drives the generated service directly.
    async fn get_reports(
        &self,
        request: Request<proto::GetReportsRequest>,
    ) -> Result<Response<proto::GetReportsResponse>, Status> {
        let reports = self
            .stored_reports(request.into_inner())?
            .iter()
            .map(|r| convert::report(r))
            .collect();
        Ok(Response::new(proto::GetReportsResponse { reports }))
    }

    type WatchStream = ReportStream;

    /// Never called: [`MonitorService`] answers Watch from encodings shared between streams.
    async fn watch(
        &self,
        _: Request<proto::WatchRequest>,
    ) -> Result<Response<ReportStream>, Status> {
        Err(Status::internal(
            "Watch is served by api::MonitorService, not by the generated service",
        ))
    }

    async fn list_collectors(
        &self,
        _: Request<proto::ListCollectorsRequest>,
    ) -> Result<Response<proto::ListCollectorsResponse>, Status> {
        let collectors = self.collectors.list();
        Ok(Response::new(proto::ListCollectorsResponse { collectors }))
    }

    async fn run_command(
        &self,
        request: Request<proto::RunCommandRequest>,
    ) -> Result<Response<proto::RunCommandResponse>, Status> {
        let req = request.into_inner();
        let slot = self.slot(&req.cluster_id)?;
        if let Some(problem) = dbmon_connector_api::names::command_name_problem(&req.command) {
            return Err(Status::invalid_argument(problem));
        }
        let timeout = slot.info.timeout;
        let output = match self.live.runner(&req.cluster_id) {
            Some(runner) => {
                let connector = &slot.info.connector;
                let (cluster, name) = (&req.cluster_id, &req.command);
                command::run(
                    &self.live.registry(),
                    &runner,
                    connector,
                    cluster,
                    name,
                    req.args,
                    timeout,
                )
                .await
            }
            None => self
                .collectors
                .run_command(&req.cluster_id, &req.command, req.args, timeout)
                .await
                .unwrap_or_else(|| {
                    Err(Status::failed_precondition(format!(
                        "cluster {} has no connector to run commands",
                        quote(&req.cluster_id)
                    )))
                }),
        }?;
        Ok(Response::new(proto::RunCommandResponse { output }))
    }
}
