//! Asks every node at once for its `/health?ready=1`, then its `/_status/vars`, each request
//! bounded by the collection's deadline, so that a slow or dead node costs a reason and not
//! the report.

use crate::options::{Endpoint, Settings};
use crate::vars::{self, NodeVars};
use dbmon_scrape::{Client, FetchError};
use std::{fmt, time::Instant};

/// What one endpoint answered.
#[derive(Debug)]
pub struct Probe {
    /// Its `/_status/vars`, read.
    pub vars: Result<Scraped, VarsFailure>,
    /// Its `/health?ready=1`.
    pub health: Health,
}

/// A `/_status/vars` that was read.
#[derive(Debug)]
pub struct Scraped {
    /// The figures.
    pub vars: NodeVars,
    /// When the body had arrived (rates are per second between two of these).
    pub at: Instant,
}

/// Why an endpoint's `/_status/vars` could not be used.
#[derive(Debug, Clone)]
pub enum VarsFailure {
    /// No HTTP answer: connection refused, TLS failure, timeout.
    NotAnswering(String),
    /// An answer that is not a CockroachDB `/_status/vars`.
    Refused(String),
}

impl fmt::Display for VarsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VarsFailure::NotAnswering(cause) => write!(f, "not answering: {cause}"),
            VarsFailure::Refused(what) => f.write_str(what),
        }
    }
}

/// The answer of a health endpoint.
#[derive(Debug, Clone)]
pub enum Health {
    /// HTTP 200.
    Ok {
        /// From sending the request to the last byte.
        round_trip_ms: f64,
    },
    /// Another status; CockroachDB answers 503 with a JSON error.
    NotOk {
        /// The HTTP status.
        status: u16,
        /// The error's message, or the start of the body.
        message: String,
        /// From sending the request to the last byte.
        round_trip_ms: f64,
    },
    /// No answer.
    Failed(String),
}

impl Health {
    /// Whether it answered 200.
    pub fn ok(&self) -> bool {
        matches!(self, Health::Ok { .. })
    }

    /// The round trip, when there was an answer.
    pub fn round_trip_ms(&self) -> Option<f64> {
        match self {
            Health::Ok { round_trip_ms } | Health::NotOk { round_trip_ms, .. } => {
                Some(*round_trip_ms)
            }
            Health::Failed(_) => None,
        }
    }
}

/// The gist of a failed request, for a reason: `connection refused`, `no answer within
/// 4500 ms`, `invalid peer certificate: UnknownIssuer`.
pub fn cause(error: &FetchError) -> String {
    match error {
        FetchError::Transport { message, .. } => {
            // TLS failures read best whole: `invalid peer certificate: UnknownIssuer`,
            // `received fatal alert: CertificateRequired`.
            let segments: Vec<&str> = message.split(": ").collect();
            let tls = segments.iter().position(|s| {
                let s = s.to_ascii_lowercase();
                s.contains("certificate") || s.contains("fatal alert")
            });
            if let Some(at) = tls {
                return segments[at..].join(": ");
            }
            let last = segments.last().copied().unwrap_or(message);
            let last = last.split(" (os error").next().unwrap_or(last);
            let mut chars = last.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => message.clone(),
            }
        }
        FetchError::Timeout { after_ms, .. } => format!("no answer within {after_ms} ms"),
        other => other.to_string(),
    }
}

/// The first `max` characters of a body, on one line.
pub fn excerpt(body: &str, max: usize) -> String {
    let text: String = body.chars().take(max).collect();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// GETs a health endpoint.
pub async fn health(client: &Client, url: &str, deadline: Instant, max: usize) -> Health {
    match dbmon_scrape::get(client, url, deadline, max).await {
        Err(e) => Health::Failed(cause(&e)),
        Ok(f) => {
            let round_trip_ms = f.elapsed.as_secs_f64() * 1e3;
            if f.status == 200 {
                return Health::Ok { round_trip_ms };
            }
            let json: Option<serde_json::Value> = serde_json::from_str(&f.body).ok();
            let field = |name: &str| {
                json.as_ref()
                    .and_then(|j| j.get(name))
                    .and_then(|v| v.as_str())
                    .filter(|s| !s.is_empty())
                    .map(String::from)
            };
            let message = field("message")
                .or_else(|| field("error"))
                .unwrap_or_else(|| excerpt(&f.body, 200));
            Health::NotOk {
                status: f.status,
                message,
                round_trip_ms,
            }
        }
    }
}

async fn scrape(
    client: &Client,
    endpoint: &Endpoint,
    deadline: Instant,
    max: usize,
) -> Result<Scraped, VarsFailure> {
    let url = endpoint.at("/_status/vars");
    let fetched = dbmon_scrape::get(client, &url, deadline, max)
        .await
        .map_err(|e| match e {
            FetchError::TooLarge { .. } | FetchError::NotText { .. } => {
                VarsFailure::Refused(e.to_string())
            }
            FetchError::Transport { not_http: true, .. } => VarsFailure::Refused(format!(
                "GET /_status/vars: the port does not speak HTTP ({})",
                cause(&e)
            )),
            e => VarsFailure::NotAnswering(cause(&e)),
        })?;
    let at = Instant::now();
    if fetched.status != 200 {
        return Err(VarsFailure::Refused(format!(
            "GET /_status/vars: HTTP {}: {}",
            fetched.status,
            excerpt(&fetched.body, 200)
        )));
    }
    let vars = vars::parse(&fetched.body).map_err(|e| VarsFailure::Refused(e.to_string()))?;
    Ok(Scraped { vars, at })
}

/// Probes one endpoint: its health, then its vars, one after the other over one kept
/// connection. Asked at once, they kept two connections per endpoint open between
/// collections, ~40 KB of HTTP client state each (8 MB at 200 clusters, BENCHMARKS.md §9), to
/// save one small round trip.
pub async fn probe(client: &Client, endpoint: &Endpoint, deadline: Instant, max: usize) -> Probe {
    let ready = endpoint.at("/health?ready=1");
    let health = health(client, &ready, deadline, max).await;
    let vars = scrape(client, endpoint, deadline, max).await;
    Probe { vars, health }
}

/// Probes every endpoint at once; the answers are in the endpoints' order.
pub async fn probe_all(client: &Client, settings: &Settings, deadline: Instant) -> Vec<Probe> {
    let max = settings.max_body_bytes;
    let probes = settings
        .endpoints
        .iter()
        .map(|endpoint| probe(client, endpoint, deadline, max));
    futures::future::join_all(probes).await
}
