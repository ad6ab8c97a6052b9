//! One request to one node: send it through dbmon-scrape (bounded body, deadline), check the
//! status, read the body in its format.

use crate::options::Format;
use crate::plan::Request;
use dbmon_connector_api::Login;
use dbmon_scrape::{FetchError, reqwest::Client};
use serde_json::Value;
use std::time::{Duration, Instant};

/// A good answer.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Time from sending to the body's last byte.
    pub elapsed: Duration,
    /// The body, read.
    pub document: Document,
}

/// A body in the form the extract rules read.
#[derive(Debug)]
pub enum Document {
    /// JSON, or a text as one JSON string.
    Json(Value),
    /// The samples of a Prometheus text body that the request's rules take.
    Prometheus(Vec<crate::extract::PromSample>),
}

/// A failed request.
#[derive(Debug)]
pub struct Failure {
    /// What went wrong, for the node's reason.
    pub why: String,
    /// The status, when the server answered.
    pub status: Option<u16>,
    /// The round trip, when the server answered.
    pub elapsed: Option<Duration>,
}

/// How much of a refused body a reason shows.
const EXCERPT_CHARS: usize = 120;

/// Sends `request` to `url`, giving up at `deadline` (or the request's own timeout).
pub async fn fetch(
    client: &Client,
    request: &Request,
    url: &str,
    login: Option<&Login>,
    deadline: Instant,
    max_bytes: usize,
) -> Result<Answer, Failure> {
    // Which limit comes first names the timeout in the reason.
    let own = request
        .timeout
        .map(|t| (t, Instant::now() + t))
        .filter(|(_, end)| *end < deadline);
    let deadline = own.map_or(deadline, |(_, end)| end);
    let mut builder = client
        .request(request.method.clone(), url)
        .headers(request.headers.clone());
    if let Some(login) = login {
        builder = builder.basic_auth(&login.username, Some(&login.password));
    }
    if let Some((body, content_type)) = &request.body {
        builder = builder
            .header("content-type", content_type)
            .body(body.clone());
    }
    let fetched = dbmon_scrape::send(builder, url, deadline, max_bytes)
        .await
        .map_err(|e| Failure {
            why: match (e, own) {
                (FetchError::Timeout { .. }, Some((timeout, _))) => format!(
                    "no answer within {} (the request's timeout)",
                    humantime::format_duration(timeout)
                ),
                (e, _) => transport(e),
            },
            status: None,
            elapsed: None,
        })?;
    let failed = |why: String| Failure {
        why,
        status: Some(fetched.status),
        elapsed: Some(fetched.elapsed),
    };
    if !request.expect.accepts(fetched.status) {
        return Err(failed(format!(
            "HTTP {}{}",
            fetched.status,
            excerpt(&fetched.body)
        )));
    }
    let json_type = is_json(&fetched.content_type);
    let document = match request.format {
        _ if request.method == dbmon_scrape::reqwest::Method::HEAD => {
            Document::Json(Value::String(String::new()))
        }
        Some(Format::Prometheus) => {
            let format = dbmon_promtext::Format::from_content_type(&fetched.content_type);
            let wanted = |name: &str| request.extracts.iter().any(|e| e.takes_series(name));
            let samples = crate::extract::parse_prometheus(&fetched.body, format, wanted)
                .map_err(|why| failed(format!("{why}{}", excerpt(&fetched.body))))?;
            Document::Prometheus(samples)
        }
        Some(Format::Text) => Document::Json(Value::String(fetched.body.trim().to_string())),
        Some(Format::Json) => Document::Json(json(&fetched.body).map_err(failed)?),
        None if json_type => Document::Json(json(&fetched.body).map_err(failed)?),
        None => Document::Json(Value::String(fetched.body.trim().to_string())),
    };
    Ok(Answer {
        status: fetched.status,
        elapsed: fetched.elapsed,
        document,
    })
}

fn json(body: &str) -> Result<Value, String> {
    serde_json::from_str(body).map_err(|e| format!("the body is not JSON ({e}){}", excerpt(body)))
}

/// `application/json`, `application/problem+json`, ...
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json")
}

/// `: ` and the start of `body` on one line, or nothing for an empty body.
fn excerpt(body: &str) -> String {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.is_empty() {
        return String::new();
    }
    let mut shown: String = flat.chars().take(EXCERPT_CHARS).collect();
    if flat.chars().count() > EXCERPT_CHARS {
        shown.push('…');
    }
    format!(": {shown}")
}

/// A transport failure in words, without the URL (the reason names the node and request).
fn transport(e: FetchError) -> String {
    match e {
        FetchError::Transport { message, .. } => {
            // reqwest repeats the URL: "error sending request for url (http://...): ...".
            match message.strip_prefix("error sending request for url (") {
                Some(rest) => rest.split_once("): ").map_or(rest, |(_, m)| m).to_string(),
                None => message,
            }
        }
        FetchError::Timeout { after_ms, .. } => {
            format!("no answer within {after_ms} ms (the collection's deadline)")
        }
        FetchError::TooLarge { limit, .. } => {
            format!("the body is larger than {limit} bytes (max_body_bytes)")
        }
        FetchError::NotText { .. } => "the body is not UTF-8 text".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types_are_known() {
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("application/problem+json"));
        assert!(!is_json("text/plain; charset=utf-8"));
        assert!(!is_json(""));
    }

    #[test]
    fn an_excerpt_is_one_short_line() {
        assert_eq!(excerpt(""), "");
        assert_eq!(excerpt("a\n  b"), ": a b");
        let long = "x".repeat(500);
        assert_eq!(excerpt(&long).chars().count(), 2 + EXCERPT_CHARS + 1);
    }
}
