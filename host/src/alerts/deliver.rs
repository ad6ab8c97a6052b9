//! Posting alerts: one task and one bounded queue per target, so that a target that is down
//! or slow holds up neither the others nor the engine (which never waits: a full queue drops
//! the batch, counted). A failed post is tried again after a backoff that doubles up to
//! [`MAX_BACKOFF`], [`ATTEMPTS`] times in all.

use super::Deliveries;
use crate::config::AlertTarget;
use std::{
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};
use tokio::sync::{mpsc, watch};

/// Batches waiting for one target.
pub const QUEUE: usize = 256;
/// Posts of one batch before it is given up.
pub const ATTEMPTS: u32 = 6;
/// The first wait after a failed post; it doubles each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait between two posts of a batch.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Time one post may take.
const POST_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest answer body read (Alertmanager answers with little).
const MAX_ANSWER_BYTES: usize = 64 << 10;

/// The queue of one target.
#[derive(Debug, Clone)]
pub struct Queue {
    url: Arc<str>,
    tx: mpsc::Sender<Arc<[u8]>>,
    deliveries: Arc<Deliveries>,
}

impl Queue {
    /// Queues a JSON body; drops it (counted) when the queue is full.
    pub fn push(&self, body: Arc<[u8]>) {
        if self.tx.try_send(body).is_err() {
            self.deliveries.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                "alerts: the queue to {} is full: a batch is dropped",
                self.url
            );
        }
    }
}

/// Starts the task that posts to `target` until `stopped`.
pub fn start(
    target: &AlertTarget,
    client: dbmon_scrape::Client,
    deliveries: Arc<Deliveries>,
    stopped: watch::Receiver<bool>,
) -> Queue {
    let (queue, rx) = channel(target.url(), Arc::clone(&deliveries));
    tokio::spawn(post_all(
        Arc::clone(&queue.url),
        client,
        rx,
        deliveries,
        stopped,
    ));
    queue
}

/// A queue to `url` and its other end.
pub(super) fn channel(
    url: &str,
    deliveries: Arc<Deliveries>,
) -> (Queue, mpsc::Receiver<Arc<[u8]>>) {
    let (tx, rx) = mpsc::channel(QUEUE);
    let queue = Queue {
        url: url.into(),
        tx,
        deliveries,
    };
    (queue, rx)
}

/// The wait before attempt `attempt` (from 2) of a batch.
pub fn backoff(attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(2).min(16);
    (FIRST_BACKOFF * 2u32.pow(doublings)).min(MAX_BACKOFF)
}

async fn post_all(
    url: Arc<str>,
    client: dbmon_scrape::Client,
    mut rx: mpsc::Receiver<Arc<[u8]>>,
    deliveries: Arc<Deliveries>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let body = tokio::select! {
            body = rx.recv() => match body {
                Some(body) => body,
                None => return,
            },
            _ = stopped.wait_for(|s| *s) => return,
        };
        let mut attempt = 1;
        loop {
            match post(&client, &url, &body).await {
                Ok(()) => {
                    deliveries.sent.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Err(why) if attempt >= ATTEMPTS => {
                    deliveries.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("alerts: POST {url} failed {ATTEMPTS} times, given up: {why}");
                    break;
                }
                Err(why) => {
                    deliveries.retried.fetch_add(1, Ordering::Relaxed);
                    attempt += 1;
                    let wait = backoff(attempt);
                    tracing::info!(
                        "alerts: POST {url} failed ({why}); trying again in {}",
                        humantime::format_duration(wait)
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stopped.wait_for(|s| *s) => return,
                    }
                }
            }
        }
    }
}

/// One POST of `body`; an answer other than 2xx is an error with its status and body.
async fn post(client: &dbmon_scrape::Client, url: &str, body: &Arc<[u8]>) -> Result<(), String> {
    let request = client
        .post(url)
        .header(dbmon_scrape::header::CONTENT_TYPE, "application/json")
        .body(body.to_vec());
    let deadline = Instant::now() + POST_TIMEOUT;
    let answer = dbmon_scrape::send(request, url, deadline, MAX_ANSWER_BYTES)
        .await
        .map_err(|e| match e {
            dbmon_scrape::FetchError::Transport { message, .. } => message,
            dbmon_scrape::FetchError::Timeout { after_ms, .. } => {
                format!("no answer within {after_ms} ms")
            }
            other => other.to_string(),
        })?;
    if (200..300).contains(&answer.status) {
        Ok(())
    } else {
        let body: String = answer.body.trim().chars().take(200).collect();
        Err(format!("answered {}: {body}", answer.status))
    }
}
