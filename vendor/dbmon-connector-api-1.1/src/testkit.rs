//! The conformance kit: the checks every connector must pass before a host loads it, run the
//! same way from the connector's own tests and against a library the host loaded.
//!
//! The checks drive the connector through the stable ABI ([`ffi::ConnectorModRef`]), exactly as
//! the host does: [`Conformance::run_in_process`] exports your type with the same glue
//! `export_connector!` uses, and [`Conformance::run_module`] takes the root module of a loaded
//! `.so` (`dbmon connector check FILE.so --config CLUSTER.yaml` does that). They cover:
//!
//! - `info`: a lowercase `[a-z0-9_-]` name, a version, a one-line description, the SDK's
//!   connector-api version, unique command names;
//! - configuration: the valid config builds an instance; each invalid one you list is refused
//!   with a message (and, when you say, at the path you expect); options `null`, `42` and an
//!   unknown option are refused with a message or accepted, never a panic;
//! - collect: returns within the cluster's timeout, never blocks the thread for more than
//!   100 ms in one poll, honours a short deadline (300 ms), survives being cancelled mid-flight;
//! - panics: a panic inside collect comes back as an error (checked with a probe that panics
//!   on purpose, through the same export layer as the connector);
//! - commands: every listed command returns (output or error) within the timeout; an unknown
//!   command is an error.
//!
//! ```
//! # use dbmon_connector_api::{ClusterConfig, CollectContext, ConfigError, Connector,
//! #     ConnectorInfo, Error, Report};
//! # #[derive(serde::Deserialize)]
//! # #[serde(deny_unknown_fields)]
//! # pub struct Options { #[serde(default)] limit: u32 }
//! # pub struct Hello;
//! # impl Connector for Hello {
//! #     type Options = Options;
//! #     fn info() -> ConnectorInfo {
//! #         ConnectorInfo { name: "hello", version: "0.1.0", description: "says hello",
//! #             commands: vec![] }
//! #     }
//! #     fn new(config: ClusterConfig<Options>) -> Result<Self, ConfigError> {
//! #         if config.options.limit > 10 {
//! #             return Err(ConfigError::at("options.limit", "must be at most 10"));
//! #         }
//! #         Ok(Hello)
//! #     }
//! #     async fn collect(&self, _ctx: &CollectContext) -> Result<Report, Error> {
//! #         Ok(Report::new())
//! #     }
//! # }
//! use dbmon_connector_api::testkit::Conformance;
//!
//! // In tests/conformance.rs, as a plain #[test]: the kit runs its own runtime.
//! Conformance::cluster(&["127.0.0.1:1"], r#"{"limit": 3}"#)
//!     .invalid_options(r#"{"limit": 11}"#, "options.limit")
//!     .run_in_process::<Hello>()
//!     .assert_passed();
//! ```

mod calls;
mod checks;
mod probe;
mod report;

pub use probe::SilentServer;
pub use report::{Check, Outcome, Report};

use crate::{AuthConfig, ClusterConfig, Connector, TlsConfig, export, ffi::ConnectorModRef};
use serde_json::Value;
use std::{collections::HashMap, time::Duration};

/// The short deadline collect must honour. By default, this is 300 ms.
pub const DEFAULT_COLLECT_TIMEOUT: Duration = Duration::from_millis(300);
/// How late past a timeout a call may return and still pass. By default, this is 200 ms.
pub const DEFAULT_GRACE: Duration = Duration::from_millis(200);

/// A run of the conformance checks: one valid cluster configuration, the invalid ones the
/// connector must refuse, and arguments for its commands.
#[derive(Clone, Debug)]
pub struct Conformance {
    valid: String,
    invalid: Vec<Invalid>,
    command_args: HashMap<String, Vec<String>>,
    collect_timeout: Duration,
    grace: Duration,
}

/// A configuration the connector must refuse, and where.
#[derive(Clone, Debug)]
struct Invalid {
    change: Change,
    path_prefix: String,
}

/// How an invalid configuration differs from the valid one.
#[derive(Clone, Debug)]
enum Change {
    Whole(String),
    Options(String),
    Endpoints(Vec<String>),
}

impl Conformance {
    /// Checks against `valid_config_json`, a whole cluster configuration the connector must
    /// accept, as the host sends it: `{"id": .., "endpoints": [..], "interval_ms": ..,
    /// "timeout_ms": .., "tls": {..} or null, "auth": {..} or null, "options": {..}}` (see
    /// [`ClusterConfig`]).
    /// Point it at something that does not answer ([`SilentServer`], a closed port) so that
    /// the deadline and cancellation checks have something to wait for.
    pub fn new(valid_config_json: impl Into<String>) -> Self {
        Conformance {
            valid: valid_config_json.into(),
            invalid: Vec::new(),
            command_args: HashMap::new(),
            collect_timeout: DEFAULT_COLLECT_TIMEOUT,
            grace: DEFAULT_GRACE,
        }
    }

    /// Checks against a cluster `conformance` with these endpoints and options (JSON text),
    /// collected every 10 s with a 2 s timeout. Panics when `options_json` is not JSON.
    /// Add credentials with [`auth`](Self::auth) and TLS settings with [`tls`](Self::tls).
    pub fn cluster(endpoints: &[&str], options_json: &str) -> Self {
        let options = serde_json::from_str::<Value>(options_json).unwrap_or_else(|e| {
            panic!("Conformance::cluster: options are not JSON ({e}): {options_json}")
        });
        let mut config =
            ClusterConfig::new("conformance", options).with_endpoints(endpoints.iter().copied());
        config.interval_ms = 10_000;
        config.timeout_ms = 2_000;
        Self::new(to_json(&config))
    }

