//! The loopback scrape targets the benchmarks serve from their own process: one body per
//! target (a different CockroachDB-like node each, by default), rendered anew for every scrape,
//! and a count of what was asked, kept here so that it means the same whichever tool scrapes.
//!
//! Target `i` answers `/{i}/_status/vars` on the server it sits on; with one server per target
//! it also answers the bare paths, `/_status/vars` and `/health` (as a CockroachDB node does,
//! so that the `cockroachdb` connector and Prometheus-style `host:port` targets work too).

use crate::body::{self, Template};
use dbmon_test_support::{HttpServer, Reply};
use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

/// One template per target: target `i` is node `i + 1`, or every target node 1 when
/// `same_series`.
pub fn templates(
    kind: body::Kind,
    targets: usize,
    changing_percent: u32,
    same_series: bool,
) -> Vec<Arc<Template>> {
    let distinct = if same_series { 1 } else { targets.max(1) };
    let texts: Vec<String> = (0..distinct.min(targets.max(1)))
        .map(|i| body::text(kind, i as u32 + 1))
        .collect();
    (0..targets)
        .map(|i| {
            Arc::new(Template::new(
                texts[i % texts.len()].clone(),
                changing_percent,
            ))
        })
        .collect()
}

/// What the targets were asked, counted as the requests arrive.
pub struct Counts {
    /// `/_status/vars` requests per target.
    vars: Vec<AtomicU64>,
    /// `/health` requests (the `cockroachdb` connector's readiness probe), all targets.
    health: AtomicU64,
    /// Anything else (answered 404).
    other: AtomicU64,
}

/// A reading of [`Counts`].
#[derive(Clone, Debug, Default)]
pub struct Served {
    /// `/_status/vars` requests per target.
    pub vars: Vec<u64>,
    /// `/health` requests.
    pub health: u64,
    /// Other requests.
    pub other: u64,
}

impl Served {
    /// `/_status/vars` requests, all targets.
    pub fn collections(&self) -> u64 {
        self.vars.iter().sum()
    }

    /// What was served between `earlier` and this reading.
    pub fn since(&self, earlier: &Served) -> Served {
        Served {
            vars: self
                .vars
                .iter()
                .zip(&earlier.vars)
                .map(|(b, a)| b - a)
                .collect(),
            health: self.health - earlier.health,
            other: self.other - earlier.other,
        }
    }

    /// The fewest and the most `/_status/vars` requests of one target.
    pub fn per_target_range(&self) -> (u64, u64) {
        let min = self.vars.iter().copied().min().unwrap_or(0);
        let max = self.vars.iter().copied().max().unwrap_or(0);
        (min, max)
    }
}

/// The running targets; they stop when dropped.
pub struct Targets {
    servers: Vec<HttpServer>,
    per_server: usize,
    counts: Arc<Counts>,
}

impl Targets {
    /// Serves `templates` from `servers` loopback servers (clamped to 1..=targets), inside the
    /// current tokio runtime.
    pub async fn start(templates: &[Arc<Template>], servers: usize) -> Targets {
        let targets = templates.len();
        let count = servers.clamp(1, targets.max(1));
        let per_server = targets.div_ceil(count).max(1);
        let all: Arc<[Arc<Template>]> = templates.into();
        let counts = Arc::new(Counts {
            vars: (0..targets).map(|_| AtomicU64::new(0)).collect(),
            health: AtomicU64::new(0),
            other: AtomicU64::new(0),
        });
        let mut started = Vec::with_capacity(count);
        for k in 0..count {
            let server = HttpServer::start().await;
            let all = Arc::clone(&all);
            let counts = Arc::clone(&counts);
            // With one server per target, the bare paths are that target's.
            let home = (per_server == 1).then_some(k);
            server.set_handler(move |request| {
                let (index, rest) = route(&request.path, home)?;
                let template = all.get(index)?;
                if rest.starts_with("/_status/vars") || (home.is_none() && rest.is_empty()) {
                    counts.vars[index].fetch_add(1, Ordering::Relaxed);
                    Some(Reply {
                        body: Arc::new(template.render()),
                        ..Reply::text("")
                    })
                } else if rest.starts_with("/health") {
                    counts.health.fetch_add(1, Ordering::Relaxed);
                    Some(Reply::json("{}"))
                } else {
                    counts.other.fetch_add(1, Ordering::Relaxed);
                    None
                }
            });
            started.push(server);
        }
        Targets {
            servers: started,
            per_server,
            counts,
        }
    }

    /// Target `i`'s URL for `path` (`/_status/vars`): `http://127.0.0.1:PORT/{i}{path}`, or
    /// without the `/{i}` prefix when each target has its own server and `bare`.
    pub fn url(&self, i: usize, path: &str, bare: bool) -> String {
        let server = &self.servers[i / self.per_server];
        if bare && self.per_server == 1 {
            server.url(path)
        } else {
            server.url(&format!("/{i}{path}"))
        }
    }

    /// Target `i`'s `host:port`.
    pub fn addr(&self, i: usize) -> std::net::SocketAddr {
        self.servers[i / self.per_server].addr
    }

    /// Targets served.
    pub fn len(&self) -> usize {
        self.counts.vars.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.counts.vars.is_empty()
    }

    /// What has been served so far.
    pub fn served(&self) -> Served {
        Served {
            vars: self
                .counts
                .vars
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
            health: self.counts.health.load(Ordering::Relaxed),
            other: self.counts.other.load(Ordering::Relaxed),
        }
    }
}

/// The target a request path is for and the rest of the path: `/{i}/...` names target `i`;
/// any other path is `home`'s, when the server has one.
fn route(path: &str, home: Option<usize>) -> Option<(usize, &str)> {
    let prefixed = path.strip_prefix('/').and_then(|p| {
        let digits = p.find(|c: char| !c.is_ascii_digit()).unwrap_or(p.len());
        let index = p[..digits].parse().ok()?;
        Some((index, &p[digits..]))
    });
    match prefixed {
        Some(found) => Some(found),
        None => Some((home?, path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_prefixed_and_bare_paths() {
        assert_eq!(route("/12/_status/vars", None), Some((12, "/_status/vars")));
        assert_eq!(route("/3", None), Some((3, "")));
        assert_eq!(route("/_status/vars", None), None);
        assert_eq!(route("/_status/vars", Some(4)), Some((4, "/_status/vars")));
        assert_eq!(
            route("/health?ready=1", Some(0)),
            Some((0, "/health?ready=1"))
        );
    }

    #[tokio::test]
    async fn counts_what_each_target_serves() {
        let templates = templates(body::Kind::Small, 2, 50, false);
        let targets = Targets::start(&templates, 2).await;
        assert_eq!(
            targets.url(1, "/_status/vars", true),
            format!("http://{}/_status/vars", targets.addr(1))
        );
        assert_eq!(targets.served().collections(), 0);
        assert_eq!(targets.len(), 2);
    }
}
