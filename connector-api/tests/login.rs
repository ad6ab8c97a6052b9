//! `ClusterConfig::login`: both parts or neither, errors naming the missing field, no secret in
//! `Debug`.

use dbmon_connector_api::{AuthConfig, ClusterConfig, Login};

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
