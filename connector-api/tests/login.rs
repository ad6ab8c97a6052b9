//! `ClusterConfig::login`: both parts or neither (or a user alone, when asked), errors naming the
//! missing field, no secret in `Debug`; `with_auth` and `with_tls`.

use dbmon_connector_api::{AuthConfig, ClusterConfig, Login, TlsConfig};

fn with_auth(username: Option<&str>, password: Option<&str>) -> ClusterConfig<()> {
    let mut config = ClusterConfig::new("c", ());
    config.auth = Some(AuthConfig {
        username: username.map(String::from),
        password: password.map(String::from),
    });
    config
}

#[test]
fn a_user_and_a_password_make_a_login() {
    let login = with_auth(Some("mon"), Some("s3cret"))
        .login("x")
        .unwrap()
        .unwrap();
    assert_eq!(
        login,
        Login {
            username: "mon".into(),
            password: "s3cret".into()
        }
    );
    assert!(!format!("{login:?}").contains("s3cret"));
    assert_eq!(ClusterConfig::new("c", ()).login("x").unwrap(), None);
    assert_eq!(with_auth(None, None).login("x").unwrap(), None);
}

#[test]
fn a_missing_part_is_named() {
    let e = with_auth(Some("mon"), None)
        .login("etcd authentication")
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "auth.password: etcd authentication needs a password (password: or password_file:)"
    );
    for username in [None, Some("")] {
        let e = with_auth(username, Some("s3cret"))
            .login("the nodes API login")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "auth.username: the nodes API login needs a user name"
        );
        assert!(!e.to_string().contains("s3cret"));
    }
}

#[test]
fn an_account_without_a_password_is_an_explicit_opt_in() {
    let no_password = ClusterConfig::new("c", ()).with_auth(Some("monitor"), None);
    let e = no_password.login("the MariaDB login").unwrap_err();
    assert_eq!(e.path, "auth.password");
    let login = no_password
        .login_password_optional("the MariaDB login")
        .unwrap()
        .unwrap();
    assert_eq!(
        login,
        Login {
            username: "monitor".into(),
            password: String::new()
        }
    );
    // `password: ""` is an empty password either way.
    let empty = ClusterConfig::new("c", ()).with_auth(Some("monitor"), Some(""));
    assert_eq!(empty.login("x").unwrap(), Some(login.clone()));
    assert_eq!(empty.login_password_optional("x").unwrap(), Some(login));
    // The rest is as strict as `login`.
    let e = ClusterConfig::new("c", ())
        .with_auth(None, Some("s3cret"))
        .login_password_optional("the MariaDB login")
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "auth.username: the MariaDB login needs a user name"
    );
    let none = ClusterConfig::new("c", ());
    assert_eq!(none.login_password_optional("x").unwrap(), None);
}

#[test]
fn with_auth_and_with_tls_fill_what_the_host_would() {
    let config = ClusterConfig::new("c", ())
        .with_auth(Some("mon"), Some("s3cret"))
        .with_tls(TlsConfig {
            ca: Some("/etc/ca.pem".into()),
            ..TlsConfig::default()
        });
    let auth = config.auth.as_ref().unwrap();
    assert_eq!(auth.username.as_deref(), Some("mon"));
    assert_eq!(auth.password.as_deref(), Some("s3cret"));
    let tls = config.tls.as_ref().unwrap();
    assert_eq!(tls.ca.as_deref(), Some(std::path::Path::new("/etc/ca.pem")));
    assert!(!tls.insecure_skip_verify);
    assert!(!format!("{config:?}").contains("s3cret"));
}
