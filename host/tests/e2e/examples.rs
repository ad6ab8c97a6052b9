use crate::{client, lib};
use dbmon_proto as proto;
use dbmon_test_support::{Host, workspace_file};

/// Every bundled connector: one library per folder under `connectors/`.
fn bundled() -> Vec<std::path::PathBuf> {
    let mut libs = Vec::new();
    for entry in std::fs::read_dir(workspace_file("connectors")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        libs.push(lib(&name));
    }
    libs
}

/// The repository's default config and every connector's example.yaml start a host that
/// serves their clusters.
#[tokio::test]
async fn shipped_configs_start_and_serve_their_clusters() {
    let mut files = vec![workspace_file("dbmon.yaml")];
    for entry in std::fs::read_dir(workspace_file("connectors")).unwrap() {
        let example = entry.unwrap().path().join("example.yaml");
        if example.exists() {
            files.push(example);
        }
    }
    assert!(files.len() >= 3, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let host = Host::try_start(&text, &bundled())
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
