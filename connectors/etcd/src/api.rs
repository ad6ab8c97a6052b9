//! What etcd answers, as the JSON gRPC gateway (`/v3/...`) and the `/health` and `/metrics`
//! handlers write it. The gateway writes 64-bit integers as strings and leaves out fields
//! whose value is zero (proto3 JSON), so every number defaults to 0.

use serde::{Deserialize, Deserializer, de::DeserializeOwned};

/// `POST /v3/maintenance/status`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Who answered.
    #[serde(default)]
    pub header: Header,
    /// etcd version of the member (`3.5.12`).
    #[serde(default)]
    pub version: String,
    /// Size of the backend database file.
    #[serde(default, deserialize_with = "u64_any")]
    pub db_size: u64,
    /// Bytes of that file in use (the rest is free pages a defragmentation returns).
    #[serde(default, deserialize_with = "u64_any")]
    pub db_size_in_use: u64,
    /// Member id of the leader as this member sees it; 0 for none.
    #[serde(default, deserialize_with = "u64_any")]
    pub leader: u64,
    /// Raft log index of the member.
    #[serde(default, deserialize_with = "u64_any")]
    pub raft_index: u64,
    /// Raft term of the member.
    #[serde(default, deserialize_with = "u64_any")]
    pub raft_term: u64,
    /// Index of the last entry the member applied.
    #[serde(default, deserialize_with = "u64_any")]
    pub raft_applied_index: u64,
    /// Problems the member reports: `etcdserver: no leader`, active alarms.
    #[serde(default)]
    pub errors: Vec<String>,
    /// Whether the member is a learner (etcd 3.4+; absent means false).
    #[serde(default)]
    pub is_learner: bool,
}

impl Status {
    /// Whether the member knows a leader.
    pub fn sees_leader(&self) -> bool {
        self.leader != 0 && !self.errors.iter().any(|e| e.contains("no leader"))
    }
}

/// The header of every gateway answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Header {
    /// The cluster's id.
    #[serde(default, deserialize_with = "u64_any")]
    pub cluster_id: u64,
    /// The answering member's id.
    #[serde(default, deserialize_with = "u64_any")]
    pub member_id: u64,
}

/// `POST /v3/cluster/member/list`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MemberList {
    /// Every member, voting or learner, started or not.
    #[serde(default)]
    pub members: Vec<Member>,
}

/// One member of the list.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// Its id.
    #[serde(rename = "ID", default, deserialize_with = "u64_any")]
    pub id: u64,
    /// Its `--name`; empty until the member has started.
    #[serde(default)]
    pub name: String,
    /// Where its peers reach it.
    #[serde(rename = "peerURLs", default)]
    pub peer_urls: Vec<String>,
    /// Where clients reach it; empty until the member has started.
    #[serde(rename = "clientURLs", default)]
    pub client_urls: Vec<String>,
    /// A learner replicates but does not vote.
    #[serde(default)]
    pub is_learner: bool,
}

/// `POST /v3/maintenance/alarm` with `{"action":"GET"}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AlarmList {
    /// Active alarms; absent when none.
    #[serde(default)]
    pub alarms: Vec<Alarm>,
}

/// One active alarm.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Alarm {
    /// The member that raised it.
    #[serde(rename = "memberID", default, deserialize_with = "u64_any")]
    pub member_id: u64,
    /// `NOSPACE`, `CORRUPT`.
    #[serde(default)]
    pub alarm: String,
}

/// Alarms named in a status answer's `errors` (`memberID:1234 alarm:NOSPACE `): every member
/// lists the cluster's alarms there, without going through raft.
pub fn alarms_in_errors(errors: &[String]) -> Vec<Alarm> {
    errors
        .iter()
        .filter_map(|e| {
            let id = e
                .split_whitespace()
                .find_map(|w| w.strip_prefix("memberID:"))?;
            let alarm = e
                .split_whitespace()
                .find_map(|w| w.strip_prefix("alarm:"))?;
            Some(Alarm {
                member_id: id.parse().ok()?,
                alarm: alarm.to_string(),
            })
        })
        .collect()
}

/// `POST /v3/auth/authenticate`.
#[derive(Deserialize)]
pub struct Token {
    /// The token to send as `Authorization`.
    #[serde(default)]
    pub token: String,
}

/// An error answer of the gateway: `{"error":"...","message":"...","code":N}`.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    /// What etcd says.
    pub message: String,
    /// The gRPC status code.
    #[serde(default)]
    pub code: i32,
}

