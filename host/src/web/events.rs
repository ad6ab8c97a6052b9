//! `GET /events`: server-sent events, one `cluster` event (the overview row, as JSON) per
//! new report, after one for each cluster as it stands when the stream opens.
//!
//! Bounded: the stream follows [`Store::subscribe`](crate::store::Store::subscribe), whose
//! notices wait in the store's one ring buffer, not per client. A client that reads so
//! slowly that it misses notices is dropped; its browser reconnects by itself (after the
//! `retry` the stream announces) and starts again from every cluster's current row. At most
//! [`MAX_EVENT_STREAMS`](super::MAX_EVENT_STREAMS) streams are open at once, and each is a
//! task of the HTTP connection, never a thread.

use super::{Web, rows};
use axum::response::sse::{Event, Sse};
use futures::Stream;
use std::{collections::VecDeque, convert::Infallible, sync::Arc, time::Duration};
use tokio::{
    sync::{OwnedSemaphorePermit, broadcast, watch},
    time::{Interval, MissedTickBehavior},
};

/// A comment this often keeps proxies from closing an idle stream and finds dead clients.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// What the browser waits before it reconnects a stream that ended.
const RETRY: Duration = Duration::from_secs(1);

/// The event stream of every cluster, or of `only` that one.
pub fn stream(
    web: Arc<Web>,
    only: Option<String>,
    seat: OwnedSemaphorePermit,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // Subscribe before reading the clusters: no report falls between the two.
    let notices = web.sources.store.subscribe();
    let pending = web
        .sources
        .store
        .clusters()
        .into_iter()
        .filter(|slot| only.as_deref().is_none_or(|id| *slot.info.id == *id))
        .map(|slot| slot.info.id.to_string())
        .collect();
    let mut keep_alive =
        tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
    keep_alive.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let follower = Follower {
        stopped: web.sources.stopped.clone(),
        web,
        only,
        notices,
        pending,
        keep_alive,
        first: true,
        _seat: seat,
    };
    Sse::new(futures::stream::unfold(follower, |mut f| async move {
        f.next().await.map(|event| (Ok(event), f))
    }))
}

/// One open stream.
struct Follower {
    web: Arc<Web>,
    only: Option<String>,
    notices: broadcast::Receiver<crate::store::Notice>,
    /// Clusters whose row is still to be sent (at the start).
    pending: VecDeque<String>,
    keep_alive: Interval,
    stopped: watch::Receiver<bool>,
    first: bool,
    _seat: OwnedSemaphorePermit,
}

impl Follower {
    /// The next event; `None` ends the stream.
    async fn next(&mut self) -> Option<Event> {
        if std::mem::take(&mut self.first) {
            return Some(Event::default().retry(RETRY).comment("dbmon"));
        }
        while let Some(id) = self.pending.pop_front() {
            if let Some(event) = self.row_event(&id) {
                return Some(event);
            }
        }
        loop {
            tokio::select! {
                _ = until_stopped(&mut self.stopped) => return None,
                _ = self.keep_alive.tick() => return Some(Event::default().comment("")),
                notice = self.notices.recv() => match notice {
                    Ok(notice) => {
                        if self.only.as_deref().is_some_and(|id| id != &*notice.cluster) {
                            continue;
                        }
                        if let Some(event) = self.row_event(&notice.cluster) {
                            return Some(event);
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::debug!(
                            "status page: an event stream missed {missed} reports (its client \
                             reads too slowly): closed; the browser reconnects"
                        );
                        return None;
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
    }

    /// The `cluster` event of cluster `id` as it stands now.
    fn row_event(&self, id: &str) -> Option<Event> {
        let slot = self.web.sources.store.cluster(id)?;
        let row = rows::of(&self.web.sources, &slot);
        let json = serde_json::to_string(&row).ok()?;
        Some(Event::default().event("cluster").data(json))
    }
}

/// Returns once `stopped` turns true; never when its sender is gone without that.
async fn until_stopped(stopped: &mut watch::Receiver<bool>) {
    if stopped.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}
