//! The nodes API (`/api/v2/`): log in with the cluster's `auth:`, keep the session for the next
//! collections, log in again when it is refused (401), and list every node with its liveness.
//! Neither the password nor the session is ever logged or put in a message.

use crate::fetch::{cause, excerpt};
use crate::options::Endpoint;
use dbmon_connector_api::Login;
use dbmon_scrape::{Client, header};
use serde::Deserialize;
use std::{
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

/// The header that carries the session.
const SESSION_HEADER: &str = "X-Cockroach-API-Session";
/// Pages of the node list read at most (a page is 1,000 nodes or so by default).
const MAX_PAGES: usize = 100;

/// A node's liveness, as `liveness_status` numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// 0.
    Unknown,
    /// 1.
    Dead,
    /// 2.
    Unavailable,
    /// 3.
    Live,
    /// 4.
    Decommissioning,
    /// 5.
    Decommissioned,
    /// 6.
    Draining,
}

impl Liveness {
    fn from_code(code: i64) -> Liveness {
        match code {
            1 => Liveness::Dead,
            2 => Liveness::Unavailable,
            3 => Liveness::Live,
            4 => Liveness::Decommissioning,
            5 => Liveness::Decommissioned,
            6 => Liveness::Draining,
            _ => Liveness::Unknown,
        }
    }

    /// Reads a number, or a name (`LIVE`, `NODE_STATUS_LIVE`) should a version print one.
    fn from_json(value: &serde_json::Value) -> Liveness {
        if let Some(code) = value.as_i64() {
            return Liveness::from_code(code);
        }
        let name = value.as_str().unwrap_or_default();
        let name = name.trim_start_matches("NODE_STATUS_");
        let code = ["UNKNOWN", "DEAD", "UNAVAILABLE", "LIVE", "DECOMMISSIONING"]
            .iter()
            .chain(&["DECOMMISSIONED", "DRAINING"])
            .position(|n| n.eq_ignore_ascii_case(name));
        Liveness::from_code(code.map_or(0, |c| c as i64))
    }
}

/// One node of the API's list.
#[derive(Debug, Clone)]
pub struct ApiNode {
    /// Its id.
    pub node_id: u64,
    /// Its RPC address.
    pub address: Option<String>,
    /// Its version.
    pub build_tag: Option<String>,
    /// Memory of its machine (or cgroup), bytes.
    pub total_system_memory: Option<f64>,
    /// Its liveness.
    pub liveness: Liveness,
}

#[derive(Deserialize)]
struct NodesPage {
    #[serde(default)]
    nodes: Vec<NodeJson>,
    #[serde(default)]
    next: Option<u64>,
}

#[derive(Deserialize)]
struct NodeJson {
    node_id: u64,
    #[serde(default)]
    address: Option<AddressJson>,
    #[serde(default)]
    build_tag: Option<String>,
    #[serde(default)]
    total_system_memory: Option<f64>,
    #[serde(default)]
    liveness_status: serde_json::Value,
}

#[derive(Deserialize)]
struct AddressJson {
    #[serde(default)]
    address_field: String,
}

#[derive(Deserialize)]
struct LoginJson {
    session: String,
}

/// Why the node list could not be had.
#[derive(Debug)]
pub enum ApiError {
    /// The credentials or the user's role: asking another node will not help.
    Refused(String),
    /// This node did not answer properly: another node may.
    Failed(String),
}

/// The API client of one cluster; the session lives as long as the connector instance.
pub struct Api {
    credentials: Login,
    session: Mutex<Option<String>>,
    /// The endpoint that answered last, tried first next time.
    preferred: Mutex<usize>,
}

impl Api {
    /// A client that logs in with `credentials`.
    pub fn new(credentials: Login) -> Api {
        Api {
            credentials,
            session: Mutex::new(None),
            preferred: Mutex::new(0),
        }
    }

    /// Every node of the cluster, asking the endpoints in turn (the one that answered last
    /// first), each with a fair share of the time left.
    pub async fn nodes(
        &self,
        client: &Client,
        endpoints: &[Endpoint],
        deadline: Instant,
        max: usize,
    ) -> Result<Vec<ApiNode>, String> {
        let first = *self
            .preferred
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            % endpoints.len();
        let order = (0..endpoints.len()).map(|i| (first + i) % endpoints.len());
        let mut failures = Vec::new();
        for (tried, index) in order.enumerate() {
            let left = (endpoints.len() - tried) as u32;
            let share = deadline.saturating_duration_since(Instant::now()) / left;
            let until = Instant::now() + share.max(Duration::from_millis(1));
            match self.list(client, &endpoints[index], until, max).await {
                Ok(nodes) => {
                    *self
                        .preferred
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = index;
                    return Ok(nodes);
                }
                Err(ApiError::Refused(why)) => return Err(why),
                Err(ApiError::Failed(why)) => {
                    failures.push(format!("{}: {why}", endpoints[index].url))
                }
            }
        }
        Err(failures.join("; "))
    }

