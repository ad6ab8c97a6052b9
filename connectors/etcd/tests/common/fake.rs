//! A fake etcd: one loopback HTTP server per member answering the gateway's JSON, for the
//! cases a real cluster cannot be made to show on demand (a member far behind, a token that
//! expires, a learner, a member that never started).

use dbmon_test_support::{HttpServer, Reply, Request};
use serde_json::json;
use std::sync::{Arc, Mutex};

/// What the fake members say; tests change it while the servers run.
#[derive(Debug, Default)]
pub struct State {
    /// Applied index of each member.
    pub applied: Vec<u64>,
    /// Which members are learners.
    pub learner: Vec<bool>,
    /// Members whose `/metrics` answers 404.
    pub no_metrics: Vec<bool>,
    /// Members whose `/health` says false (503).
    pub sick: Vec<bool>,
    /// `errors` of every status answer.
    pub status_errors: Vec<String>,
    /// Listed members that never started (no name, no client URL), by id.
    pub unstarted: Vec<u64>,
    /// When set, gateway calls need a token issued for this password.
    pub password: Option<String>,
    /// Tokens issued so far; only the last is valid.
    pub issued: usize,
    /// Makes the current token invalid (as when it expired).
    pub expired: bool,
}

/// The fake cluster.
pub struct Fake {
    /// One server per member; member i is `f{i+1}` with id `i+1`.
    pub servers: Vec<HttpServer>,
    /// What they say.
    pub state: Arc<Mutex<State>>,
}

impl Fake {
    /// `n` healthy members, member 1 the leader.
    pub async fn start(n: usize) -> Fake {
        let state = Arc::new(Mutex::new(State {
            applied: vec![100; n],
            learner: vec![false; n],
            no_metrics: vec![false; n],
            sick: vec![false; n],
            ..State::default()
        }));
        let mut servers = Vec::new();
        for _ in 0..n {
            servers.push(HttpServer::start().await);
        }
        let urls: Vec<String> = servers.iter().map(|s| s.url("")).collect();
        for (i, server) in servers.iter().enumerate() {
            let (state, urls) = (Arc::clone(&state), urls.clone());
            server
                .set_handler(move |request| answer(i, request, &mut state.lock().unwrap(), &urls));
        }
        Fake { servers, state }
    }

    /// Every member's URL.
    pub fn endpoints(&self) -> Vec<String> {
        self.servers.iter().map(|s| s.url("")).collect()
    }

    /// Changes what the members say.
    pub fn set(&self, change: impl FnOnce(&mut State)) {
        change(&mut self.state.lock().unwrap());
    }
}

fn answer(i: usize, request: &Request, state: &mut State, urls: &[String]) -> Option<Reply> {
    let path = request.path.split('?').next().unwrap_or("");
    let error = |status: u16, message: &str, code: i32| {
        let body = json!({"error": message, "message": message, "code": code});
        Some(Reply::json(body.to_string()).with_status(status))
    };
    if path == "/v3/auth/authenticate" {
        let body: serde_json::Value = serde_json::from_slice(&request.body).ok()?;
        return match &state.password {
            None => error(412, "etcdserver: authentication is not enabled", 9),
            Some(p) if body["password"] == p.as_str() => {
                state.issued += 1;
                state.expired = false;
                Some(Reply::json(
                    json!({"token": format!("tok-{}", state.issued)}).to_string(),
                ))
            }
            Some(_) => error(
                400,
                "etcdserver: authentication failed, invalid user ID or password",
                3,
            ),
        };
    }
    if path.starts_with("/v3/") && state.password.is_some() {
        let valid = format!("tok-{}", state.issued);
        match request.headers.get("authorization") {
            None => return error(400, "etcdserver: user name is empty", 3),
            Some(t) if *t != valid || state.expired => {
                return error(401, "etcdserver: invalid auth token", 16);
            }
            Some(_) => {}
        }
    }
    let id = (i + 1).to_string();
    let header = json!({"cluster_id": "4660", "member_id": id, "raft_term": "2"});
    match path {
        "/v3/maintenance/status" => Some(Reply::json(
            json!({
                "header": header, "version": "3.5.17", "dbSize": "20480", "dbSizeInUse": "16384",
                "leader": "1", "raftIndex": state.applied[i].to_string(), "raftTerm": "2",
                "raftAppliedIndex": state.applied[i].to_string(), "isLearner": state.learner[i],
                "errors": state.status_errors,
            })
            .to_string(),
        )),
        "/v3/cluster/member/list" => {
            let mut members: Vec<serde_json::Value> = urls
                .iter()
                .enumerate()
                .map(|(j, url)| {
                    json!({"ID": (j + 1).to_string(), "name": format!("f{}", j + 1),
                        "peerURLs": [format!("http://127.0.0.1:{}", 2380 + j)],
                        "clientURLs": [url], "isLearner": state.learner[j]})
                })
                .collect();
            for id in &state.unstarted {
                members.push(json!({"ID": id.to_string(), "peerURLs": ["http://10.9.9.9:2380"]}));
            }
            Some(Reply::json(
                json!({"header": header, "members": members}).to_string(),
            ))
        }
        "/v3/maintenance/alarm" => Some(Reply::json(json!({"header": header}).to_string())),
        "/health" if state.sick[i] => Some(Reply::json(r#"{"health":"false"}"#).with_status(503)),
        "/health" => Some(Reply::json(r#"{"health":"true"}"#)),
        "/metrics" if state.no_metrics[i] => None,
        "/metrics" => Some(Reply::text(format!(
            "etcd_server_has_leader 1\netcd_server_is_leader {}\n\
             etcd_server_leader_changes_seen_total 1\netcd_server_quota_backend_bytes 2.147483648e+09\n",
            u8::from(i == 0)
        ))),
        _ => None,
    }
}
