//! A loopback fake CockroachDB cluster: one [`HttpServer`] per node, serving `/_status/vars` in
//! the format of either generation (rendered from the node's state on every request, so tests
//! change figures between collections), `/health`, `/health?ready=1`, and the nodes API with a
//! login: the formats the cockroachdb connector reads (its README, "What it reads").

mod vars;

pub use vars::{number, render};

use crate::{CertAndKey, HttpServer, Reply, Request, TestCa};
use std::sync::{Arc, Mutex};

/// Which `/_status/vars` format a node speaks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Generation {
    /// v19: `ranges{store="1"} 34.0`, no node label, no final newline.
    V19,
    /// v22 and later: `node_id="N"` on every series, integers as `34`.
    V22,
}

/// One store of a node.
#[derive(Clone, Debug)]
pub struct Store {
    pub ranges: f64,
    pub unavailable: f64,
    pub underreplicated: f64,
    pub overreplicated: f64,
    pub replicas: f64,
    pub capacity: f64,
    pub available: f64,
    pub used: f64,
}

impl Store {
    /// 20 ranges, 60 replicas, 100 GiB of which 10 GiB used and 90 GiB available.
    pub fn healthy() -> Store {
        Store {
            ranges: 20.0,
            unavailable: 0.0,
            underreplicated: 0.0,
            overreplicated: 0.0,
            replicas: 60.0,
            capacity: 100.0 * GIB,
            available: 90.0 * GIB,
            used: 10.0 * GIB,
        }
    }
}

/// A gibibyte, in bytes.
pub const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// `liveness_status` of a live node in the nodes API.
pub const LIVE: i64 = 3;
/// `liveness_status` of a draining node.
pub const DRAINING: i64 = 6;

/// Everything one fake node says.
#[derive(Clone, Debug)]
pub struct Node {
    pub id: u64,
    pub generation: Generation,
    pub version: String,
    pub stores: Vec<Store>,
    pub rss: f64,
    /// `sys_totalmem`, which only some versions have.
    pub sys_totalmem: Option<f64>,
    /// select, insert, update, delete counters.
    pub queries: [f64; 4],
    /// Heartbeat latency: (upper bound ns, cumulative count); `+Inf` is added.
    pub heartbeat: Vec<(f64, f64)>,
    pub clock_mean_ns: f64,
    pub clock_stddev_ns: f64,
    pub live_nodes: f64,
    /// `queue_*_pending` values, one series per queue per store.
    pub queue_pending: Vec<f64>,
    /// `/health?ready=1` answers 200 when true, 503 when false.
    pub ready: bool,
    /// What the nodes API says of it (3 = LIVE).
    pub liveness: i64,
    pub total_system_memory: f64,
}

impl Node {
    /// A healthy node with two stores.
    pub fn new(id: u64, generation: Generation) -> Node {
        Node {
            id,
            generation,
            version: if generation == Generation::V19 {
                "v19.2.2"
            } else {
                "v23.1.11"
            }
            .into(),
            stores: vec![Store::healthy(), Store::healthy()],
            rss: 512.0 * 1024.0 * 1024.0,
            sys_totalmem: None,
            queries: [1000.0, 200.0, 50.0, 10.0],
            heartbeat: vec![
                (1e6, 0.0),
                (2e6, 40.0),
                (4e6, 90.0),
                (8e6, 100.0),
                (16e6, 100.0),
            ],
            clock_mean_ns: 15_000.0,
            clock_stddev_ns: 200_000.0,
            live_nodes: 3.0,
            queue_pending: vec![1.0, 2.0],
            ready: true,
            liveness: LIVE,
            total_system_memory: 8.0 * GIB,
        }
    }

    pub fn address(&self) -> String {
        format!("roach{}:26257", self.id)
    }
}

/// The state of the whole fake cluster, shared by its servers.
#[derive(Debug, Default)]
pub struct State {
    pub nodes: Vec<Node>,
    /// Nodes the API lists that have no server: (id, liveness).
    pub api_only: Vec<(u64, i64)>,
    /// The admin login the API accepts.
    pub login: Option<(String, String)>,
    /// Sessions handed out and still valid.
    pub sessions: Vec<String>,
    /// Logins attempted.
    pub logins: usize,
    /// The nodes API answers 403 (a user without the admin role).
    pub forbid_nodes: bool,
    /// No `/api/v2/` at all (versions before v21.1): 404.
    pub no_api: bool,
}

/// A running fake cluster; its servers stop when it is dropped.
pub struct FakeCluster {
    pub servers: Vec<HttpServer>,
    pub state: Arc<Mutex<State>>,
}

impl FakeCluster {
    /// One plain-HTTP server per node.
    pub async fn start(nodes: Vec<Node>) -> FakeCluster {
        let mut servers = Vec::new();
        for _ in &nodes {
            servers.push(HttpServer::start().await);
        }
        Self::serve(servers, nodes)
    }

