//! One request to one node: send it through dbmon-scrape (bounded body, deadline), check the
//! status, read the body ([`crate::read`]).

use crate::plan::Plan;
use crate::read::{self, Reading};
use dbmon_scrape::{Client, FetchError};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

/// A good answer.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Time from sending to the body's last byte.
    pub elapsed: Duration,
    /// What it says.
    pub reading: Reading,
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

/// Bodies up to this size are read on the collection's own thread; larger ones on tokio's
/// blocking pool.
const READ_INLINE_BYTES: usize = 256 << 10;

/// How much of a refused body a reason shows.
const EXCERPT_CHARS: usize = 120;

/// Sends request `index` of `plan` to `url`, giving up at `deadline` (or the request's own
/// timeout), and reads a good answer.
pub async fn fetch(
    client: &Client,
    plan: &Arc<Plan>,
    index: usize,
    url: &str,
    deadline: Instant,
) -> Result<Answer, Failure> {
    let request = &plan.requests[index];
    // Which limit comes first names the timeout in the reason.
    let own = request
        .timeout
        .map(|t| (t, Instant::now() + t))
        .filter(|(_, end)| *end < deadline);
    let deadline = own.map_or(deadline, |(_, end)| end);
    let mut builder = client
        .request(request.method.clone(), url)
        .headers(request.headers.clone());
    if let Some(login) = &plan.login {
        builder = builder.basic_auth(&login.username, Some(&login.password));
    }
    if let Some((body, content_type)) = &request.body {
        builder = builder
            .header("content-type", content_type)
            .body(body.clone());
    }
    let fetched = dbmon_scrape::send(builder, url, deadline, plan.max_body_bytes)
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
    let (status, elapsed) = (fetched.status, fetched.elapsed);
    let (reading, body) = if fetched.body.len() <= READ_INLINE_BYTES {
        let reading = read::read(request, &fetched.body, &fetched.content_type);
        (reading, fetched.body)
    } else {
        // Parsing and walking a large document holds a thread for tens of milliseconds.
        let plan = Arc::clone(plan);
        let (body, content_type) = (fetched.body, fetched.content_type);
        tokio::task::spawn_blocking(move || {
            let reading = read::read(&plan.requests[index], &body, &content_type);
            (reading, body)
        })
        .await
        .unwrap_or_else(|e| (Err(format!("reading the body failed: {e}")), String::new()))
    };
    let reading = reading.map_err(|why| Failure {
        why: format!("{why}{}", excerpt(&body)),
        status: Some(status),
        elapsed: Some(elapsed),
    })?;
    Ok(Answer {
        status,
        elapsed,
        reading,
    })
}

/// `: ` and the start of `body` on one line, or nothing for an empty body.
fn excerpt(body: &str) -> String {
    // Whitespace runs collapse, so a few times the excerpt's length is enough to look at.
    let head: String = body.chars().take(EXCERPT_CHARS * 4).collect();
    let flat: String = head.split_whitespace().collect::<Vec<_>>().join(" ");
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
        FetchError::Transport { message, .. } => message,
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
    fn an_excerpt_is_one_short_line() {
        assert_eq!(excerpt(""), "");
        assert_eq!(excerpt("a\n  b"), ": a b");
        let long = "x".repeat(500);
        assert_eq!(excerpt(&long).chars().count(), 2 + EXCERPT_CHARS + 1);
    }
}
