use crate::{client, lib};
use dbmon_proto as proto;
use dbmon_test_support::{Host, TestCa, workspace_file};
use std::path::PathBuf;

/// Every bundled connector: one library per folder under `connectors/`.
fn bundled() -> Vec<PathBuf> {
    let mut libs = Vec::new();
    for entry in std::fs::read_dir(workspace_file("connectors")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        libs.push(lib(&name));
    }
    libs
}

/// A temp host folder for `config` with the bundled connectors, and what the shipped examples
/// point at: a CA file at `certs/ca.crt` (a fresh test CA).
fn folder_for(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins.d");
    std::fs::create_dir(&plugins).unwrap();
    for library in bundled() {
        std::fs::copy(&library, plugins.join(library.file_name().unwrap())).unwrap();
    }
    if config.contains("certs/ca.crt") {
        let certs = dir.path().join("certs");
        std::fs::create_dir(&certs).unwrap();
        TestCa::new("example CA").write(&certs);
    }
    dir
}

/// The repository's default config and every connector's example.yaml start a host that
/// serves their clusters (the clusters themselves need not be reachable).
#[tokio::test]
async fn shipped_configs_start_and_serve_their_clusters() {
    let mut files = vec![workspace_file("dbmon.yaml")];
    for entry in std::fs::read_dir(workspace_file("connectors")).unwrap() {
        let example = entry.unwrap().path().join("example.yaml");
        if example.exists() {
            files.push(example);
        }
    }
    assert!(files.len() >= 7, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // Examples read their passwords from the environment (`${env:NAME}`).
        for name in text
            .split("${env:")
            .skip(1)
            .filter_map(|r| r.split('}').next())
        {
            // SAFETY: set before this example's host starts; no other test reads these.
            unsafe { std::env::set_var(name, "example-password") };
        }
        let host = Host::start_in(folder_for(&text), &text)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut grpc = client(&host).await;
        let clusters = grpc
            .list_clusters(proto::ListClustersRequest {})
            .await
            .unwrap()
            .into_inner()
            .clusters;
        assert!(!clusters.is_empty(), "{}", file.display());
        for c in &clusters {
            assert!(
                text.contains(&format!("id: {}", c.id)),
                "{}: {}",
                file.display(),
                c.id
            );
        }
    }
}