    /// One HTTPS server per node, presenting `cert`; with `client_ca`, demanding client
    /// certificates it signed.
    pub async fn start_tls(
        nodes: Vec<Node>,
        cert: &CertAndKey,
        client_ca: Option<&TestCa>,
    ) -> FakeCluster {
        let mut servers = Vec::new();
        for _ in &nodes {
            servers.push(HttpServer::start_tls(cert, client_ca).await);
        }
        Self::serve(servers, nodes)
    }

    fn serve(servers: Vec<HttpServer>, nodes: Vec<Node>) -> FakeCluster {
        let state = Arc::new(Mutex::new(State {
            nodes,
            ..State::default()
        }));
        for (index, server) in servers.iter().enumerate() {
            let state = Arc::clone(&state);
            server.set_handler(move |request| answer(&mut state.lock().unwrap(), index, request));
        }
        FakeCluster { servers, state }
    }

    /// The nodes' base URLs.
    pub fn endpoints(&self) -> Vec<String> {
        self.servers.iter().map(|s| s.url("")).collect()
    }

    /// Changes the cluster's state.
    pub fn with<T>(&self, change: impl FnOnce(&mut State) -> T) -> T {
        change(&mut self.state.lock().unwrap())
    }

    /// Changes node `index`.
    pub fn node(&self, index: usize, change: impl FnOnce(&mut Node)) {
        change(&mut self.state.lock().unwrap().nodes[index]);
    }

    /// Node `index` draining as `cockroach node drain` leaves it: the nodes API says DRAINING
    /// and `/health?ready=1` answers 503. `false` makes it LIVE and ready again.
    pub fn set_draining(&self, index: usize, draining: bool) {
        self.node(index, |node| {
            node.liveness = if draining { DRAINING } else { LIVE };
            node.ready = !draining;
        });
    }
}

fn answer(state: &mut State, index: usize, request: &Request) -> Option<Reply> {
    let node = &state.nodes[index];
    match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/_status/vars") => Some(Reply::text(vars::render(node))),
        ("GET", "/health") => Some(Reply::json("{\n\n}")),
        ("GET", "/health?ready=1") if node.ready => Some(Reply::json("{\n\n}")),
        ("GET", "/health?ready=1") => Some(
            Reply::json(
                "{\n  \"error\": \"node is not healthy\",\n  \"code\": 14,\n  \"message\": \
                 \"node is not healthy\",\n  \"details\": [\n  ]\n}",
            )
            .with_status(503),
        ),
        (_, path) if state.no_api && path.starts_with("/api/") => None,
        ("POST", "/api/v2/login/") => Some(login(state, request)),
        ("GET", path) if path.starts_with("/api/v2/nodes/") => Some(nodes(state, request)),
        _ => None,
    }
}

fn login(state: &mut State, request: &Request) -> Reply {
    state.logins += 1;
    let form: Vec<(String, String)> = form_pairs(&request.body);
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let given = (get("username"), get("password"));
    match &state.login {
        Some((user, password)) if given == (Some(user.clone()), Some(password.clone())) => {
            let session = format!("c2Vzc2lvbi{}", state.logins);
            state.sessions.push(session.clone());
            Reply::json(format!("{{\"session\":\"{session}\"}}"))
        }
        _ => Reply::text("the provided credentials did not match any account on the system\n")
            .with_status(401),
    }
}

fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("00");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn nodes(state: &State, request: &Request) -> Reply {
    let session = request.headers.get("x-cockroach-api-session");
    if !session.is_some_and(|s| state.sessions.contains(s)) {
        return Reply::text("not authenticated\n").with_status(401);
    }
    if state.forbid_nodes {
        return Reply::text("this operation requires admin privilege\n").with_status(403);
    }
    let mut entries: Vec<String> = state
        .nodes
        .iter()
        .map(|n| {
            api_node(
                n.id,
                &n.address(),
                &n.version,
                n.total_system_memory,
                n.liveness,
            )
        })
        .collect();
    for (id, liveness) in &state.api_only {
        let address = format!("roach{id}:26257");
        entries.push(api_node(*id, &address, "v23.1.11", 8.0 * GIB, *liveness));
    }
    Reply::json(format!("{{\"nodes\":[{}]}}", entries.join(",")))
}

fn api_node(id: u64, address: &str, tag: &str, memory: f64, liveness: i64) -> String {
    format!(
        "{{\"node_id\":{id},\"address\":{{\"network_field\":\"tcp\",\"address_field\":\"{address}\"}},\
         \"attrs\":{{}},\"locality\":{{\"tiers\":[{{\"key\":\"region\",\"value\":\"eu\"}}]}},\
         \"ServerVersion\":{{\"major_val\":23,\"minor_val\":1}},\"build_tag\":\"{tag}\",\
         \"started_at\":1700000000000000000,\"cluster_name\":\"\",\
         \"sql_address\":{{\"network_field\":\"tcp\",\"address_field\":\"{address}\"}},\
         \"metrics\":{{\"sql.conns\":2}},\"total_system_memory\":{memory},\"num_cpus\":4,\
         \"updated_at\":1700000100000000000,\"liveness_status\":{liveness}}}"
    )
}