    async fn list(
        &self,
        client: &Client,
        endpoint: &Endpoint,
        deadline: Instant,
        max: usize,
    ) -> Result<Vec<ApiNode>, ApiError> {
        let mut nodes = Vec::new();
        let mut offset = 0;
        for _ in 0..MAX_PAGES {
            let page = self.page(client, endpoint, offset, deadline, max).await?;
            nodes.extend(page.nodes.into_iter().map(|n| ApiNode {
                node_id: n.node_id,
                address: n.address.map(|a| a.address_field).filter(|a| !a.is_empty()),
                build_tag: n.build_tag.filter(|t| !t.is_empty()),
                total_system_memory: n.total_system_memory.filter(|m| *m > 0.0),
                liveness: Liveness::from_json(&n.liveness_status),
            }));
            match page.next {
                Some(next) if next > offset => offset = next,
                _ => break,
            }
        }
        Ok(nodes)
    }

    /// One page of `/api/v2/nodes/`, logging in first when there is no session, and again
    /// once when the session is refused.
    async fn page(
        &self,
        client: &Client,
        endpoint: &Endpoint,
        offset: u64,
        deadline: Instant,
        max: usize,
    ) -> Result<NodesPage, ApiError> {
        let url = match offset {
            0 => endpoint.at("/api/v2/nodes/"),
            n => endpoint.at(&format!("/api/v2/nodes/?offset={n}")),
        };
        for attempt in 0..2 {
            let session = self
                .session
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            let session = match session {
                Some(s) => s,
                None => self.login(client, endpoint, deadline, max).await?,
            };
            let request = client.get(&url).header(SESSION_HEADER, &session);
            let fetched = dbmon_scrape::send(request, &url, deadline, max)
                .await
                .map_err(|e| ApiError::Failed(format!("GET /api/v2/nodes/: {}", cause(&e))))?;
            match fetched.status {
                200 => {
                    return serde_json::from_str(&fetched.body).map_err(|e| {
                        ApiError::Failed(format!("GET /api/v2/nodes/: not a node list: {e}"))
                    });
                }
                401 if attempt == 0 => {
                    tracing::debug!(endpoint = %endpoint.url, "API session refused; logging in again");
                    *self.session.lock().unwrap_or_else(PoisonError::into_inner) = None;
                }
                403 => {
                    return Err(ApiError::Refused(format!(
                        "user '{}' may not list nodes (HTTP 403): the nodes API needs the admin role",
                        self.credentials.username
                    )));
                }
                status => {
                    return Err(ApiError::Failed(format!(
                        "GET /api/v2/nodes/: HTTP {status}: {}",
                        self.scrub(&excerpt(&fetched.body, 200))
                    )));
                }
            }
        }
        Err(ApiError::Failed(
            "GET /api/v2/nodes/: HTTP 401 right after a new login".into(),
        ))
    }

    async fn login(
        &self,
        client: &Client,
        endpoint: &Endpoint,
        deadline: Instant,
        max: usize,
    ) -> Result<String, ApiError> {
        let url = endpoint.at("/api/v2/login/");
        let user = &self.credentials.username;
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("username", user)
            .append_pair("password", &self.credentials.password)
            .finish();
        let request = client
            .post(&url)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form);
        let fetched = dbmon_scrape::send(request, &url, deadline, max)
            .await
            .map_err(|e| ApiError::Failed(format!("POST /api/v2/login/: {}", cause(&e))))?;
        let text = || self.scrub(&excerpt(&fetched.body, 200));
        match fetched.status {
            200 => {}
            401 => {
                return Err(ApiError::Refused(format!(
                    "login as '{user}' refused (HTTP 401): {}; check auth.username and the password",
                    text()
                )));
            }
            404 => {
                return Err(ApiError::Refused(
                    "POST /api/v2/login/: HTTP 404: this node serves no nodes API \
                     (CockroachDB before v21.1 has none)"
                        .into(),
                ));
            }
            status => {
                return Err(ApiError::Failed(format!(
                    "POST /api/v2/login/ as '{user}': HTTP {status}: {}",
                    text()
                )));
            }
        }
        let session = serde_json::from_str::<LoginJson>(&fetched.body)
            .map(|l| l.session)
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                ApiError::Failed("POST /api/v2/login/: the answer has no session".into())
            })?;
        tracing::debug!(endpoint = %endpoint.url, user = %user, "logged in to the nodes API");
        *self.session.lock().unwrap_or_else(PoisonError::into_inner) = Some(session.clone());
        Ok(session)
    }

    /// A server's text with the password blanked, should a server ever echo it.
    fn scrub(&self, text: &str) -> String {
        match self.credentials.password.as_str() {
            "" => text.to_string(),
            password => text.replace(password, "<redacted>"),
        }
    }
}
