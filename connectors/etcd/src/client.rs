//! HTTP calls to members, with etcd authentication: a token from `POST /v3/auth/authenticate`
//! is sent as `Authorization` and kept between collections (each authentication is a raft
//! write and a bcrypt check on the server); a call refused for its token gets a fresh one and
//! is sent once more. Neither the password nor the token is ever logged or put in a message.

use crate::api::{self, ErrorBody, Token};
use dbmon_connector_api::Login;
use dbmon_scrape::Client;
use serde::de::DeserializeOwned;
use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

/// Bodies larger than this are refused (a member's `/metrics` is about 200 KB).
const MAX_BODY_BYTES: usize = 16 << 20;

/// The HTTP client and credentials of one cluster.
pub struct Api {
    http: Client,
    credentials: Option<Login>,
    /// The token of the last collection, reused by the next one.
    token: Mutex<Option<String>>,
}

/// One collection's use of the API.
pub struct Session<'a> {
    api: &'a Api,
    deadline: Instant,
    token: tokio::sync::Mutex<TokenState>,
}

#[derive(Default)]
struct TokenState {
    token: Option<String>,
    /// A token is fetched at most twice per collection (start, and once more when refused).
    refreshed: bool,
    /// Why authentication failed, for the report.
    failure: Option<String>,
}

/// A failed call: what to tell the operator, and whether etcd refused the token.
struct Failure {
    text: String,
    token_refused: bool,
}

impl Api {
    /// The API of a cluster reached with `http`, authenticating with `credentials`.
    pub fn new(http: Client, credentials: Option<Login>) -> Api {
        Api {
            http,
            credentials,
            token: Mutex::new(None),
        }
    }

    /// Starts a collection that ends at `deadline`; authenticates first (at whichever of
    /// `endpoints` answers first) when there are credentials and no token yet.
    pub async fn session(&self, endpoints: &[String], deadline: Instant) -> Session<'_> {
        let cached = self.token.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut session = Session {
            api: self,
            deadline,
            token: tokio::sync::Mutex::new(TokenState {
                token: cached,
                ..TokenState::default()
            }),
        };
        if self.credentials.is_some() && session.token.get_mut().token.is_none() {
            let (token, failure) = session.authenticate(endpoints).await;
            let state = session.token.get_mut();
            (state.token, state.failure) = (token, failure);
        }
        session
    }
}

