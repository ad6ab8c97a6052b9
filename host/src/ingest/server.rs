//! The server's side of `dbmon.ingest.v1.Ingest`: a session opens with the collector's Hello
//! (checked, registered in [`Collectors`], answered with a Welcome saying what is stored
//! already); its reports are then stored by the session's task (`session`).

use super::{registry::Collectors, session::SessionTask};
use crate::{
    names::{cluster_id_problem, collector_id_problem, quote},
    store::{ClusterInfo, Store},
};
use dbmon_proto::ingest;
use std::{
    collections::{HashMap, HashSet},
    pin::Pin,
    sync::Arc,
    time::Duration,
};
use tokio::sync::mpsc;
use tokio_stream::{Stream, StreamExt, wrappers::ReceiverStream};
use tonic::{Request, Response, Status, Streaming};

/// Time a new session has to send its Hello.
const HELLO_WITHIN: Duration = Duration::from_secs(10);
/// Messages to a collector (acknowledgements, commands) not yet taken by its connection.
const OUTBOX: usize = 256;

/// The `Ingest` service over the store and the collectors' registry.
#[derive(Debug, Clone)]
pub struct IngestService {
    store: Arc<Store>,
    collectors: Arc<Collectors>,
}

impl IngestService {
    /// Stores pushed reports in `store`, registering sessions in `collectors`.
    pub fn new(store: Arc<Store>, collectors: Arc<Collectors>) -> IngestService {
        IngestService { store, collectors }
    }
}

type Outbound = Pin<Box<dyn Stream<Item = Result<ingest::ServerMessage, Status>> + Send>>;

#[tonic::async_trait]
impl ingest::ingest_server::Ingest for IngestService {
    type PushStream = Outbound;

    async fn push(
        &self,
        request: Request<Streaming<ingest::CollectorMessage>>,
    ) -> Result<Response<Outbound>, Status> {
        let address = request.remote_addr();
        let identity = request
            .extensions()
            .get::<crate::security::Identity>()
            .map_or(String::new(), |i| i.to_string());
        let mut inbound = request.into_inner();
        let first = tokio::time::timeout(HELLO_WITHIN, inbound.next())
            .await
            .map_err(|_| Status::deadline_exceeded("no Hello within 10s of opening Push"))?;
        let hello = match first {
            Some(Ok(ingest::CollectorMessage {
                message: Some(ingest::collector_message::Message::Hello(hello)),
            })) => hello,
            Some(Err(e)) => return Err(e),
            _ => {
                return Err(Status::invalid_argument(
                    "the first message of Push must be a Hello",
                ));
            }
        };
        check_hello(&hello)?;
        let (outbox, outgoing) = mpsc::channel(OUTBOX);
        let (number, replaced) =
            self.collectors
                .open(&hello, address, identity.clone(), outbox.clone())?;
        let mut stored = HashMap::new();
        for cluster in &hello.clusters {
            let slot = self.store.add_cluster(info(cluster));
            let last = slot
                .latest()
                .and_then(|r| r.origin.clone())
                .filter(|o| {
                    *o.collector == *hello.collector_id && o.incarnation == hello.incarnation
                })
                .map_or(0, |o| o.sequence);
            stored.insert(cluster.id.clone(), last);
        }
        let welcome = ingest::ServerMessage {
            message: Some(ingest::server_message::Message::Welcome(ingest::Welcome {
                stored,
            })),
        };
        // The outbox is empty: this cannot wait.
        let _ = outbox.try_send(Ok(welcome));
        tracing::info!(
            collector = %hello.collector_id,
            "collector connected from {} as {}: {} clusters",
            address.map_or_else(|| "?".to_string(), |a| a.to_string()),
            if identity.is_empty() { "anonymous" } else { &identity },
            hello.clusters.len()
        );
        let session = SessionTask {
            store: Arc::clone(&self.store),
            collectors: Arc::clone(&self.collectors),
            collector: hello.collector_id.as_str().into(),
            incarnation: hello.incarnation,
            clusters: std::sync::Mutex::new(hello.clusters.iter().map(|c| c.id.clone()).collect()),
            coordinated: hello.coordinated,
            outbox,
        };
        tokio::spawn(session.run(inbound, number, replaced));
        Ok(Response::new(Box::pin(ReceiverStream::new(outgoing))))
    }
}

fn check_hello(hello: &ingest::Hello) -> Result<(), Status> {
    if let Some(problem) = collector_id_problem(&hello.collector_id) {
        return Err(Status::invalid_argument(problem));
    }
    check_clusters(&hello.clusters)
}

/// The clusters of a Hello or a ClusterSet: valid ids, each once, with their schedule.
pub(super) fn check_clusters(clusters: &[ingest::CollectedCluster]) -> Result<(), Status> {
    let mut seen = HashSet::new();
    for cluster in clusters {
        if let Some(problem) = cluster_id_problem(&cluster.id) {
            return Err(Status::invalid_argument(problem));
        }
        positive(cluster.interval, "interval", &cluster.id)?;
        positive(cluster.timeout, "timeout", &cluster.id)?;
        if !seen.insert(&cluster.id) {
            return Err(Status::invalid_argument(format!(
                "cluster {} is listed twice",
                quote(&cluster.id)
            )));
        }
    }
    Ok(())
}

/// A positive duration of a Hello's cluster.
fn positive(
    d: Option<prost_types::Duration>,
    what: &str,
    cluster: &str,
) -> Result<Duration, Status> {
    d.and_then(|d| Duration::try_from(d).ok())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            Status::invalid_argument(format!(
                "cluster {}: {what} must be set and positive",
                quote(cluster)
            ))
        })
}

/// A checked cluster's info.
pub(super) fn info(cluster: &ingest::CollectedCluster) -> ClusterInfo {
    ClusterInfo {
        id: cluster.id.as_str().into(),
        connector: cluster.connector.as_str().into(),
        endpoints: cluster.endpoints.clone(),
        interval: positive(cluster.interval, "interval", &cluster.id).expect("checked"),
        timeout: positive(cluster.timeout, "timeout", &cluster.id).expect("checked"),
    }
}
