//! A good answer's body, read in its format and through every rule of its request: the series
//! of each `extract` rule and the `node_status` rule's verdict. Large bodies are read off the
//! async threads (see [`crate::fetch`]), so this holds no borrow of the collection.

use crate::extract::{Found, parse_prometheus};
use crate::options::Format;
use crate::plan::Request;
use dbmon_connector_api::NodeStatus;
use dbmon_scrape::Method;
use serde_json::Value;

/// What one answer says.
#[derive(Debug)]
pub struct Reading {
    /// The series of each extract rule, in the rules' order.
    pub found: Vec<Found>,
    /// The node status rule's verdict and the value it read; `None` without a rule.
    pub status: Option<(Result<NodeStatus, String>, String)>,
}

/// Reads `body` for `request`; `Err` says why it does not read in its format.
pub fn read(request: &Request, body: &str, content_type: &str) -> Result<Reading, String> {
    if request.method == Method::HEAD {
        return Ok(json_reading(request, &Value::String(String::new())));
    }
    match request.format {
        Some(Format::Prometheus) => {
            let format = dbmon_promtext::Format::from_content_type(content_type);
            let wanted = |name: &str| request.extracts.iter().any(|e| e.takes_series(name));
            let samples = parse_prometheus(body, format, wanted)?;
            Ok(Reading {
                found: request
                    .extracts
                    .iter()
                    .map(|e| e.read_prometheus(&samples))
                    .collect(),
                status: None,
            })
        }
        Some(Format::Json) => Ok(json_reading(request, &json(body)?)),
        None if is_json(content_type) => Ok(json_reading(request, &json(body)?)),
        Some(Format::Text) | None => Ok(json_reading(
            request,
            &Value::String(body.trim().to_string()),
        )),
    }
}

fn json_reading(request: &Request, document: &Value) -> Reading {
    Reading {
        found: request
            .extracts
            .iter()
            .map(|e| e.read_json(document))
            .collect(),
        status: request
            .node_status
            .as_ref()
            .map(|rule| (rule.status(document), rule.shown(document))),
    }
}

fn json(body: &str) -> Result<Value, String> {
    serde_json::from_str(body).map_err(|e| format!("the body is not JSON ({e})"))
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
}