impl Session<'_> {
    /// Why authentication failed in this collection, if it did; keeps the token for the next.
    pub fn finish(self) -> Option<String> {
        let state = self.token.into_inner();
        *self.api.token.lock().unwrap_or_else(|e| e.into_inner()) = state.token;
        state.failure
    }

    /// POSTs `body` to `base` + `path` and parses the answer; the time the call took.
    pub async fn post<T: DeserializeOwned>(
        &self,
        base: &str,
        path: &str,
        body: &str,
    ) -> Result<(T, Duration), String> {
        let sent = self.token.lock().await.token.clone();
        let deadline = self.deadline;
        match self
            .post_with(base, path, body, sent.as_deref(), deadline)
            .await
        {
            Err(failure) if failure.token_refused && sent.is_some() => {
                let fresh = self.refresh(base, sent.as_deref()).await;
                self.post_with(base, path, body, fresh.as_deref(), deadline)
                    .await
                    .map_err(|f| f.text)
            }
            other => other.map_err(|f| f.text),
        }
    }

    /// GETs `base` + `path` as text (`/health`, `/metrics` need no token); an error unless
    /// the answer is a 200.
    pub async fn get(&self, base: &str, path: &str) -> Result<String, String> {
        let (status, body) = self.fetch(base, path).await?;
        if status != 200 {
            return Err(http_error("GET", &format!("{base}{path}"), status, &body).text);
        }
        Ok(body)
    }

    /// GETs `base` + `path`: the HTTP status and the body, whatever the status.
    pub async fn fetch(&self, base: &str, path: &str) -> Result<(u16, String), String> {
        let url = format!("{base}{path}");
        let fetched = dbmon_scrape::get(&self.api.http, &url, self.deadline, MAX_BODY_BYTES)
            .await
            .map_err(|e| e.reason("GET"))?;
        Ok((fetched.status, fetched.body))
    }

    async fn post_with<T: DeserializeOwned>(
        &self,
        base: &str,
        path: &str,
        body: &str,
        token: Option<&str>,
        deadline: Instant,
    ) -> Result<(T, Duration), Failure> {
        let url = format!("{base}{path}");
        let mut request = self
            .api
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(token) = token {
            request = request.header("authorization", token);
        }
        let fetched = dbmon_scrape::send(request, &url, deadline, MAX_BODY_BYTES)
            .await
            .map_err(|e| Failure {
                text: e.reason("POST"),
                token_refused: false,
            })?;
        if fetched.status != 200 {
            return Err(http_error("POST", &url, fetched.status, &fetched.body));
        }
        let parsed = api::parse(&fetched.body).map_err(|e| Failure {
            text: format!("POST {url}: {e}"),
            token_refused: false,
        })?;
        Ok((parsed, fetched.elapsed))
    }

    /// A new token after `refused` was refused, fetched once per collection.
    async fn refresh(&self, base: &str, refused: Option<&str>) -> Option<String> {
        // Held while authenticating: the other refused calls wait for the new token.
        let mut state = self.token.lock().await;
        if state.token.as_deref() == refused && !state.refreshed {
            state.refreshed = true;
            let (token, failure) = self.authenticate(&[base.to_string()]).await;
            (state.token, state.failure) = (token, failure);
        }
        state.token.clone()
    }

    /// Asks the endpoints in turn for a token, moving on only when one cannot be reached: every
    /// authentication is a raft write and a bcrypt check on the server, so one is asked at a
    /// time. A cluster without leader never answers: authentication gets a third of the time
    /// left, and the collection goes on without a token. When none comes, the failure is etcd's
    /// own answer if one came (a wrong password), else the first transport error.
    /// "Authentication is not enabled" is no failure: calls go without token.
    async fn authenticate(&self, endpoints: &[String]) -> (Option<String>, Option<String>) {
        let Some(credentials) = &self.api.credentials else {
            return (None, None);
        };
        let body = serde_json::json!({
            "name": credentials.username,
            "password": credentials.password,
        })
        .to_string();
        let deadline = Instant::now() + self.deadline.saturating_duration_since(Instant::now()) / 3;
        let mut answered: Option<String> = None;
        let mut unreachable: Option<String> = None;
        let mut token = None;
        for base in endpoints {
            let attempt = self
                .post_with::<Token>(base, "/v3/auth/authenticate", &body, None, deadline)
                .await;
            match attempt {
                Ok((answer, _)) if !answer.token.is_empty() => {
                    token = Some(answer.token);
                    break;
                }
                Ok(_) => {
                    answered = Some("etcd answered without a token".into());
                    break;
                }
                Err(f) if f.text.contains("authentication is not enabled") => {
                    answered = None;
                    unreachable = None;
                    break;
                }
                Err(f) if f.text.contains("etcd says") => {
                    answered = Some(f.text);
                    break;
                }
                Err(f) => {
                    unreachable.get_or_insert(f.text);
                }
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        let failure = answered.or(unreachable).map(|why| {
            format!(
                "cannot authenticate as etcd user '{}': {why}",
                credentials.username
            )
        });
        (token, failure)
    }
}

/// A non-200 answer: etcd's own message when it sent one, else the status and the body's start.
fn http_error(method: &str, url: &str, status: u16, body: &str) -> Failure {
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(error) => Failure {
            token_refused: error.message.contains("invalid auth token")
                || error.message.contains("auth store is old"),
            text: format!(
                "{method} {url}: etcd says: {} (HTTP {status}, gRPC code {})",
                error.message, error.code
            ),
        },
        Err(_) => {
            let excerpt: String = body.chars().take(120).collect();
            Failure {
                text: format!("{method} {url}: HTTP {status}: {}", excerpt.trim()),
                token_refused: false,
            }
        }
    }
}
