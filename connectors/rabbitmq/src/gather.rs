//! One collection's questions, each bounded by the deadline:
//! 1. every endpoint at once: `/api/overview`, which says which node answers;
//! 2. the first endpoint that answered, for the whole cluster (the management API of any node
//!    answers for all of them), at once: the nodes, the largest queues, the alarms.

use crate::api::{self, AlarmCheck, Node, Overview, QueuePage};
use crate::client::{Api, Failure};
use futures::future::join_all;
use std::time::{Duration, Instant};

/// What one endpoint answered.
#[derive(Debug)]
pub struct Probe {
    /// The endpoint asked.
    pub url: String,
    /// Its overview and how long it took.
    pub overview: Result<(Overview, Duration), String>,
}

impl Probe {
    /// The overview, if the endpoint answered.
    pub fn answered(&self) -> Option<&Overview> {
        self.overview.as_ref().ok().map(|(o, _)| o)
    }
}

/// Everything one collection learned.
#[derive(Debug)]
pub struct Gathered {
    /// One per configured endpoint, in their order.
    pub probes: Vec<Probe>,
    /// The endpoint the cluster-wide questions went to; `None` when no endpoint could be read.
    pub asked: Option<usize>,
    /// `/api/nodes`.
    pub nodes: Result<Vec<Node>, String>,
    /// The first page of `/api/queues`.
    pub queues: Result<QueuePage, String>,
    /// `/api/health/checks/alarms`; `Ok(None)` when the node is older than 3.8.10 and lacks it.
    pub alarms: Result<Option<AlarmCheck>, String>,
}

/// Asks the cluster.
pub async fn gather(
    api: &Api,
    endpoints: &[String],
    max_queues: usize,
    deadline: Instant,
) -> Gathered {
    let probes = join_all(endpoints.iter().map(|url| async move {
        let overview = api.get::<Overview>(url, api::OVERVIEW_PATH, deadline).await;
        Probe {
            url: url.clone(),
            overview: overview.map_err(|f| f.text),
        }
    }))
    .await;
    let Some(asked) = probes.iter().position(|p| p.answered().is_some()) else {
        let none = "no endpoint could be read".to_string();
        return Gathered {
            probes,
            asked: None,
            nodes: Err(none.clone()),
            queues: Err(none.clone()),
            alarms: Err(none),
        };
    };
    let base = &probes[asked].url;
    let queues_path = api::queues_path(max_queues);
    let nodes = api.get::<Vec<Node>>(base, api::NODES_PATH, deadline);
    let queues = api.get::<QueuePage>(base, &queues_path, deadline);
    let alarms = api.get_accepting::<AlarmCheck>(base, api::ALARMS_PATH, deadline, &[200, 503]);
    let (nodes, queues, alarms) = tokio::join!(nodes, queues, alarms);
    let alarms = match alarms {
        Ok((check, _)) => Ok(Some(check)),
        Err(Failure {
            not_found: true, ..
        }) => Ok(None),
        Err(f) => Err(f.text),
    };
    Gathered {
        probes,
        asked: Some(asked),
        nodes: nodes.map(|(n, _)| n).map_err(|f| f.text),
        queues: queues.map(|(q, _)| q).map_err(|f| f.text),
        alarms,
    }
}
