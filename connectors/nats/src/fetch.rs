//! One collection's questions, every server at once and each of its endpoints at once, each
//! call bounded by the deadline: `/varz`, `/routez`, `/connz?sort=pending&limit=1`, `/healthz`
//! and, unless `jetstream: off`, `/jsz?accounts=true&streams=true&consumers=true`.

use crate::api::{self, Connz, Healthz, Jsz, Routez, Varz};
use dbmon_connector_api::Login;
use dbmon_scrape::Client;
use futures::future::join_all;
use serde::de::DeserializeOwned;
use std::time::{Duration, Instant};

/// Bodies larger than this are refused (`/jsz` with every consumer of a large server is the
/// largest answer; a stream and a consumer take about 1.5 KB of it).
const MAX_BODY_BYTES: usize = 32 << 20;

/// The `/jsz` query: every account's streams with their consumers, without their configs.
pub const JSZ_PATH: &str = "/jsz?accounts=true&streams=true&consumers=true";
/// The `/connz` query: the count, and the connection with the most bytes pending.
pub const CONNZ_PATH: &str = "/connz?sort=pending&limit=1";

/// What one monitoring URL answered.
#[derive(Debug)]
pub struct Probe {
    /// The monitoring URL asked.
    pub url: String,
    /// `/varz` and how long it took: the node is up when this answered.
    pub varz: Result<(Varz, Duration), String>,
    /// `/routez`.
    pub routez: Result<Routez, String>,
    /// `/connz`.
    pub connz: Result<Connz, String>,
    /// `/healthz`: Ok when it says `ok`, else what it says.
    pub healthz: Result<(), String>,
    /// `/jsz`; `None` with `jetstream: off`.
    pub jsz: Option<Result<Jsz, String>>,
}

impl Probe {
    /// The `/varz` answer, if any.
    pub fn varz(&self) -> Option<&Varz> {
        self.varz.as_ref().ok().map(|(v, _)| v)
    }

    /// The `/jsz` answer, if any.
    pub fn jsz(&self) -> Option<&Jsz> {
        self.jsz.as_ref()?.as_ref().ok()
    }
}

/// The HTTP side of one cluster.
pub struct Fetcher {
    /// The cluster's client (its `tls:`).
    pub http: Client,
    /// Basic authentication, when `auth:` is set.
    pub credentials: Option<Login>,
}

impl Fetcher {
    /// Asks every endpoint.
    pub async fn probe_all(
        &self,
        endpoints: &[String],
        jsz: bool,
        deadline: Instant,
    ) -> Vec<Probe> {
        join_all(endpoints.iter().map(|url| self.probe(url, jsz, deadline))).await
    }

    async fn probe(&self, url: &str, with_jsz: bool, deadline: Instant) -> Probe {
        let varz = async {
            let (status, body, took) = self.fetch(url, "/varz", deadline).await?;
            ok_status(url, "/varz", status, &body)?;
            let varz: Varz = parsed(url, "/varz", &body)?;
            if varz.server_id.is_empty() {
                return Err(format!(
                    "GET {url}/varz: not a nats-server answer (no server_id)"
                ));
            }
            Ok((varz, took))
        };
        let routez = self.json::<Routez>(url, "/routez", deadline);
        let connz = self.json::<Connz>(url, CONNZ_PATH, deadline);
        let healthz = async {
            // 503 with the reason when unhealthy: the body counts, not the status.
            let (status, body, _) = self.fetch(url, "/healthz", deadline).await?;
            let health: Healthz =
                parsed(url, "/healthz", &body).map_err(|e| format!("{e} (HTTP {status})"))?;
            match (health.status.as_str(), health.error.as_str()) {
                ("ok", _) => Ok(()),
                (said, "") => Err(format!("/healthz says {said} (HTTP {status})")),
                (said, why) => Err(format!("/healthz says {said}: {why} (HTTP {status})")),
            }
        };
        let jsz = async {
            match with_jsz {
                true => Some(self.json::<Jsz>(url, JSZ_PATH, deadline).await),
                false => None,
            }
        };
        let (varz, routez, connz, healthz, jsz) = futures::join!(varz, routez, connz, healthz, jsz);
        Probe {
            url: url.to_string(),
            varz,
            routez,
            connz,
            healthz,
            jsz,
        }
    }

    /// GETs `path` as JSON; an error unless the answer is a 200.
    async fn json<T: DeserializeOwned>(
        &self,
        base: &str,
        path: &str,
        deadline: Instant,
    ) -> Result<T, String> {
        let (status, body, _) = self.fetch(base, path, deadline).await?;
        ok_status(base, path, status, &body)?;
        parsed(base, path, &body)
    }

    /// GETs `base` + `path`: status, body and the time it took, whatever the status.
    async fn fetch(
        &self,
        base: &str,
        path: &str,
        deadline: Instant,
    ) -> Result<(u16, String, Duration), String> {
        let url = format!("{base}{path}");
        let mut request = self.http.get(&url);
        if let Some(login) = &self.credentials {
            request = request.basic_auth(&login.username, Some(&login.password));
        }
        let fetched = dbmon_scrape::send(request, &url, deadline, MAX_BODY_BYTES)
            .await
            .map_err(|e| e.reason("GET"))?;
        Ok((fetched.status, fetched.body, fetched.elapsed))
    }
}

fn ok_status(base: &str, path: &str, status: u16, body: &str) -> Result<(), String> {
    if status == 200 {
        return Ok(());
    }
    let excerpt: String = body.chars().take(120).collect();
    Err(format!(
        "GET {base}{path}: HTTP {status}: {}",
        excerpt.trim()
    ))
}

fn parsed<T: DeserializeOwned>(base: &str, path: &str, body: &str) -> Result<T, String> {
    api::parse(body).map_err(|e| format!("GET {base}{path}: {e}"))
}
