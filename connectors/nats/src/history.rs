//! What the previous collection saw at each endpoint: the server's name, so that a server that
//! stops answering is still named by who it was, and its slow consumer count, so that an
//! increase since then shows.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

/// Who answered at an endpoint, and its counter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// `server_name`.
    pub name: String,
    /// `server_id`: a new one (unless configured) at every start of the server.
    pub server_id: String,
    /// `slow_consumers`.
    pub slow_consumers: u64,
}

/// Per-endpoint memory of one cluster, keyed by monitoring URL. A cache: a worker restart
/// loses it, which costs one collection's comparison.
#[derive(Debug, Default)]
pub struct History {
    endpoints: Mutex<HashMap<String, Seen>>,
}

impl History {
    /// What was seen at every endpoint last time.
    pub fn snapshot(&self) -> HashMap<String, Seen> {
        self.endpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Records what answered at `endpoint` this time.
    pub fn record(&self, endpoint: &str, seen: Seen) {
        self.endpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(endpoint.to_string(), seen);
    }
}
