//! `dbmon serve --role collector` after its agents are made: where it pushes (flags over the
//! `collector:` block), the share it collects when it shares its clusters through etcd, and
//! the stop (agents first, then the lease, then the drain of what it holds).

use super::{Signals, flag_error};
use crate::{
    agent::Agents,
    config::{Config, ConfigError},
    coordination::{Candidate, Coordinator},
    ingest::{Collector, Upstream},
};
use dbmon_proto::ingest;
use std::{process::ExitCode, sync::Arc, time::Duration};
use tokio::sync::watch;

/// The collector role after the agents started: push until SIGTERM or SIGINT.
pub(super) async fn collect_for(
    mut collector: Collector,
    coordination: Option<Coordination>,
    signals: Signals,
    stop: watch::Sender<bool>,
    agents: Arc<std::sync::Mutex<Agents>>,
) -> anyhow::Result<ExitCode> {
    let upstream = &collector.upstream;
    let (urls, id) = (upstream.urls.join(", "), Arc::clone(&upstream.collector_id));
    let clusters = agents
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .ids()
        .count();
    let coordinator = match coordination {
        Some(c) => Some(
            Coordinator::join(&c.settings, &id, c.weight, c.candidates)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        ),
        None => None,
    };
    let (status_tx, status_rx) = watch::channel(ingest::ShareStatus::default());
    let following = match &coordinator {
        // Only the clusters of its share, as the share changes.
        Some(coordinator) => {
            collector.share = Some(coordinator.owned());
            collector.share_status = Some(status_rx);
            tokio::spawn(follow_share(
                Arc::clone(&agents),
                coordinator.owned(),
                stop.subscribe(),
            ))
        }
        None => {
            {
                let mut running = agents.lock().unwrap_or_else(|p| p.into_inner());
                let every: Vec<Arc<str>> = running.ids().cloned().collect();
                running.run_only(&every);
            }
            tokio::spawn(async {})
        }
    };
    // Its own stop: after the agents', so that their last reports are pushed too.
    let (drain, draining) = watch::channel(false);
    let pushing = tokio::spawn(collector.run_apart(draining));
    let shared = if coordinator.is_some() {
        ", shared through etcd"
    } else {
        ""
    };
    tracing::info!("collector '{id}': {clusters} clusters{shared}, pushing to {urls}");
    // Scripts and tests read this line.
    println!("dbmon collector '{id}' pushing to {urls}");
    let stopped = signals.stopped();
    tokio::pin!(stopped);
    let mut every = tokio::time::interval(SHARE_STATUS_EVERY);
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            _ = every.tick() => {
                if let Some(coordinator) = &coordinator {
                    let now = share_status(&coordinator.status());
                    status_tx.send_if_modified(|sent| {
                        let changed = *sent != now;
                        *sent = now;
                        changed
                    });
                }
            }
        }
    }
    let _ = stop.send(true);
    following.await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    if !Agents::stop_shared(&agents, deadline).await {
        tracing::warn!("a collection was still running 5s after the stop");
    }
    // Its clusters go to the others at once.
    if let Some(coordinator) = coordinator {
        coordinator.leave().await;
    }
    let _ = drain.send(true);
    let _ = pushing.await;
    tracing::info!("stopped");
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    std::process::exit(0)
}

/// How often a coordinated collector looks whether its share's status changed; a
/// change goes to the server then, an unchanged status not again.
const SHARE_STATUS_EVERY: Duration = Duration::from_secs(1);

/// A collector's coordination settings with what it brings to the share.
pub(super) struct Coordination {
    pub settings: crate::config::Coordination,
    pub weight: u32,
    pub candidates: Vec<Candidate>,
}

/// Runs the agents of the share, as it changes, until the stop.
async fn follow_share(
    agents: Arc<std::sync::Mutex<Agents>>,
    mut share: watch::Receiver<crate::coordination::Owned>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let owned = Arc::clone(&share.borrow_and_update());
        {
            let mut running = agents.lock().unwrap_or_else(|p| p.into_inner());
            running.run_only(owned.iter());
            tracing::debug!("collecting {} clusters of the share", running.running());
        }
        tokio::select! {
            changed = share.changed() => if changed.is_err() { break },
            _ = stopped.wait_for(|s| *s) => break,
        }
    }
}

/// The coordinator's status as the server hears it.
fn share_status(s: &crate::coordination::Status) -> ingest::ShareStatus {
    ingest::ShareStatus {
        weight: s.weight,
        members: s.members.len() as u32,
        owned: s.owned as u32,
        assigned: s.assigned as u32,
        clusters: s.clusters as u32,
        moves_last_hour: s.moves_last_hour as u64,
        overlaps: s.overlaps,
        why_nothing: s.why_nothing.clone().unwrap_or_default(),
    }
}

/// Where and as whom a collector pushes: flags over `collector:`.
pub(super) fn upstream(
    config: &Config,
    urls: Vec<String>,
    id: Option<String>,
) -> Result<Upstream, ConfigError> {
    let block = &config.collector;
    let from_flag = !urls.is_empty();
    let urls = if from_flag {
        urls
    } else {
        block.upstream.clone().unwrap_or_default()
    };
    if urls.is_empty() {
        return Err(flag_error(
            config,
            "--role collector",
            "a collector needs its server: --upstream https://HOST:PORT (or DBMON_UPSTREAM, \
             or collector.upstream: in the file)"
                .into(),
        ));
    }
    for (i, url) in urls.iter().enumerate() {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            let message = format!("'{url}' is not a server URL like https://server:4000");
            return Err(if from_flag {
                flag_error(config, "--upstream (or DBMON_UPSTREAM)", message)
            } else if block.upstream.as_ref().is_some_and(|u| u.len() > 1) {
                config.error_at(&format!("collector.upstream[{i}]"), message)
            } else {
                config.error_at("collector.upstream", message)
            });
        }
    }
    let id = id
        .or_else(|| block.id.clone())
        .unwrap_or_else(crate::names::host_name);
    if let Some(problem) = crate::names::collector_id_problem(&id) {
        return Err(config.error_at("collector.id", problem));
    }
    let token = match &block.token_file {
        Some(file) => Some(
            crate::security::client::Token::from_file(file)
                .map_err(|e| config.error_at("collector.token_file", e))?,
        ),
        None => None,
    };
    Ok(Upstream {
        urls,
        security: crate::security::client::ClientSecurity {
            ca: block.ca.clone(),
            cert: block.cert.clone(),
            key: block.key.clone(),
            token,
        },
        collector_id: id.into(),
        buffer_bytes: block.buffer_bytes,
    })
}
