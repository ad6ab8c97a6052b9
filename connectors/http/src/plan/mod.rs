//! The checked configuration of one cluster: its nodes and requests, every path parsed, every
//! header resolved. Each refusal names the exact field (`options.requests[1].extract[0].path`).

mod rules;

use crate::extract::Extract;
use crate::options::{DEFAULT_MAX_BODY_BYTES, Format, Options, RequestOptions, Scope};
use crate::status::StatusRule;
use dbmon_connector_api::{ClusterConfig, ConfigError, Login};
use dbmon_scrape::{
    Method, Url,
    header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue},
};
use rules::{check_extract, status_rule};
use std::{collections::HashMap, time::Duration};

/// Series names the connector writes itself.
pub const RESERVED_NAMES: [&str; 2] = ["request_ms", "status_code"];

/// One node: an endpoint, or the origin of a request's full URL.
#[derive(Debug, Clone)]
pub struct NodeTarget {
    /// The node's id in reports: the endpoint as written, without a trailing `/`.
    pub id: String,
    /// `host:port`.
    pub address: String,
    /// Whether it is an endpoint (every path request goes to it).
    pub endpoint: bool,
}

/// Where a request goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// Appended to every endpoint.
    Path(String),
    /// One URL, whose node is `nodes[node]`.
    Url { url: String, node: usize },
}

/// Which status codes a good answer has.
#[derive(Debug, Clone)]
pub enum Expect {
    /// 200 to 299.
    Success,
    /// These.
    Codes(Vec<u16>),
}

impl Expect {
    /// Whether `status` is a good answer.
    pub fn accepts(&self, status: u16) -> bool {
        match self {
            Expect::Success => (200..300).contains(&status),
            Expect::Codes(codes) => codes.contains(&status),
        }
    }
}

/// One checked request.
#[derive(Debug)]
pub struct Request {
    /// The `request` label: the name, else the path.
    pub label: String,
    /// The method.
    pub method: Method,
    /// Where it goes.
    pub target: Target,
    /// Headers, marked sensitive (their values never show in Debug output).
    pub headers: HeaderMap,
    /// Body and its Content-Type.
    pub body: Option<(String, String)>,
    /// Good status codes.
    pub expect: Expect,
    /// Its own timeout, when shorter than the collection's deadline.
    pub timeout: Option<Duration>,
    /// How to read the body; `None`: by Content-Type (JSON or text).
    pub format: Option<Format>,
    /// Whom the answer describes.
    pub scope: Scope,
    /// The metrics taken from the answer.
    pub extracts: Vec<Extract>,
    /// The node status rule.
    pub node_status: Option<StatusRule>,
}

/// The checked configuration of a cluster.
#[derive(Debug)]
pub struct Plan {
    /// Endpoints first, in the configured order, then the origins of full URLs.
    pub nodes: Vec<NodeTarget>,
    /// Requests in the configured order.
    pub requests: Vec<Request>,
    /// Largest body read.
    pub max_body_bytes: usize,
    /// HTTP basic authentication from `auth:`.
    pub login: Option<Login>,
}

