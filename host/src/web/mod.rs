//! The web status page, served on the HTTP listener beside `/metrics`: `GET /` lists every
//! cluster with its verdict, `GET /cluster/{id}` shows one cluster's nodes and metrics with
//! a plot of each over the stored history, and `GET /events` streams each new report's
//! overview row as server-sent events, which the page's small script applies in place (a
//! cluster that turns unhealthy changes colour without a reload). `GET /api/clusters` gives
//! the same rows as JSON. Everything (HTML, CSS, script, SVG) is made here and embedded in
//! the binary: no CDN, nothing else to fetch.

mod cluster;
mod events;
mod html;
mod overview;
mod rows;
mod svg;

use crate::{ingest::Collectors, live::Live, store::Store};
use axum::{
    Router,
    extract::{Path, State},
    http::{HeaderValue, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::get,
};
use std::sync::Arc;
use tokio::sync::{Semaphore, watch};

/// The page's stylesheet.
const STYLE: &str = include_str!("assets/style.css");
/// The page's script: follows `/events` and updates the rows in place.
const SCRIPT: &str = include_str!("assets/live.js");

/// Event streams open at once; one more is answered 503 (browsers retry by themselves).
pub const MAX_EVENT_STREAMS: usize = 256;

/// What the status page reads: the same objects the gRPC API serves.
pub struct Sources {
    /// Every cluster's slot.
    pub store: Arc<Store>,
    /// The collectors that push to this host (who collects each remote cluster).
    pub collectors: Arc<Collectors>,
    /// The connectors and runners of the clusters this process collects, as reloads change
    /// them.
    pub live: Arc<Live>,
    /// Turns true when the host stops: open event streams end then.
    pub stopped: watch::Receiver<bool>,
}

impl Sources {
    /// The sources of a host that serves this store, these collectors' clusters and its own
    /// (`serve.rs` builds it next to the HTTP listener's state).
    pub fn of(
        store: &Arc<Store>,
        collectors: &Arc<Collectors>,
        live: &Arc<Live>,
        stopped: &watch::Receiver<bool>,
    ) -> Sources {
        Sources {
            store: Arc::clone(store),
            collectors: Arc::clone(collectors),
            live: Arc::clone(live),
            stopped: stopped.clone(),
        }
    }
}

/// The page's state: its sources and the seats of the event streams.
struct Web {
    sources: Sources,
    streams: Arc<Semaphore>,
}

/// The status page's routes (`/`, `/cluster/{id}`, `/events`, `/api/clusters`,
/// `/assets/*`), with their state applied, to merge into the HTTP listener's router.
pub fn router(sources: Sources) -> Router {
    let web = Arc::new(Web {
        sources,
        streams: Arc::new(Semaphore::new(MAX_EVENT_STREAMS)),
    });
    Router::new()
        .route("/", get(overview_page))
        .route("/cluster/{id}", get(cluster_page))
        .route("/events", get(event_stream))
        .route("/api/clusters", get(clusters_json))
        .route(
            "/assets/style.css",
            get(|| async { asset(STYLE, "text/css") }),
        )
        .route(
            "/assets/live.js",
            get(|| async { asset(SCRIPT, "text/javascript") }),
        )
        .with_state(web)
}

async fn overview_page(State(web): State<Arc<Web>>) -> Response {
    let rows = rows::all(&web.sources);
    page(StatusCode::OK, overview::render(&rows))
}

async fn cluster_page(State(web): State<Arc<Web>>, Path(id): Path<String>) -> Response {
    match web.sources.store.cluster(&id) {
        Some(slot) => {
            let row = rows::of(&web.sources, &slot);
            page(StatusCode::OK, cluster::render(&slot, &row))
        }
        None => page(StatusCode::NOT_FOUND, cluster::not_found(&id)),
    }
}

async fn event_stream(State(web): State<Arc<Web>>, uri: Uri) -> Response {
    let Ok(seat) = Arc::clone(&web.streams).try_acquire_owned() else {
        let busy = format!("{MAX_EVENT_STREAMS} event streams are open already; retry later\n");
        return (StatusCode::SERVICE_UNAVAILABLE, busy).into_response();
    };
    let only = query_value(uri.query().unwrap_or(""), "cluster");
    events::stream(Arc::clone(&web), only, seat).into_response()
}

async fn clusters_json(State(web): State<Arc<Web>>) -> Response {
    let rows = rows::all(&web.sources);
    let body = serde_json::to_string(&rows).unwrap_or_else(|_| "[]".into());
    let mut response = body.into_response();
    set_type(&mut response, "application/json");
    response
}

/// An HTML page, never cached (it is the state now).
fn page(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    set_type(&mut response, "text/html; charset=utf-8");
    response
}

fn asset(body: &'static str, kind: &'static str) -> Response {
    let mut response = body.into_response();
    set_type(&mut response, kind);
    response
}

fn set_type(response: &mut Response, kind: &'static str) {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// The value of `key` in a query string (`a=1&cluster=x`), percent-decoded.
fn query_value(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
