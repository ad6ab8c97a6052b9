//! `grpc.health.v1.Health` as the health-checking protocol specifies it: tonic-health's service,
//! except that `Watch` of a service the server does not know sends SERVICE_UNKNOWN and keeps
//! the call open (tonic-health ends it with NOT_FOUND), and open watches end with UNAVAILABLE
//! when the host stops (after NOT_SERVING, which the host sets first).

use futures::StreamExt as _;
use std::pin::Pin;
use tokio_stream::Stream;
use tonic::{Code, Request, Response, Status};
use tonic_health::{
    pb::{
        HealthCheckRequest, HealthCheckResponse, health_check_response::ServingStatus,
        health_server::Health,
    },
    server::{HealthReporter, HealthService},
};

/// The service whose status says whether the shared store (`store: {kind: redis}`) answers:
/// NOT_SERVING while it does not (the server serves what it holds, and stores nothing).
pub const STORE_SERVICE: &str = "dbmon.store";

/// Sets [`STORE_SERVICE`]'s status now and follows the store's availability from then on.
pub async fn follow_store(
    reporter: &HealthReporter,
    mut changes: tokio::sync::watch::Receiver<Option<String>>,
) {
    let status = |why: &Option<String>| match why {
        None => tonic_health::ServingStatus::Serving,
        Some(_) => tonic_health::ServingStatus::NotServing,
    };
    let now = status(&changes.borrow_and_update());
    reporter.set_service_status(STORE_SERVICE, now).await;
    let reporter = reporter.clone();
    tokio::spawn(async move {
        while changes.changed().await.is_ok() {
            let now = status(&changes.borrow_and_update());
            reporter.set_service_status(STORE_SERVICE, now).await;
        }
    });
}

/// The health service over tonic-health's reporter.
pub struct Checks {
    inner: HealthService,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

impl Checks {
    /// Answers from `reporter`; open watches end when `shutdown` turns true.
    pub fn new(reporter: HealthReporter, shutdown: tokio::sync::watch::Receiver<bool>) -> Checks {
        Checks {
            inner: HealthService::from_health_reporter(reporter),
            shutdown,
        }
    }
}

type Updates = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Health for Checks {
    type WatchStream = Updates;

    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        self.inner.check(request).await
    }

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Updates>, Status> {
        match self.inner.watch(request).await {
            Ok(updates) => {
                // tonic-health's stream never ends by itself: end it when the host stops.
                let mut shutdown = self.shutdown.clone();
                let stop = async move {
                    let _ = shutdown.wait_for(|stopping| *stopping).await;
                };
                let updates = updates
                    .into_inner()
                    .take_until(stop)
                    .chain(futures::stream::once(async { Err(crate::api::stopping()) }));
                Ok(Response::new(Box::pin(updates)))
            }
            Err(status) if status.code() == Code::NotFound => {
                // The services are fixed when the host starts: an unknown one stays unknown.
                let mut shutdown = self.shutdown.clone();
                let unknown = HealthCheckResponse {
                    status: ServingStatus::ServiceUnknown as i32,
                };
                let stream = futures::stream::once(async move { Ok(unknown) }).chain(
                    futures::stream::once(async move {
                        let _ = shutdown.wait_for(|stopping| *stopping).await;
                        Err(crate::api::stopping())
                    }),
                );
                Ok(Response::new(Box::pin(stream)))
            }
            Err(status) => Err(status),
        }
    }
}