    /// The valid configuration (and every invalid one derived from it) logs in with these
    /// credentials, as `auth:` gives them (see [`ClusterConfig::with_auth`]).
    pub fn auth(mut self, username: Option<&str>, password: Option<&str>) -> Self {
        let auth = AuthConfig {
            username: username.map(String::from),
            password: password.map(String::from),
        };
        self.valid = self.with("auth", to_value(&auth));
        self
    }

    /// The valid configuration (and every invalid one derived from it) has these TLS
    /// settings, as a `tls:` block gives them (see [`ClusterConfig::with_tls`]).
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.valid = self.with("tls", to_value(&tls));
        self
    }

    /// The connector must refuse this whole configuration, with a message and with a path
    /// starting with `path_prefix` (`"options.url"`, `"endpoints[0]"`; `""` accepts any).
    pub fn invalid(mut self, config_json: impl Into<String>, path_prefix: &str) -> Self {
        self.push(Change::Whole(config_json.into()), path_prefix);
        self
    }

    /// The connector must refuse the valid configuration with these options instead.
    pub fn invalid_options(mut self, options_json: &str, path_prefix: &str) -> Self {
        self.push(Change::Options(options_json.into()), path_prefix);
        self
    }

    /// The connector must refuse the valid configuration with these endpoints instead.
    pub fn invalid_endpoints(mut self, endpoints: &[&str], path_prefix: &str) -> Self {
        let endpoints = endpoints.iter().map(|e| e.to_string()).collect();
        self.push(Change::Endpoints(endpoints), path_prefix);
        self
    }

    fn push(&mut self, change: Change, path_prefix: &str) {
        self.invalid.push(Invalid {
            change,
            path_prefix: path_prefix.into(),
        });
    }

    /// Runs command `name` with these arguments (by default, none).
    pub fn command_args(mut self, name: &str, args: &[&str]) -> Self {
        let args = args.iter().map(|a| a.to_string()).collect();
        self.command_args.insert(name.into(), args);
        self
    }

    /// The short deadline collect must honour. By default, this is 300 ms.
    pub fn collect_timeout(mut self, timeout: Duration) -> Self {
        self.collect_timeout = timeout;
        self
    }

    /// How late past a timeout a call may return. By default, this is 200 ms.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Runs every check on connector `C`, exported through the same glue as
    /// `export_connector!`. Call it from a plain `#[test]` or from inside a tokio runtime.
    pub fn run_in_process<C: Connector>(&self) -> Report {
        self.run(export::root_module::<C>(), true)
    }

    /// Runs every check on a library's root module, as the host loaded it.
    pub fn run_module(&self, module: ConnectorModRef) -> Report {
        self.run(module, false)
    }

    fn run(&self, module: ConnectorModRef, in_process: bool) -> Report {
        let run = || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a current-thread tokio runtime for the conformance kit");
            runtime.block_on(checks::run(self, module, in_process))
        };
        // block_on panics inside a runtime: an async test gets the kit on a thread of its own.
        if tokio::runtime::Handle::try_current().is_err() {
            return run();
        }
        std::thread::scope(|scope| match scope.spawn(run).join() {
            Ok(report) => report,
            Err(panic) => std::panic::resume_unwind(panic),
        })
    }

    /// The valid configuration, parsed.
    fn valid_json(&self) -> Result<Value, String> {
        serde_json::from_str(&self.valid).map_err(|e| format!("the valid config is not JSON: {e}"))
    }

    /// The valid configuration with `field` replaced.
    fn with(&self, field: &str, value: Value) -> String {
        match self.valid_json() {
            Ok(Value::Object(mut map)) => {
                map.insert(field.into(), value);
                Value::Object(map).to_string()
            }
            // A kit that silently skipped `.auth(..)` or `.tls(..)` would pass without testing.
            other => panic!(
                "the conformance kit's cluster configuration is not a JSON object, so {field}                  cannot be set in it: {other:?}"
            ),
        }
    }
}

impl Invalid {
    /// The configuration to send, and a short label for the report.
    fn render(&self, kit: &Conformance) -> (String, String) {
        match &self.change {
            Change::Whole(json) => (json.clone(), format!("config {}", short(json))),
            Change::Options(options) => {
                let value = serde_json::from_str(options)
                    .unwrap_or_else(|_| Value::String(options.clone()));
                (
                    kit.with("options", value),
                    format!("options {}", short(options)),
                )
            }
            Change::Endpoints(endpoints) => {
                let label = format!("endpoints {}", short(&format!("{endpoints:?}")));
                (kit.with("endpoints", serde_json::json!(endpoints)), label)
            }
        }
    }
}

/// The JSON the host would send for `value` (a config type of this crate, which always
/// serializes).
fn to_value(value: &impl serde::Serialize) -> Value {
    serde_json::to_value(value).expect("the SDK's config types serialize to JSON")
}

fn to_json(value: &impl serde::Serialize) -> String {
    to_value(value).to_string()
}

/// At most 40 characters of `text`, on one line.
fn short(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= 40 {
        return one_line;
    }
    let cut: String = one_line.chars().take(39).collect();
    format!("{cut}…")
}