/// Checks everything in `config`.
pub fn plan(config: &ClusterConfig<Options>) -> Result<Plan, ConfigError> {
    let options = &config.options;
    let mut nodes = Vec::new();
    for (i, endpoint) in config.endpoints.iter().enumerate() {
        let at = format!("endpoints[{i}]");
        let (id, address) = base_url(&at, endpoint)?;
        if let Some(first) = nodes.iter().position(|n: &NodeTarget| n.id == id) {
            return Err(ConfigError::at(
                at,
                format!("'{endpoint}' is listed twice (first as endpoints[{first}])"),
            ));
        }
        nodes.push(NodeTarget {
            id,
            address,
            endpoint: true,
        });
    }
    if options.requests.is_empty() {
        return Err(ConfigError::at(
            "options.requests",
            "list at least one request (- path: /health)",
        ));
    }
    let login = config.login("HTTP basic authentication")?;
    let cluster_timeout = config.timeout();
    let mut requests = Vec::new();
    let mut names = HashMap::new();
    for (i, request) in options.requests.iter().enumerate() {
        let at = format!("options.requests[{i}]");
        let checked = check_request(&at, request, cluster_timeout, &mut nodes, &mut names)?;
        if login.is_some() && checked.headers.contains_key(AUTHORIZATION) {
            return Err(ConfigError::at(
                format!("{at}.headers"),
                "an Authorization header and auth: (basic authentication) both set one; keep one",
            ));
        }
        let first = requests
            .iter()
            .position(|r: &Request| r.label == checked.label);
        if let Some(first) = first {
            let field = match request.name {
                Some(_) => "name",
                None => "path",
            };
            return Err(ConfigError::at(
                format!("{at}.{field}"),
                format!(
                    "request '{}' is already options.requests[{first}]; give one a name: (its \
                     series are labelled by it)",
                    checked.label
                ),
            ));
        }
        requests.push(checked);
    }
    let to_endpoints = requests.iter().any(|r| matches!(r.target, Target::Path(_)));
    if to_endpoints && config.endpoints.is_empty() {
        return Err(ConfigError::at(
            "endpoints",
            "list the base URL of at least one node (http://127.0.0.1:9200), or give every \
             request a full URL",
        ));
    }
    let max_body_bytes = options.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES);
    if max_body_bytes == 0 {
        return Err(ConfigError::at(
            "options.max_body_bytes",
            "must be at least 1",
        ));
    }
    Ok(Plan {
        nodes,
        requests,
        max_body_bytes,
        login,
    })
}

/// A checked http(s) URL without credentials: its id (as written, no trailing `/`) and
/// `host:port`.
fn base_url(at: &str, text: &str) -> Result<(String, String), ConfigError> {
    let url = http_url(at, text)?;
    if url.query().is_some() {
        return Err(ConfigError::at(
            at,
            format!("'{text}' has a query: put it in the request's path"),
        ));
    }
    Ok((text.trim_end_matches('/').to_string(), address(&url)))
}

