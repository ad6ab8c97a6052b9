//! What `serve` and `serve --check` say about the machine around the config: a plugins folder
//! that is not there, libraries that were refused, a listen address another process holds.

use crate::lib;
use std::{path::Path, process::Output};

fn serve(dir: &Path, config: &str, args: &[&str]) -> (Output, String) {
    crate::serve_until_exit(dir, "dbmon.yaml", config, args)
}

#[test]
fn a_missing_plugins_dir_is_reported_at_plugins_dir_with_the_os_error() {
    let dir = tempfile::tempdir().unwrap();
    let config =
        "listen: 127.0.0.1:0\nplugins_dir: nowhere\nclusters:\n  - {id: a, connector: system}\n";
    for args in [&["--check"][..], &[][..]] {
        let (out, stderr) = serve(dir.path(), config, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("dbmon.yaml:2:14: plugins_dir nowhere: No such file or directory"),
            "{args:?}: {stderr}"
        );
    }
    std::fs::write(dir.path().join("file"), "").unwrap();
    let config =
        "listen: 127.0.0.1:0\nplugins_dir: file\nclusters:\n  - {id: a, connector: system}\n";
    let (_, stderr) = serve(dir.path(), config, &["--check"]);
    assert!(
        stderr.contains("dbmon.yaml:2:14: plugins_dir file is not a folder"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_connector_error_says_which_libraries_were_refused_and_why() {
    let dir = crate::folder_with_plugins(&[(&lib("system"), "libdbmon_connector_system.so")]);
    std::fs::write(dir.path().join("plugins.d/libjunk.so"), b"not a library").unwrap();
    let config = "listen: 127.0.0.1:0\nclusters:\n  - {id: a, connector: junk}\n";
    let (out, stderr) = serve(dir.path(), config, &["--check"]);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown connector 'junk'"), "{stderr}");
    assert!(stderr.contains("loaded connectors: system"), "{stderr}");
    assert!(
        stderr.contains("refused libraries: plugins.d/libjunk.so ("),
        "{stderr}"
    );
}

#[test]
fn a_listen_address_in_use_is_a_config_error_at_listen_reported_once() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let dir = crate::folder_with_plugins(&[(&lib("system"), "libdbmon_connector_system.so")]);
    let config = format!("clusters:\n  - {{id: a, connector: system}}\nlisten: {address}\n");
    for args in [&["--check"][..], &[][..]] {
        let (out, stderr) = serve(dir.path(), &config, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("dbmon.yaml:3:9: cannot listen on {address}")),
            "{args:?}: {stderr}"
        );
        assert_eq!(stderr.matches("cannot listen").count(), 1, "{stderr}");
    }
    let flag = address.to_string();
    let (out, stderr) = serve(
        dir.path(),
        &config.replace(&flag, "127.0.0.1:0"),
        &["--listen", &flag],
    );
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "--listen (or DBMON_LISTEN): cannot listen on {address}"
        )),
        "{stderr}"
    );
    assert_eq!(stderr.matches("cannot listen").count(), 1, "{stderr}");
}
