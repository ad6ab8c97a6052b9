//! The few etcd v3 calls the coordination needs, through etcd's JSON gateway (`POST /v3/...`,
//! served by every etcd since 3.4 on its client port): lease grant, keep-alive and revoke, put,
//! range, delete and watch; with etcd authentication (a token from `/v3/auth/authenticate`,
//! sent as `Authorization`, renewed once when etcd refuses it). The TLS settings are the
//! connectors' (`dbmon_scrape::client_config`), so `coordination.tls` means what a cluster's
//! `tls:` means. Neither the password nor the token is ever logged or put in a message.
//!
//! Each call goes to the endpoint that answered last, then to the others in turn.

use base64::{Engine, engine::general_purpose::STANDARD as B64};
use dbmon_connector_api::{AuthConfig, TlsConfig};
use serde::Deserialize;
use serde_json::{Value, json};
use std::{
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

/// Largest answer read from a unary call (a range of a few thousand collector keys).
const MAX_ANSWER_BYTES: usize = 16 << 20;

/// Why a call failed.
#[derive(Debug, Clone)]
pub enum EtcdError {
    /// No endpoint answered (connection refused, timeout, no quorum).
    Unreachable(String),
    /// etcd answered with an error (its gRPC code and message).
    Refused { code: i64, message: String },
}

impl std::fmt::Display for EtcdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EtcdError::Unreachable(why) => write!(f, "etcd unreachable: {why}"),
            EtcdError::Refused { code, message } => {
                write!(f, "etcd refused (code {code}): {message}")
            }
        }
    }
}

impl std::error::Error for EtcdError {}

impl EtcdError {
    /// etcd says the lease does not exist (expired or revoked).
    pub fn lease_not_found(&self) -> bool {
        matches!(self, EtcdError::Refused { message, .. } if message.contains("lease not found"))
    }
}

/// One key as a range or a watch event carries it.
#[derive(Debug, Clone, Default)]
pub struct KeyValue {
    pub key: String,
    pub value: Vec<u8>,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub lease: i64,
}

/// One watch event: a put (`value` set) or a delete.
#[derive(Debug, Clone)]
pub struct Event {
    pub delete: bool,
    pub kv: KeyValue,
}