fn http_url(at: &str, text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text).map_err(|e| {
        ConfigError::at(
            at,
            format!("'{text}' is not a valid URL ({e}); write it as http://host:port"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::at(
            at,
            format!("'{text}' is not an http:// or https:// URL"),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::at(at, format!("'{text}' has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::at(
            at,
            "put credentials in auth: or a header, not in the URL (it is shown in reports)",
        ));
    }
    Ok(url)
}

fn address(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

fn check_request(
    at: &str,
    request: &RequestOptions,
    cluster_timeout: Duration,
    nodes: &mut Vec<NodeTarget>,
    names: &mut HashMap<(String, Vec<String>), String>,
) -> Result<Request, ConfigError> {
    let method = method(&format!("{at}.method"), request.method.as_deref())?;
    let target = target(&format!("{at}.path"), &request.path, nodes)?;
    let label = match &request.name {
        Some(name) if name.trim().is_empty() => {
            return Err(ConfigError::at(format!("{at}.name"), "must not be empty"));
        }
        Some(name) => name.clone(),
        None => request.path.clone(),
    };
    let body = match (&request.body, &request.content_type) {
        (Some(_), _) if method == Method::GET || method == Method::HEAD => {
            return Err(ConfigError::at(
                format!("{at}.body"),
                format!("a body goes with POST or PUT, not {method}"),
            ));
        }
        (Some(body), content_type) => Some((
            body.clone(),
            content_type
                .clone()
                .unwrap_or_else(|| "application/json".into()),
        )),
        (None, Some(_)) => {
            return Err(ConfigError::at(
                format!("{at}.content_type"),
                "content_type describes a body: add body:, or remove content_type",
            ));
        }
        (None, None) => None,
    };
    let mut headers = HeaderMap::new();
    for (name, value) in &request.headers {
        let field = format!("{at}.headers.{name}");
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ConfigError::at(&field, format!("'{name}' is not a valid header name")))?;
        let expanded = crate::env::expand(value).map_err(|e| ConfigError::at(&field, e))?;
        // The value may be a token: no message shows it.
        let mut value = HeaderValue::from_str(&expanded).map_err(|_| {
            ConfigError::at(
                &field,
                "the value holds characters a header cannot carry (a line break?)",
            )
        })?;
        value.set_sensitive(true);
        headers.insert(header, value);
    }
    let expect = if request.expect_status.is_empty() {
        Expect::Success
    } else {
        for (j, code) in request.expect_status.iter().enumerate() {
            if !(100..=599).contains(code) {
                return Err(ConfigError::at(
                    format!("{at}.expect_status[{j}]"),
                    format!("{code} is not an HTTP status code (100 to 599)"),
                ));
            }
        }
        Expect::Codes(request.expect_status.clone())
    };
    let timeout = match &request.timeout {
        None => None,
        Some(text) => Some(timeout(&format!("{at}.timeout"), text, cluster_timeout)?),
    };
    let prometheus = request.format == Some(Format::Prometheus);
    let mut extracts = Vec::new();
    for (j, extract) in request.extract.iter().enumerate() {
        let field = format!("{at}.extract[{j}]");
        let checked = check_extract(&field, extract, prometheus)?;
        let key = (checked.name.clone(), checked.label_source());
        if let Some(first) = names.get(&key) {
            return Err(ConfigError::at(
                format!("{field}.name"),
                format!(
                    "metric '{}' is already extracted at {first} with the same labels; give one \
                     another name or other labels",
                    checked.name
                ),
            ));
        }
        names.insert(key, field);
        extracts.push(checked);
    }
    let node_status = match &request.node_status {
        None => None,
        Some(_) if prometheus => {
            return Err(ConfigError::at(
                format!("{at}.node_status"),
                "node_status reads a JSON or text answer, not format: prometheus",
            ));
        }
        Some(rule) => Some(status_rule(&format!("{at}.node_status"), rule)?),
    };
    Ok(Request {
        label,
        method,
        target,
        headers,
        body,
        expect,
        timeout,
        format: request.format,
        scope: request.scope,
        extracts,
        node_status,
    })
}

fn method(at: &str, text: Option<&str>) -> Result<Method, ConfigError> {
    match text.unwrap_or("GET").to_ascii_uppercase().as_str() {
        "GET" => Ok(Method::GET),
        "POST" => Ok(Method::POST),
        "PUT" => Ok(Method::PUT),
        "HEAD" => Ok(Method::HEAD),
        _ => Err(ConfigError::at(
            at,
            format!(
                "unknown method '{}'; use GET, POST, PUT or HEAD",
                text.unwrap_or_default()
            ),
        )),
    }
}

fn target(at: &str, path: &str, nodes: &mut Vec<NodeTarget>) -> Result<Target, ConfigError> {
    if path.starts_with('/') {
        return Ok(Target::Path(path.to_string()));
    }
    if !(path.starts_with("http://") || path.starts_with("https://")) {
        return Err(ConfigError::at(
            at,
            format!(
                "'{path}' is neither a path (starting with /, like /health) nor an http(s):// URL"
            ),
        ));
    }
    let url = http_url(at, path)?;
    let origin = url.origin().ascii_serialization();
    // The node of an endpoint with this origin, else a node of its own.
    let same = |n: &NodeTarget| {
        Url::parse(&n.id).is_ok_and(|u| u.origin().ascii_serialization() == origin)
    };
    let node = match nodes.iter().position(same) {
        Some(node) => node,
        None => {
            nodes.push(NodeTarget {
                id: origin,
                address: address(&url),
                endpoint: false,
            });
            nodes.len() - 1
        }
    };
    Ok(Target::Url {
        url: path.to_string(),
        node,
    })
}

fn timeout(at: &str, text: &str, cluster: Duration) -> Result<Duration, ConfigError> {
    let duration = humantime::parse_duration(text).map_err(|e| {
        ConfigError::at(
            at,
            format!("'{text}' is not a duration ({e}); write it as 500ms or 2s"),
        )
    })?;
    if duration.is_zero() || duration >= cluster {
        return Err(ConfigError::at(
            at,
            format!(
                "must be above 0 and below the cluster's timeout ({}); got {text}",
                humantime::format_duration(cluster)
            ),
        ));
    }
    Ok(duration)
}