/// `GET /health`: `{"health":"true"}`; etcd 3.5+ adds a `reason` when false.
#[derive(Debug, Deserialize)]
pub struct Health {
    /// `"true"` or `"false"`.
    pub health: String,
    /// Why not, when etcd says.
    #[serde(default)]
    pub reason: String,
}

/// The figures the connector reads from a member's `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct Scraped {
    /// `etcd_server_has_leader`.
    pub has_leader: Option<f64>,
    /// `etcd_server_is_leader`.
    pub is_leader: Option<f64>,
    /// `etcd_server_leader_changes_seen_total`.
    pub leader_changes: Option<f64>,
    /// `etcd_server_quota_backend_bytes`.
    pub quota_bytes: Option<f64>,
}

/// Reads the figures out of Prometheus text; an error when none is there (not etcd's metrics).
pub fn scraped(body: &str) -> Result<Scraped, String> {
    let mut s = Scraped::default();
    for entry in dbmon_promtext::Parser::new(body) {
        let Ok(dbmon_promtext::Entry::Sample(sample)) = entry else {
            continue;
        };
        let slot = match sample.name {
            "etcd_server_has_leader" => &mut s.has_leader,
            "etcd_server_is_leader" => &mut s.is_leader,
            "etcd_server_leader_changes_seen_total" => &mut s.leader_changes,
            "etcd_server_quota_backend_bytes" => &mut s.quota_bytes,
            _ => continue,
        };
        *slot = Some(sample.value);
    }
    if s.has_leader.is_none() && s.leader_changes.is_none() {
        return Err("no etcd_server_has_leader or etcd_server_leader_changes_seen_total: not etcd's metrics".into());
    }
    Ok(s)
}

/// Parses a JSON answer, saying what was expected when it is something else.
pub fn parse<T: DeserializeOwned>(body: &str) -> Result<T, String> {
    serde_json::from_str(body).map_err(|e| {
        let excerpt: String = body.chars().take(80).collect();
        format!("not etcd's JSON ({e}): {:?}", excerpt.trim())
    })
}

/// A u64 written as a JSON string (the gateway's way) or as a number.
fn u64_any<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Text(String),
        Number(u64),
    }
    match Either::deserialize(d)? {
        Either::Number(n) => Ok(n),
        Either::Text(s) => s.parse().map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As etcd 3.4.23 writes it with two of three members stopped: no `leader` (zero is left
    /// out), numbers as strings.
    #[test]
    fn status_without_leader() {
        let body = r#"{"header":{"cluster_id":"9827810879158008203","member_id":"16686299509184719385","revision":"1","raft_term":"4"},"version":"3.4.23","dbSize":"20480","raftIndex":"14","raftTerm":"4","raftAppliedIndex":"14","errors":["etcdserver: no leader"],"dbSizeInUse":"16384"}"#;
        let status: Status = parse(body).unwrap();
        assert_eq!(status.header.member_id, 16686299509184719385);
        assert_eq!(
            (status.leader, status.raft_applied_index, status.db_size),
            (0, 14, 20480)
        );
        assert!(!status.sees_leader());
    }

    #[test]
    fn alarms_listed_in_status_errors() {
        let errors = [
            "etcdserver: no leader".to_string(),
            "memberID:16686299509184719385 alarm:NOSPACE ".to_string(),
        ];
        let alarms = alarms_in_errors(&errors);
        assert_eq!(
            alarms,
            [Alarm {
                member_id: 16686299509184719385,
                alarm: "NOSPACE".into()
            }]
        );
    }

    #[test]
    fn numbers_may_be_numbers_and_bad_text_is_an_error() {
        let member: Member = parse(r#"{"ID": 12, "name": "m1"}"#).unwrap();
        assert_eq!(member.id, 12);
        assert!(parse::<Member>(r#"{"ID": "twelve"}"#).is_err());
    }

    #[test]
    fn metrics_that_are_not_etcd() {
        assert!(
            scraped("up 1\n")
                .unwrap_err()
                .contains("not etcd's metrics")
        );
        let s =
            scraped("etcd_server_has_leader 1\netcd_server_quota_backend_bytes 2.147483648e+09\n")
                .unwrap();
        assert_eq!(
            (s.has_leader, s.quota_bytes),
            (Some(1.0), Some(2147483648.0))
        );
    }
}