/// A client of one etcd cluster.
pub struct Client {
    http: reqwest::Client,
    endpoints: Vec<String>,
    /// The endpoint that answered last.
    current: AtomicUsize,
    auth: Option<AuthConfig>,
    token: Mutex<Option<String>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoints", &self.endpoints)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client of `endpoints` (`http(s)://HOST:PORT`); fails only on unreadable TLS files.
    pub fn new(
        endpoints: &[String],
        tls: Option<&TlsConfig>,
        auth: Option<AuthConfig>,
    ) -> Result<Client, String> {
        let tls = dbmon_scrape::client_config(tls).map_err(|e| e.to_string())?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Client {
            http,
            endpoints: endpoints.to_vec(),
            current: AtomicUsize::new(0),
            auth: auth.filter(|a| a.username.is_some()),
            token: Mutex::new(None),
        })
    }

    /// POSTs `body` to `path` on the endpoints in turn, within `timeout` in all; returns the
    /// answer's JSON. A refused token is renewed once.
    pub async fn call(
        &self,
        path: &str,
        body: &Value,
        timeout: Duration,
    ) -> Result<Value, EtcdError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut renewed = false;
        loop {
            match self.call_once(path, body, deadline).await {
                Err(EtcdError::Refused { code, message })
                    if self.auth.is_some() && !renewed && token_refused(code, &message) =>
                {
                    renewed = true;
                    *self.token.lock().unwrap() = None;
                }
                other => return other,
            }
        }
    }

    async fn call_once(
        &self,
        path: &str,
        body: &Value,
        deadline: tokio::time::Instant,
    ) -> Result<Value, EtcdError> {
        let token = self.token(deadline).await?;
        let response = self.send(path, body, token.as_deref(), deadline).await?;
        read_answer(response, deadline).await
    }

    /// Sends to the endpoint that answered last, then to the others; the response of the
    /// first that answers at the HTTP level.
    async fn send(
        &self,
        path: &str,
        body: &Value,
        token: Option<&str>,
        deadline: tokio::time::Instant,
    ) -> Result<reqwest::Response, EtcdError> {
        let n = self.endpoints.len();
        let first = self.current.load(Ordering::Relaxed);
        let mut failures = Vec::new();
        for i in 0..n {
            let index = (first + i) % n;
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                failures.push("out of time".to_string());
                break;
            }
            // Each endpoint gets its share of what is left, so that one that hangs leaves
            // time to the others.
            let share = left / (n - i) as u32;
            let endpoint = &self.endpoints[index];
            let mut request = self
                .http
                .post(format!("{endpoint}{path}"))
                .header("content-type", "application/json")
                .body(body.to_string())
                .timeout(share.max(Duration::from_millis(200)).min(left));
            if let Some(token) = token {
                request = request.header("authorization", token);
            }
            match request.send().await {
                // etcd without quorum answers some calls with 503 or a timeout message:
                // another member may have it.
                Ok(r) if r.status().as_u16() == 503 || r.status().as_u16() == 504 => {
                    failures.push(format!("{endpoint}: HTTP {}", r.status().as_u16()));
                }
                Ok(r) => {
                    self.current.store(index, Ordering::Relaxed);
                    return Ok(r);
                }
                Err(e) => failures.push(format!("{endpoint}: {}", short(&e))),
            }
        }
        Err(EtcdError::Unreachable(failures.join("; ")))
    }

    /// The token to send, authenticating first when there are credentials and none yet.
    async fn token(&self, deadline: tokio::time::Instant) -> Result<Option<String>, EtcdError> {
        let Some(auth) = &self.auth else {
            return Ok(None);
        };
        if let Some(token) = self.token.lock().unwrap().clone() {
            return Ok(Some(token));
        }
        let body = json!({
            "name": auth.username.clone().unwrap_or_default(),
            "password": auth.password.clone().unwrap_or_default(),
        });
        let response = self
            .send("/v3/auth/authenticate", &body, None, deadline)
            .await?;
        let answer = read_answer(response, deadline).await?;
        let token = answer["token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| EtcdError::Refused {
                code: 16,
                message: "authentication gave no token".into(),
            })?
            .to_string();
        *self.token.lock().unwrap() = Some(token.clone());
        Ok(Some(token))
    }

    /// Grants a lease of `ttl`; its id and the TTL etcd gave.
    pub async fn grant(&self, ttl: Duration, timeout: Duration) -> Result<(i64, i64), EtcdError> {
        let answer = self
            .call(
                "/v3/lease/grant",
                &json!({"TTL": ttl.as_secs().to_string()}),
                timeout,
            )
            .await?;
        let id = int(&answer["ID"]);
        if id == 0 {
            return Err(refused(&answer, "lease grant without an ID"));
        }
        Ok((id, int(&answer["TTL"])))
    }

    /// Renews lease `id`; the TTL it has now (0 or less: it is gone).
    pub async fn keep_alive(&self, id: i64, timeout: Duration) -> Result<i64, EtcdError> {
        let answer = self
            .call(
                "/v3/lease/keepalive",
                &json!({"ID": id.to_string()}),
                timeout,
            )
            .await?;
        let result = &answer["result"];
        if result.is_null() {
            return Err(refused(&answer, "keep-alive without a result"));
        }
        Ok(int(&result["TTL"]))
    }

    /// Revokes lease `id` (and so deletes its keys).
    pub async fn revoke(&self, id: i64, timeout: Duration) -> Result<(), EtcdError> {
        self.call("/v3/lease/revoke", &json!({"ID": id.to_string()}), timeout)
            .await
            .map(drop)
    }

    /// Puts `key` = `value` under lease `lease`; the revision of the put.
    pub async fn put(
        &self,
        key: &str,
        value: &[u8],
        lease: i64,
        timeout: Duration,
    ) -> Result<i64, EtcdError> {
        let body =
            json!({"key": B64.encode(key), "value": B64.encode(value), "lease": lease.to_string()});
        let answer = self.call("/v3/kv/put", &body, timeout).await?;
        Ok(int(&answer["header"]["revision"]))
    }

    /// Deletes `key`.
    pub async fn delete(&self, key: &str, timeout: Duration) -> Result<(), EtcdError> {
        let body = json!({"key": B64.encode(key)});
        self.call("/v3/kv/deleterange", &body, timeout)
            .await
            .map(drop)
    }

    /// Every key under `prefix`, and the revision they were read at.
    pub async fn range_prefix(
        &self,
        prefix: &str,
        timeout: Duration,
    ) -> Result<(Vec<KeyValue>, i64), EtcdError> {
        let body = json!({"key": B64.encode(prefix), "range_end": B64.encode(prefix_end(prefix))});
        let answer = self.call("/v3/kv/range", &body, timeout).await?;
        let revision = int(&answer["header"]["revision"]);
        let kvs = answer["kvs"]
            .as_array()
            .map(|kvs| kvs.iter().filter_map(key_value).collect())
            .unwrap_or_default();
        Ok((kvs, revision))
    }

    /// The key `key`, if it exists.
    pub async fn get(&self, key: &str, timeout: Duration) -> Result<Option<KeyValue>, EtcdError> {
        let body = json!({"key": B64.encode(key)});
        let answer = self.call("/v3/kv/range", &body, timeout).await?;
        Ok(answer["kvs"]
            .as_array()
            .and_then(|kvs| kvs.first())
            .and_then(key_value))
    }

    /// Opens a watch of every key under `prefix` from revision `start`; `connect` bounds the
    /// time until etcd confirms it.
    pub async fn watch(
        &self,
        prefix: &str,
        start: i64,
        connect: Duration,
    ) -> Result<Watch, EtcdError> {
        let deadline = tokio::time::Instant::now() + connect;
        let body = json!({"create_request": {
            "key": B64.encode(prefix),
            "range_end": B64.encode(prefix_end(prefix)),
            "start_revision": start.to_string(),
        }});
        let token = self.token(deadline).await?;
        let n = self.endpoints.len();
        let first = self.current.load(Ordering::Relaxed);
        let mut failures = Vec::new();
        for i in 0..n {
            let endpoint = &self.endpoints[(first + i) % n];
            // No timeout on the request: the stream lasts. Only its start is bounded.
            let mut request = self
                .http
                .post(format!("{endpoint}/v3/watch"))
                .header("content-type", "application/json")
                .body(body.to_string());
            if let Some(token) = &token {
                request = request.header("authorization", token.as_str());
            }
            let started = tokio::time::timeout_at(deadline, async {
                let response = request.send().await.map_err(|e| short(&e))?;
                if !response.status().is_success() {
                    return Err(format!("HTTP {}", response.status().as_u16()));
                }
                let mut watch = Watch {
                    response,
                    buffer: Vec::new(),
                };
                // The first message confirms the watch (`created`), or says why not.
                match watch.next_message().await? {
                    m if m["result"]["created"] == json!(true) => Ok(watch),
                    m => Err(format!("watch not created: {}", short_json(&m))),
                }
            })
            .await;
            match started {
                Ok(Ok(watch)) => return Ok(watch),
                Ok(Err(e)) => failures.push(format!("{endpoint}: {e}")),
                Err(_) => {
                    failures.push(format!("{endpoint}: no answer in time"));
                    break;
                }
            }
        }
        Err(EtcdError::Unreachable(failures.join("; ")))
    }
}

