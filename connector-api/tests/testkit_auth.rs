//! `Conformance::auth` and `Conformance::tls` put credentials and TLS settings into the valid
//! configuration, and into every invalid one derived from it, as the host would send them.

use dbmon_connector_api::{
    ClusterConfig, CollectContext, ConfigError, Connector, ConnectorInfo, Error, Report, TlsConfig,
    testkit::{Conformance, Outcome, SilentServer},
};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default)]
    limit: u32,
}

/// Refuses a cluster without a login and a CA, as a connector to a TLS-only server would.
struct Guarded;

impl Connector for Guarded {
    type Options = Options;

    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "guarded",
            version: "0.1.0",
            description: "needs a login and a CA",
            commands: vec![],
        }
    }

    fn new(config: ClusterConfig<Options>) -> Result<Self, ConfigError> {
        let login = config.login_password_optional("the guarded login")?;
        let Some(login) = login else {
            return Err(ConfigError::at("auth", "a login is required"));
        };
        if login.username != "monitor" {
            return Err(ConfigError::at("auth.username", "must be monitor"));
        }
        let ca = config.tls.as_ref().and_then(|t| t.ca.as_deref());
        if ca != Some(std::path::Path::new("/etc/dbmon/ca.pem")) {
            return Err(ConfigError::at("tls.ca", "must be /etc/dbmon/ca.pem"));
        }
        if config.options.limit > 10 {
            return Err(ConfigError::at("options.limit", "must be at most 10"));
        }
        Ok(Guarded)
    }

    async fn collect(&self, _ctx: &CollectContext) -> Result<Report, Error> {
        Ok(Report::new())
    }
}

fn ca() -> TlsConfig {
    TlsConfig {
        ca: Some("/etc/dbmon/ca.pem".into()),
        ..TlsConfig::default()
    }
}

#[test]
fn credentials_and_tls_reach_the_connector() {
    let silent = SilentServer::start().unwrap();
    let endpoint = silent.endpoint();
    // A user without a password: the connector opted in with `login_password_optional`.
    Conformance::cluster(&[&endpoint], "{}")
        .auth(Some("monitor"), None)
        .tls(ca())
        .invalid_options(r#"{"limit": 11}"#, "options.limit")
        .run_in_process::<Guarded>()
        .assert_passed();
}

#[test]
fn without_them_the_valid_config_is_refused() {
    let silent = SilentServer::start().unwrap();
    let endpoint = silent.endpoint();
    let report = Conformance::cluster(&[&endpoint], "{}")
        .tls(ca())
        .run_in_process::<Guarded>();
    let check = report.check("valid config").unwrap();
    assert_eq!(check.outcome, Outcome::Failed);
    assert_eq!(check.message, "refused at `auth`: a login is required");

    let report = Conformance::cluster(&[&endpoint], "{}")
        .auth(Some("monitor"), Some("s3cret"))
        .run_in_process::<Guarded>();
    let check = report.check("valid config").unwrap();
    assert_eq!(
        check.message,
        "refused at `tls.ca`: must be /etc/dbmon/ca.pem"
    );
}

#[test]
fn a_whole_invalid_config_is_left_as_written() {
    let silent = SilentServer::start().unwrap();
    let endpoint = silent.endpoint();
    let no_auth = format!(
        r#"{{"id": "c", "endpoints": ["{endpoint}"], "interval_ms": 1000, "timeout_ms": 1000, "options": {{}}}}"#
    );
    let report = Conformance::cluster(&[&endpoint], "{}")
        .auth(Some("monitor"), None)
        .tls(ca())
        .invalid(no_auth, "auth")
        .run_in_process::<Guarded>();
    report.assert_passed();
}
