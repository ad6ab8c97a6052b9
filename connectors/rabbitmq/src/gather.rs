//! One collection's questions, each bounded by the deadline:
//! 1. every endpoint at once: `/api/overview`, which says which node answers;
//! 2. the first endpoint that answered, as soon as it did (the others may still be asked),
//!    for the whole cluster (the management API of any node answers for all of them), at
//!    once: the nodes, the largest queues, the alarms.

use crate::api::{self, AlarmCheck, Node, Overview, QueuePage};
use crate::client::{Api, Failure};
use futures::{StreamExt, stream::FuturesUnordered};
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
    let mut pending: FuturesUnordered<_> = endpoints
        .iter()
        .enumerate()
        .map(|(i, url)| async move {
            let overview = api.get::<Overview>(url, api::OVERVIEW_PATH, deadline).await;
            let probe = Probe {
                url: url.clone(),
                overview: overview.map_err(|f| f.text),
            };
            (i, probe)
        })
        .collect();
    let mut probes: Vec<Option<Probe>> = endpoints.iter().map(|_| None).collect();
    // The cluster-wide questions go out as soon as one endpoint answers: a silent endpoint
    // must not hold them until the deadline.
    let mut asked = None;
    while let Some((i, probe)) = pending.next().await {
        let answered = probe.answered().is_some();
        probes[i] = Some(probe);
        if answered {
            asked = Some(i);
            break;
        }
    }
    let Some(asked) = asked else {
        let none = "no endpoint could be read".to_string();
        return Gathered {
            probes: probes.into_iter().flatten().collect(),
            asked: None,
            nodes: Err(none.clone()),
            queues: Err(none.clone()),
            alarms: Err(none),
        };
    };
    let base = &endpoints[asked];
    let queues_path = api::queues_path(max_queues);
    let cluster = async {
        let nodes = api.get::<Vec<Node>>(base, api::NODES_PATH, deadline);
        let queues = api.get::<QueuePage>(base, &queues_path, deadline);
        let alarms = api.get_accepting::<AlarmCheck>(base, api::ALARMS_PATH, deadline, &[200, 503]);
        tokio::join!(nodes, queues, alarms)
    };
    let others = async {
        while let Some((i, probe)) = pending.next().await {
            probes[i] = Some(probe);
        }
    };
    let ((nodes, queues, alarms), ()) = tokio::join!(cluster, others);
    let probes = probes.into_iter().flatten().collect();
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