/// An open watch stream.
pub struct Watch {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

impl Watch {
    /// The events of the next message that has some (in revision order); an error when the
    /// stream ends, breaks, or etcd cancels the watch (compaction).
    pub async fn next(&mut self) -> Result<Vec<Event>, String> {
        loop {
            let message = self.next_message().await?;
            if !message["error"].is_null() {
                return Err(format!("watch ended: {}", short_json(&message["error"])));
            }
            let result = &message["result"];
            if result["canceled"] == json!(true) {
                return Err(format!(
                    "watch canceled: {}",
                    result["cancel_reason"]
                        .as_str()
                        .unwrap_or("no reason given")
                ));
            }
            let Some(events) = result["events"].as_array() else {
                continue; // progress notifications
            };
            let events: Vec<Event> = events
                .iter()
                .filter_map(|e| {
                    Some(Event {
                        delete: e["type"].as_str() == Some("DELETE"),
                        kv: key_value(&e["kv"])?,
                    })
                })
                .collect();
            if !events.is_empty() {
                return Ok(events);
            }
        }
    }

    /// The next JSON message of the stream.
    async fn next_message(&mut self) -> Result<Value, String> {
        loop {
            let mut values =
                serde_json::Deserializer::from_slice(&self.buffer).into_iter::<Value>();
            match values.next() {
                Some(Ok(value)) => {
                    let used = values.byte_offset();
                    self.buffer.drain(..used);
                    return Ok(value);
                }
                Some(Err(e)) if !e.is_eof() => return Err(format!("unreadable watch stream: {e}")),
                _ => {}
            }
            if self.buffer.len() > MAX_ANSWER_BYTES {
                return Err("a watch message larger than 16 MiB".into());
            }
            match self.response.chunk().await {
                Ok(Some(chunk)) => self.buffer.extend_from_slice(&chunk),
                Ok(None) => return Err("the watch stream ended".into()),
                Err(e) => return Err(format!("the watch stream broke: {}", short(&e))),
            }
        }
    }
}

/// Reads a unary answer: its JSON, or etcd's error.
async fn read_answer(
    mut response: reqwest::Response,
    deadline: tokio::time::Instant,
) -> Result<Value, EtcdError> {
    let status = response.status();
    let mut body = Vec::new();
    let read = tokio::time::timeout_at(deadline, async {
        while let Some(chunk) = response.chunk().await.map_err(|e| short(&e))? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_ANSWER_BYTES {
                return Err("answer larger than 16 MiB".to_string());
            }
        }
        Ok(())
    })
    .await;
    match read {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(EtcdError::Unreachable(e)),
        Err(_) => return Err(EtcdError::Unreachable("no answer in time".into())),
    }
    let value: Value = serde_json::from_slice(&body).map_err(|_| EtcdError::Refused {
        code: 2,
        message: format!(
            "HTTP {}: {}",
            status.as_u16(),
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ),
    })?;
    // A unary error: {"error": "...", "code": N, "message": "..."}; a stream's: {"error": {..}}.
    let error = if value["error"].is_object() {
        &value["error"]
    } else {
        &value
    };
    if !status.is_success() || !value["error"].is_null() {
        let message = error["message"]
            .as_str()
            .or(error["error"].as_str())
            .unwrap_or("no message")
            .to_string();
        let code = error["code"]
            .as_i64()
            .or(error["grpc_code"].as_i64())
            .unwrap_or(2);
        return Err(EtcdError::Refused { code, message });
    }
    Ok(value)
}

