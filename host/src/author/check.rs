//! `dbmon connector check FILE.so [--config CLUSTER.yaml]`: would `serve` load this library,
//! and does it pass the conformance kit against a real cluster?

use crate::{
    config::{Cluster, Config, ConfigErrors},
    plugins::{Plugin, TrustPolicy, load_checked, sha256_file},
};
use dbmon_connector_api::{
    SDK_VERSION,
    ffi::ABI_VERSION,
    testkit::{Conformance, Report},
};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// What to check, and how to print it.
#[derive(Debug, Clone)]
pub struct CheckArgs {
    /// The library.
    pub file: PathBuf,
    /// A cluster entry, or a host config with a cluster using this connector.
    pub config: Option<PathBuf>,
    /// Skip the file mode and owner rules, as `plugins.insecure: true` does.
    pub insecure: bool,
    /// One JSON object instead of text.
    pub json: bool,
}

/// The outcome, for the exit code: `Ok(true)` would load (and passed the kit), `Ok(false)`
/// refused or failed, `Err` could not check (a bad `--config`).
pub fn run(args: &CheckArgs) -> Result<bool, String> {
    let mut policy = TrustPolicy::default();
    let cluster_config = match &args.config {
        Some(path) => {
            let (config, is_host) = load_config(path)?;
            if is_host {
                policy = config.trust.clone();
            }
            Some((path.as_path(), config))
        }
        None => None,
    };
    policy.insecure |= args.insecure;
    // dlopen reads a bare file name as a library to search for: always give it a path. An
    // absolute one, not a resolved one: the trust walk must see the links `serve` would see.
    let file = std::path::absolute(&args.file).unwrap_or_else(|_| args.file.clone());
    let mut out = json!({ "file": file.display().to_string() });
    let plugin = match load_checked(&file, &policy) {
        Ok(plugin) => plugin,
        Err(reason) => {
            if let Ok(digest) = sha256_file(&file) {
                out["sha256"] = digest.into();
            }
            out["verdict"] = "refused".into();
            out["reason"] = reason.into();
            print(&out, None, args.json);
            return Ok(false);
        }
    };
    describe(&plugin, &mut out);
    out["verdict"] = "would load".into();
    let Some((path, config)) = cluster_config else {
        print(&out, None, args.json);
        return Ok(true);
    };
    let cluster = pick_cluster(path, &config, &plugin.name)?;
    let Some(module) = plugin.module() else {
        out["verdict"] = "would load (contract 1, through the adapter)".into();
        out["reason"] = format!(
            "built against connector-api {}: the conformance kit checks connectors of this SDK's contract (connector-api {SDK_VERSION}); rebuild the connector against it to run the kit",
            plugin.api_version
        )
        .into();
        print(&out, None, args.json);
        return Ok(false);
    };
    let report = Conformance::new(cluster.connector_json()).run_module(module);
    out["cluster"] = cluster.id.clone().into();
    let passed = report.passed();
    print(&out, Some(&report), args.json);
    Ok(passed)
}

fn describe(plugin: &Plugin, out: &mut Value) {
    let commands: Vec<Value> = plugin
        .commands
        .iter()
        .map(|(name, description)| json!({"name": name, "description": description}))
        .collect();
    out["sha256"] = plugin.sha256.clone().into();
    out["name"] = plugin.name.clone().into();
    out["version"] = plugin.version.clone().into();
    out["api_version"] = plugin.api_version.clone().into();
    out["abi_version"] = plugin.abi_version.clone().into();
    out["host_api_version"] = SDK_VERSION.into();
    out["host_abi_version"] = ABI_VERSION.into();
    out["description"] = plugin.description.clone().into();
    out["commands"] = commands.into();
}

