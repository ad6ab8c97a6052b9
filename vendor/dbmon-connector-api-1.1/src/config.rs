//! What the host tells a connector about one cluster, and how a connector says its
//! configuration is wrong.

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::{fmt, path::PathBuf, time::Duration};

/// One cluster's configuration, as the operator wrote it in the host's YAML; `O` is the
/// connector's own `options:` type.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ClusterConfig<O> {
    /// The cluster's id (unique in the host).
    pub id: String,
    /// Addresses of the cluster's nodes or API (URLs, `host:port`), as configured.
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// How often the host collects, in milliseconds.
    pub interval_ms: u64,
    /// How long one collection may take, in milliseconds.
    pub timeout_ms: u64,
    /// TLS settings, when configured.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Credentials, when configured; the host has already resolved `${env:..}` and `*_file`.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// The connector's own options.
    pub options: O,
}

impl<O> ClusterConfig<O> {
    /// A config with these options and nothing else (10 s interval, 5 s timeout): handy in a
    /// connector's own tests.
    pub fn new(id: impl Into<String>, options: O) -> Self {
        ClusterConfig {
            id: id.into(),
            endpoints: Vec::new(),
            interval_ms: 10_000,
            timeout_ms: 5_000,
            tls: None,
            auth: None,
            options,
        }
    }

    /// `auth:` for connectors that log in with both a user name and a password: `None` when
    /// the cluster has no credentials, an error naming the missing field when only one is
    /// given. `what` names what logs in, for the message (`"etcd authentication"`).
    ///
    /// A user name without `password:` is refused; `password: ""` is an empty password and
    /// is accepted. For servers where an account without a password is legitimate (MySQL,
    /// MariaDB), use [`login_password_optional`](Self::login_password_optional).
    pub fn login(&self, what: &str) -> Result<Option<Login>, ConfigError> {
        self.checked_login(what, false)
    }

    /// Like [`login`](Self::login), but a user name without a password is a login with an
    /// empty password instead of an error: for servers whose accounts may have no password
    /// (a MySQL or MariaDB user created without `IDENTIFIED BY`). A password without a user
    /// name is still refused.
    pub fn login_password_optional(&self, what: &str) -> Result<Option<Login>, ConfigError> {
        self.checked_login(what, true)
    }

    fn checked_login(
        &self,
        what: &str,
        password_optional: bool,
    ) -> Result<Option<Login>, ConfigError> {
        let Some(auth) = &self.auth else {
            return Ok(None);
        };
        let username = auth.username.as_deref().filter(|u| !u.is_empty());
        match (username, &auth.password) {
            (None, None) if auth.username.is_none() => Ok(None),
            (Some(username), Some(password)) => Ok(Some(Login {
                username: username.to_string(),
                password: password.clone(),
            })),
            (Some(username), None) if password_optional => Ok(Some(Login {
                username: username.to_string(),
                password: String::new(),
            })),
            (Some(_), None) => Err(ConfigError::at(
                "auth.password",
                format!("{what} needs a password (password: or password_file:)"),
            )),
            (None, _) => Err(ConfigError::at(
                "auth.username",
                format!("{what} needs a user name"),
            )),
        }
    }

    /// The same config with these endpoints.
    pub fn with_endpoints<S: Into<String>>(
        mut self,
        endpoints: impl IntoIterator<Item = S>,
    ) -> Self {
        self.endpoints = endpoints.into_iter().map(Into::into).collect();
        self
    }

    /// The same config with these credentials, as `auth: {username: .., password: ..}` gives
    /// them; `None` leaves that part out.
    pub fn with_auth(mut self, username: Option<&str>, password: Option<&str>) -> Self {
        self.auth = Some(AuthConfig {
            username: username.map(String::from),
            password: password.map(String::from),
        });
        self
    }

    /// The same config with these TLS settings, as a `tls:` block gives them.
    pub fn with_tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// How long one collection may take.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// How often the host collects.
    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms)
    }
}

/// TLS settings of a cluster.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct TlsConfig {
    /// PEM file of the CA that signs the cluster's certificates.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// PEM client certificate, for clusters that want one.
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// PEM key of the client certificate.
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// Accept any server certificate. Only when the operator asked for it.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

/// Credentials of a cluster. `Debug` never prints the password.
#[derive(Clone, Default, Deserialize, Serialize)]
pub struct AuthConfig {
    /// User name.
    #[serde(default)]
    pub username: Option<String>,
    /// Password, already resolved from `${env:VAR}` or `password_file` by the host.
    #[serde(default)]
    pub password: Option<String>,
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A user name with its password, from a cluster's `auth:` (see [`ClusterConfig::login`]).
/// `Debug` never prints the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    /// User name, never empty.
    pub username: String,
    /// Its password.
    pub password: String,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A configuration the connector refuses, with the option it concerns.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct ConfigError {
    /// Dotted path of the offending field relative to the cluster entry (`options.url`,
    /// `endpoints`), empty when it concerns the whole entry.
    pub path: String,
    /// What is wrong, in words the operator can act on.
    pub message: String,
}

impl ConfigError {
    /// An error about one field, e.g. `ConfigError::at("options.url", "must start with http://")`.
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            path: path.into(),
            message: message.into(),
        }
    }

    /// An error about the whole cluster entry.
    pub fn new(message: impl Into<String>) -> Self {
        Self::at("", message)
    }
}

/// Parses the host's JSON into a typed config, naming the path of the first bad field.
pub(crate) fn parse<O: DeserializeOwned>(json: &str) -> Result<ClusterConfig<O>, ConfigError> {
    let de = &mut serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        // serde_json appends " at line 1 column 123" of the host's JSON, which means nothing
        // to an operator: the host points at the YAML instead.
        let message = match message.rfind(" at line ") {
            Some(at) => message[..at].to_string(),
            None => message,
        };
        let path = if path == "." { String::new() } else { path };
        ConfigError { path, message }
    })
}