/// The first key after every key starting with `prefix`.
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// An int64 as the gateway writes it (a string) or as a number; 0 when missing.
fn int(value: &Value) -> i64 {
    match value {
        Value::String(s) => s.parse().unwrap_or(0),
        Value::Number(n) => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: String,
}

fn key_value(kv: &Value) -> Option<KeyValue> {
    let raw: Raw = serde_json::from_value(kv.clone()).ok()?;
    let key = String::from_utf8(B64.decode(raw.key).ok()?).ok()?;
    Some(KeyValue {
        key,
        value: B64.decode(raw.value).unwrap_or_default(),
        create_revision: int(&kv["create_revision"]),
        mod_revision: int(&kv["mod_revision"]),
        lease: int(&kv["lease"]),
    })
}

fn refused(answer: &Value, what: &str) -> EtcdError {
    EtcdError::Refused {
        code: 2,
        message: format!("{what}: {}", short_json(answer)),
    }
}

/// etcd refuses a token that expired or was never valid (code 16 UNAUTHENTICATED, or 3 with
/// "invalid auth token").
fn token_refused(code: i64, message: &str) -> bool {
    code == 16 || message.contains("invalid auth token") || message.contains("token")
}

fn short(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text.chars().take(300).collect()
}

fn short_json(value: &Value) -> String {
    value.to_string().chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_next_key() {
        assert_eq!(
            prefix_end("/dbmon/collectors/"),
            b"/dbmon/collectors0".to_vec()
        );
        assert_eq!(prefix_end("a\u{7f}"), b"a\x80".to_vec());
    }

    #[test]
    fn ints_read_as_the_gateway_writes_them() {
        assert_eq!(int(&json!("42")), 42);
        assert_eq!(int(&json!(7)), 7);
        assert_eq!(int(&Value::Null), 0);
    }
}