fn print(out: &Value, report: Option<&Report>, json: bool) {
    if json {
        let mut out = out.clone();
        if let Some(report) = report {
            let checks: Vec<Value> = report
                .checks()
                .iter()
                .map(|c| json!({"check": c.name, "result": c.outcome.as_str().to_lowercase(), "message": c.message}))
                .collect();
            out["conformance"] = checks.into();
            out["passed"] = report.passed().into();
        }
        super::say!("{out}");
        return;
    }
    let text = |key: &str| out[key].as_str().unwrap_or_default().to_string();
    let mut rows = vec![("file", text("file"))];
    if out.get("sha256").is_some() {
        rows.push(("sha256", text("sha256")));
    }
    if out.get("name").is_some() {
        let api = format!(
            "{} (this host: {SDK_VERSION}), ABI {} (this host: {ABI_VERSION})",
            text("api_version"),
            text("abi_version")
        );
        let commands: Vec<String> = out["commands"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                format!(
                    "{}: {}",
                    c["name"].as_str().unwrap_or_default(),
                    c["description"].as_str().unwrap_or_default()
                )
            })
            .collect();
        let commands = if commands.is_empty() {
            "none".into()
        } else {
            commands.join("; ")
        };
        rows.extend([
            ("name", text("name")),
            ("version", text("version")),
            ("connector-api", api),
            ("description", text("description")),
            ("commands", commands),
        ]);
    }
    let verdict = match out.get("reason").and_then(Value::as_str) {
        Some(reason) => format!("refused: {reason}"),
        None => text("verdict"),
    };
    rows.push(("verdict", verdict));
    for (key, value) in rows {
        super::say!("{key:<14} {value}");
    }
    if let Some(report) = report {
        super::say!(
            "\nconformance checks against cluster '{}':\n{report}",
            text("cluster")
        );
    }
}

/// Reads `path` as a host config (it has `clusters:`) or as one cluster entry; true when it is
/// a host config, whose `plugins:` trust rules then apply.
fn load_config(path: &Path) -> Result<(Config, bool), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let is_host = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text)
        .map(|v| v.get("clusters").is_some())
        .unwrap_or(false);
    if is_host {
        return Config::parse(path, &text)
            .map(|c| (c, true))
            .map_err(|e| e.to_string());
    }
    Config::parse(path, &as_host_config(&text))
        .map(|c| (c, false))
        .map_err(|ConfigErrors(errors)| {
            // Put positions back where the operator wrote them.
            let errors = errors.into_iter().map(|mut e| {
                e.position.line = e.position.line.saturating_sub(1).max(1);
                e.position.column = e.position.column.saturating_sub(INDENT.len()).max(1);
                e
            });
            ConfigErrors(errors.collect()).to_string()
        })
}

const INDENT: &str = "    ";

/// One cluster entry as the only item of `clusters:`: every line moves one down and
/// `INDENT.len()` to the right, so error positions map back exactly.
fn as_host_config(entry: &str) -> String {
    let mut text = String::from("clusters:\n");
    for (i, line) in entry.lines().enumerate() {
        let line = if line.trim_end() == "---" { "" } else { line };
        text.push_str(if i == 0 { "  - " } else { INDENT });
        text.push_str(line);
        text.push('\n');
    }
    text
}

fn pick_cluster<'c>(path: &Path, config: &'c Config, name: &str) -> Result<&'c Cluster, String> {
    config
        .clusters
        .iter()
        .find(|c| c.connector == name)
        .ok_or_else(|| {
            let found: Vec<String> = config
                .clusters
                .iter()
                .map(|c| format!("{} ({})", c.id, c.connector))
                .collect();
            format!(
                "{}: no cluster uses connector '{name}' (found: {})",
                path.display(),
                if found.is_empty() {
                    "none".into()
                } else {
                    found.join(", ")
                }
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_entry_alone_is_read_with_its_own_positions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cluster.yaml");
        std::fs::write(
            &path,
            "id: web\nconnector: hello\nendpoints: [a:1]\noptions: {x: 1}\n",
        )
        .unwrap();
        let (config, is_host) = load_config(&path).unwrap();
        assert!(!is_host);
        let json: Value = serde_json::from_str(&config.clusters[0].connector_json()).unwrap();
        assert_eq!(json["id"], "web");
        assert_eq!(json["endpoints"], json!(["a:1"]));
        assert_eq!(json["options"], json!({"x": 1}));

        std::fs::write(&path, "id: web\nconnector: hello\ninterval: soon\n").unwrap();
        let err = load_config(&path).unwrap_err();
        assert!(
            err.starts_with(&format!("{}:3:11: invalid duration 'soon'", path.display())),
            "{err}"
        );
    }

    #[test]
    fn a_host_config_gives_its_first_cluster_of_the_connector_and_its_trust_rules() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dbmon.yaml");
        let text = "plugins: {insecure: true}\nclusters:\n  - {id: a, connector: system}\n  - {id: b, connector: hello}\n";
        std::fs::write(&path, text).unwrap();
        let (config, is_host) = load_config(&path).unwrap();
        assert!(is_host && config.trust.insecure);
        assert_eq!(pick_cluster(&path, &config, "hello").unwrap().id, "b");
        let err = pick_cluster(&path, &config, "other").unwrap_err();
        assert!(
            err.ends_with("no cluster uses connector 'other' (found: a (system), b (hello))"),
            "{err}"
        );
    }
}
