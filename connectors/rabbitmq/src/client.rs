//! GETs of the management API with basic authentication, bounded in size and by the
//! collection's deadline. The password goes in the `Authorization` header only: never in a
//! message or a log line.

use crate::api::{self, ErrorBody};
use dbmon_connector_api::Login;
use dbmon_scrape::Client;
use serde::de::DeserializeOwned;
use std::time::{Duration, Instant};

/// Bodies larger than this are refused: the connector asks for bounded answers (`columns=`, one
/// page of at most 500 queues), so anything near it is not what was asked.
const MAX_BODY_BYTES: usize = 8 << 20;

/// The HTTP client and login of one cluster.
pub struct Api {
    http: Client,
    login: Login,
}

/// A call that failed, in words that name the URL.
#[derive(Debug, Clone)]
pub struct Failure {
    /// What to tell the operator.
    pub text: String,
    /// The answer was an HTTP 404: the API lacks the path (an older RabbitMQ).
    pub not_found: bool,
}

impl Api {
    /// The API reached with `http`, logging in as `login`.
    pub fn new(http: Client, login: Login) -> Api {
        Api { http, login }
    }

    /// The user logging in, for messages.
    pub fn user(&self) -> &str {
        &self.login.username
    }

    /// GETs `base` + `path` and parses a 200 answer; the time the call took.
    pub async fn get<T: DeserializeOwned>(
        &self,
        base: &str,
        path: &str,
        deadline: Instant,
    ) -> Result<(T, Duration), Failure> {
        self.get_accepting(base, path, deadline, &[200]).await
    }

    /// GETs `base` + `path` and parses the answer when its status is one of `accepted`
    /// (a health check answers 503 with its findings).
    pub async fn get_accepting<T: DeserializeOwned>(
        &self,
        base: &str,
        path: &str,
        deadline: Instant,
        accepted: &[u16],
    ) -> Result<(T, Duration), Failure> {
        let url = format!("{base}{path}");
        let request = self
            .http
            .get(&url)
            .basic_auth(&self.login.username, Some(&self.login.password));
        // Shown without the query: the column lists are long and say nothing to an operator.
        let shown = url.split('?').next().unwrap_or(&url);
        let fetched = dbmon_scrape::send(request, shown, deadline, MAX_BODY_BYTES)
            .await
            .map_err(|e| Failure {
                text: e.reason("GET"),
                not_found: false,
            })?;
        if !accepted.contains(&fetched.status) {
            return Err(self.http_error(shown, fetched.status, &fetched.body));
        }
        let parsed = api::parse(&fetched.body).map_err(|e| Failure {
            text: format!("GET {shown}: {e}"),
            not_found: false,
        })?;
        Ok((parsed, fetched.elapsed))
    }

    /// A non-accepted answer: RabbitMQ's own words when it sent some.
    fn http_error(&self, url: &str, status: u16, body: &str) -> Failure {
        let said = match serde_json::from_str::<ErrorBody>(body) {
            Ok(e) if !e.error.is_empty() || !e.reason.is_empty() => {
                format!("{}: {}", e.error, e.reason)
            }
            _ => body
                .chars()
                .take(120)
                .collect::<String>()
                .trim()
                .to_string(),
        };
        let hint = match status {
            401 => format!(
                " (user '{}': a wrong password, or a user without the monitoring or management tag)",
                self.login.username
            ),
            _ => String::new(),
        };
        Failure {
            text: format!("GET {url}: HTTP {status}: {said}{hint}"),
            not_found: status == 404,
        }
    }
}
