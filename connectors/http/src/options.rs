//! `options:` of an http cluster as the operator writes them. Every field is checked once, at
//! startup, by [`crate::plan`]; nothing here is used as written.

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Default of [`Options::max_body_bytes`]: 4 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 << 20;

/// The connector's options.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// A response body larger than this fails its request. By default, this is 4 MiB.
    #[serde(default)]
    pub max_body_bytes: Option<usize>,
    /// The requests sent to every endpoint at each collection (at least one).
    pub requests: Vec<RequestOptions>,
}

/// One request, sent to every endpoint (or once, to a full URL).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestOptions {
    /// The request's name: the `request` label of its series. By default, this is `path`.
    #[serde(default)]
    pub name: Option<String>,
    /// GET, POST, PUT or HEAD. By default, this is GET.
    #[serde(default)]
    pub method: Option<String>,
    /// A path with an optional query (`/_cluster/health?local=true`), appended to each
    /// endpoint; or a full `http(s)://` URL, asked once.
    pub path: String,
    /// Request headers; values may hold `${env:NAME}`, replaced at startup. Never logged.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The request body (POST and PUT).
    #[serde(default)]
    pub body: Option<String>,
    /// The body's Content-Type. By default, this is `application/json` when there is a body.
    #[serde(default)]
    pub content_type: Option<String>,
    /// The status codes of a good answer. By default, any 2xx.
    #[serde(default)]
    pub expect_status: Vec<u16>,
    /// How long the request may take (`2s`, `500ms`), below the cluster's timeout. By default,
    /// the collection's deadline.
    #[serde(default)]
    pub timeout: Option<String>,
    /// How the body is read: `json`, `text` or `prometheus`. By default, JSON when the
    /// Content-Type says JSON, text otherwise.
    #[serde(default)]
    pub format: Option<Format>,
    /// Whether the answer describes the `node` that gave it (the default) or the whole
    /// `cluster` (then its series are cluster metrics, from the first endpoint that answers).
    #[serde(default)]
    pub scope: Scope,
    /// The metrics to take from the answer.
    #[serde(default)]
    pub extract: Vec<ExtractOptions>,
    /// A rule giving the node's status from the answer.
    #[serde(default)]
    pub node_status: Option<NodeStatusOptions>,
}

/// How a body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// A JSON document.
    Json,
    /// Plain text: the document is one JSON string, the body with surrounding whitespace
    /// removed.
    Text,
    /// Prometheus text exposition (or OpenMetrics, by Content-Type).
    Prometheus,
}

/// Whom an answer describes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The node that gave it.
    #[default]
    Node,
    /// The whole cluster.
    Cluster,
}

/// What kind of figure a metric is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A figure that goes up and down.
    #[default]
    Gauge,
    /// A figure that only grows (until a restart).
    Counter,
}

/// One metric taken from an answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractOptions {
    /// The metric's name: lowercase snake_case.
    pub name: String,
    /// JSONPath (`$.status`, RFC 9535) or JSON Pointer (`/status`, RFC 6901) to the value;
    /// relative to each element with `each`. By default, `$` (the whole document or element).
    /// With `format: prometheus`, the name of the series to take.
    #[serde(default)]
    pub path: Option<String>,
    /// JSONPath or JSON Pointer to a list of elements: one series per element.
    #[serde(default)]
    pub each: Option<String>,
    /// The unit (`ms`, `bytes`, `percent`, ...).
    #[serde(default)]
    pub unit: Option<String>,
    /// `gauge` or `counter`. By default, this is `gauge`.
    #[serde(default)]
    pub kind: Kind,
    /// One line saying what the metric is.
    #[serde(default)]
    pub help: Option<String>,
    /// 1 when the value equals this (as text; numbers by value), else 0.
    #[serde(default)]
    pub equals: Option<Value>,
    /// 1 when the value is one of these, else 0.
    #[serde(default, rename = "in")]
    pub one_of: Option<Vec<Value>>,
    /// 1 when the path selects something, else 0.
    #[serde(default)]
    pub exists: bool,
    /// The number of values the path selects.
    #[serde(default)]
    pub count: bool,
    /// A regular expression applied to the (text) value: its first capture group, else the
    /// whole match, is the value; no match selects nothing.
    #[serde(default)]
    pub regex: Option<String>,
    /// Labels of the series: label name → JSONPath or JSON Pointer, relative to each element
    /// with `each`, else to the document.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// With `format: prometheus`: label values a sample must have to be taken.
    #[serde(default, rename = "match")]
    pub matches: BTreeMap<String, String>,
    /// A value that is missing (or not a number) is a DEGRADED reason instead of a debug line.
    #[serde(default)]
    pub required: bool,
}

/// The node's status from a value of the answer. Values are compared as text (numbers by
/// value); the first list holding the value gives the status.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeStatusOptions {
    /// JSONPath or JSON Pointer to the value.
    pub path: String,
    /// Values meaning `live`.
    #[serde(default)]
    pub live: Vec<Value>,
    /// Values meaning `draining`.
    #[serde(default)]
    pub draining: Vec<Value>,
    /// Values meaning `initializing`.
    #[serde(default)]
    pub initializing: Vec<Value>,
    /// Values meaning `decommissioning`.
    #[serde(default)]
    pub decommissioning: Vec<Value>,
    /// Values meaning `decommissioned`.
    #[serde(default)]
    pub decommissioned: Vec<Value>,
    /// Values meaning `unavailable`.
    #[serde(default)]
    pub unavailable: Vec<Value>,
    /// Values meaning `dead`.
    #[serde(default)]
    pub dead: Vec<Value>,
}
