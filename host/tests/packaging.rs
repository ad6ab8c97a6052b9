//! The packaging: the systemd units (checked by `systemd-analyze verify` where it exists), the
//! container image's Dockerfile and compose file (read as text: no Docker engine runs here), the
//! completions and man page, `--version`, `--log-format json` and `dbmon health`.

use dbmon_test_support::{Host, built_library};
use serde_yaml_ng::Value;
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Output},
    time::Duration,
};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn dbmon(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dbmon"))
        .args(args)
        .output()
        .expect("run dbmon")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

// --- systemd --------------------------------------------------------------------------

/// The `[Service]` keys of a unit file, each with its values in order.
fn service_keys(unit: &str) -> BTreeMap<String, Vec<String>> {
    let mut keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut section = "";
    for line in unit.lines().map(str::trim) {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            section = line;
            continue;
        }
        if section == "[Service]" {
            let (key, value) = line.split_once('=').expect("KEY=value");
            keys.entry(key.into()).or_default().push(value.into());
        }
    }
    keys
}

fn assert_hardened(name: &str, unit: &str) {
    let keys = service_keys(unit);
    let value = |key: &str| -> &str {
        keys.get(key)
            .and_then(|v| v.last())
            .unwrap_or_else(|| panic!("{name} lacks {key}="))
    };
    for (key, expected) in [
        ("DynamicUser", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("NoNewPrivileges", "yes"),
        ("PrivateTmp", "yes"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("Restart", "on-failure"),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        ("KillSignal", "SIGTERM"),
        ("ConfigurationDirectory", "dbmon"),
    ] {
        assert_eq!(value(key), expected, "{name}: {key}");
    }
    assert!(value("StateDirectory").starts_with("dbmon"), "{name}");
    assert!(
        value("ReadOnlyPaths").ends_with("/usr/lib/dbmon/plugins.d"),
        "{name}"
    );
    assert!(
        value("ExecStart").starts_with("/usr/bin/dbmon serve --config /etc/dbmon/"),
        "{name}"
    );
    // Above the shipped config's shutdown grace, with room for a collector's last pushes (5 s).
    let stop = humantime::parse_duration(value("TimeoutStopSec")).unwrap();
    let config: Value = serde_yaml_ng::from_str(&read("packaging/dbmon.yaml")).unwrap();
    let grace = config["api"]["shutdown_grace"].as_str().unwrap();
    let grace = humantime::parse_duration(grace).unwrap();
    assert!(
        stop > grace + Duration::from_secs(5),
        "{name}: {stop:?} vs {grace:?}"
    );
}

#[test]
fn the_systemd_units_carry_the_hardening_and_stop_after_the_grace() {
    assert_hardened("dbmon.service", &read("packaging/dbmon.service"));
    assert_hardened("dbmon@.service", &read("packaging/dbmon@.service"));
    let keys = service_keys(&read("packaging/dbmon.service"));
    assert_eq!(
        keys["ExecStart"],
        ["/usr/bin/dbmon serve --config /etc/dbmon/dbmon.yaml"]
    );
    let template = service_keys(&read("packaging/dbmon@.service"));
    assert!(template["ExecStart"][0].ends_with("--role %i"));
}

#[test]
fn systemd_analyze_verifies_the_units() {
    let available = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        println!("skipped: systemd-analyze is not installed here");
        return;
    }
    // verify wants ExecStart's binary to exist: a copy of the units pointing at the built one.
    let dir = tempfile::tempdir().unwrap();
    for unit in ["dbmon.service", "dbmon@.service"] {
        let text = read(&format!("packaging/{unit}"))
            .replace("/usr/bin/dbmon", env!("CARGO_BIN_EXE_dbmon"));
        std::fs::write(dir.path().join(unit), text).unwrap();
    }
    for unit in ["dbmon.service", "dbmon@server.service"] {
        let output = Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(dir.path().join(unit))
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&output.stderr);
        // An unknown key or a bad value is only a warning (status 0): none is accepted either.
        let about_ours: Vec<&str> = said.lines().filter(|l| l.contains("dbmon")).collect();
        assert!(
            output.status.success() && about_ours.is_empty(),
            "systemd-analyze verify {unit}: {:?}\n{said}",
            output.status
        );
    }
}

// --- container ------------------------------------------------------------------------

/// One Dockerfile instruction: its keyword (upper case) and its arguments, continuation lines
/// joined.
#[derive(Debug)]
struct Instruction {
    keyword: String,
    args: String,
}

fn instructions(text: &str) -> Vec<Instruction> {
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                joined.push(std::mem::take(&mut current));
            }
        }
    }
    joined
        .into_iter()
        .map(|line| {
            let (keyword, args) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
            Instruction {
                keyword: keyword.to_uppercase(),
                args: args.trim().to_string(),
            }
        })
        .collect()
}

/// A JSON-form (exec form) argument list: `["dbmon", "serve"]`.
fn exec_form(args: &str) -> Vec<String> {
    serde_json::from_str(args).unwrap_or_else(|e| panic!("not exec form: {args}: {e}"))
}

#[test]
fn the_dockerfile_builds_in_one_stage_and_runs_unprivileged_in_another() {
    let all = instructions(&read("packaging/Dockerfile"));
    let stages: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, i)| i.keyword == "FROM")
        .map(|(n, _)| n)
        .collect();
    assert_eq!(stages.len(), 2, "a builder and a runtime stage");
    let builder = &all[stages[0]..stages[1]];
    let runtime = &all[stages[1]..];
    // The builder's Rust is the workspace's rust-version.
    let manifest = read("Cargo.toml");
    let rust_version = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .unwrap()
        .trim_matches('"');
    assert!(
        builder[0].args.starts_with(&format!("rust:{rust_version}")),
        "{:?}",
        builder[0]
    );
    assert!(
        builder
            .iter()
            .any(|i| i.keyword == "RUN" && i.args.contains("cargo xtask dist"))
    );
    let find = |keyword: &str| -> Vec<&Instruction> {
        runtime.iter().filter(|i| i.keyword == keyword).collect()
    };
    let user = find("USER");
    let user = &user.last().expect("a USER").args;
    let name = user.split(':').next().unwrap();
    assert!(name != "root" && name != "0", "USER {user}");
    let volumes: Vec<String> = find("VOLUME")
        .iter()
        .flat_map(|v| exec_form(&v.args))
        .collect();
    assert!(
        volumes.contains(&"/var/lib/dbmon".to_string()),
        "{volumes:?}"
    );
    assert!(
        volumes.contains(&"/usr/lib/dbmon/plugins.d".to_string()),
        "{volumes:?}"
    );
    assert_eq!(find("EXPOSE")[0].args, "4000");
    assert_eq!(exec_form(&find("ENTRYPOINT")[0].args), ["dbmon"]);
    assert_eq!(
        exec_form(&find("CMD")[0].args),
        ["serve", "--config", "/etc/dbmon/dbmon.yaml"]
    );
    let check = &find("HEALTHCHECK")[0].args;
    let command = exec_form(&check[check.find("CMD ").expect("HEALTHCHECK CMD") + 4..]);
    assert_eq!(command[..2], ["dbmon", "health"], "{command:?}");
    // Everything the runtime copies is in the dist layout the builder unpacked.
    let copies: Vec<&Instruction> = find("COPY");
    for wanted in ["/out/bin/dbmon", "/out/plugins.d/", "/out/dbmon.yaml"] {
        assert!(copies.iter().any(|c| c.args.contains(wanted)), "{wanted}");
    }
    // The build context leaves target/ out.
    let ignored = read("packaging/Dockerfile.dockerignore");
    assert!(ignored.lines().any(|l| l.trim() == "target"));
}

#[test]
fn compose_runs_a_server_a_collector_pushing_to_it_and_a_postgres() {
    let compose: Value = serde_yaml_ng::from_str(&read("packaging/compose.yaml")).unwrap();
    let services = compose["services"].as_mapping().unwrap();
    let names: Vec<&str> = services.keys().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(names, ["server", "collector", "postgres"]);
    let command = |service: &str| -> Vec<String> {
        serde_yaml_ng::from_value(compose["services"][service]["command"].clone()).unwrap()
    };
    assert!(command("server").ends_with(&["--role".into(), "server".into()]));
    assert!(command("collector").ends_with(&["--role".into(), "collector".into()]));
    assert!(
        compose["services"]["postgres"]["image"]
            .as_str()
            .unwrap()
            .starts_with("postgres:")
    );
    // Each dbmon service mounts its config, which exists, as /etc/dbmon/dbmon.yaml.
    for (service, file) in [("server", "server.yaml"), ("collector", "collector.yaml")] {
        let volumes: Vec<String> =
            serde_yaml_ng::from_value(compose["services"][service]["volumes"].clone()).unwrap();
        let mount = format!("./compose/{file}:/etc/dbmon/dbmon.yaml:ro");
        assert!(volumes.contains(&mount), "{service}: {volumes:?}");
    }
    let collector: Value =
        serde_yaml_ng::from_str(&read("packaging/compose/collector.yaml")).unwrap();
    assert_eq!(collector["collector"]["upstream"], "http://server:4000");
    assert_eq!(collector["clusters"][0]["connector"], "postgres");
    assert!(
        collector["clusters"][0]["endpoints"][0]
            .as_str()
            .unwrap()
            .starts_with("postgres://postgres:5432/")
    );
}

/// `dbmon serve --check` of a shipped config, with the built connectors as its plugins.
fn check(config: &str, args: &[&str]) -> Output {
    let plugins = tempfile::tempdir().unwrap();
    for name in ["system", "postgres"] {
        let library = built_library(&format!("dbmon_connector_{name}"));
        std::fs::copy(&library, plugins.path().join(library.file_name().unwrap())).unwrap();
    }
    Command::new(env!("CARGO_BIN_EXE_dbmon"))
        .args(["serve", "--check", "--config"])
        .arg(repo().join(config))
        .arg("--plugins-dir")
        .arg(plugins.path())
        .args(args)
        .env("PG_PASSWORD", "not-a-real-one")
        .output()
        .unwrap()
}

#[test]
fn the_shipped_configs_are_valid() {
    for (config, args) in [
        ("packaging/dbmon.yaml", &["--listen", "127.0.0.1:0"][..]),
        (
            "packaging/compose/server.yaml",
            &["--role", "server", "--listen", "127.0.0.1:0"][..],
        ),
        (
            "packaging/compose/collector.yaml",
            &["--role", "collector"][..],
        ),
    ] {
        let output = check(config, args);
        assert!(
            output.status.success(),
            "{config}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

// --- the binary's own packaging habits -----------------------------------------------------

#[test]
fn completions_for_each_shell_name_the_subcommands() {
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout(&dbmon(&["completions", shell]));
        for word in ["serve", "clusters", "log-format"] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
}

#[test]
fn the_man_page_is_roff_with_a_section_per_subcommand() {
    let page = stdout(&dbmon(&["man"]));
    assert!(page.contains(".TH dbmon 1"), "{page}");
    for section in [
        ".SH \"DBMON SERVE\"",
        ".SH \"DBMON CLUSTERS\"",
        ".SH \"DBMON CERTS INIT\"",
    ] {
        assert!(page.contains(section), "no {section}");
    }
    assert!(page.contains("\\-\\-config"), "serve's flags are listed");
    assert!(
        !page.contains(".SH \"DBMON WORKER\""),
        "hidden commands stay out"
    );
}

#[test]
fn version_names_the_connector_abis_it_loads() {
    let text = stdout(&dbmon(&["--version"]));
    assert!(
        text.starts_with(concat!("dbmon ", env!("CARGO_PKG_VERSION"), " (")),
        "{text}"
    );
    assert!(text.contains("connector ABI 2.x"), "{text}");
    assert!(
        text.contains("1.x connectors through the contract-1 adapter"),
        "{text}"
    );
}

fn host_with_system(args: &[&str]) -> Host {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins.d");
    std::fs::create_dir(&plugins).unwrap();
    let library = built_library("dbmon_connector_system");
    std::fs::copy(&library, plugins.join(library.file_name().unwrap())).unwrap();
    let config =
        "clusters:\n  - {id: local, connector: system, interval: 1s, timeout: 1s, jitter: 0s}\n";
    Host::start_in_with(dir, config, args).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn log_format_json_writes_one_json_object_per_line() {
    let host = host_with_system(&["--log-format", "json"]);
    let log = host.log();
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines.len() >= 2, "{log}");
    for line in lines.iter().take(5) {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(event["timestamp"].is_string(), "{line}");
        assert!(event["level"].is_string(), "{line}");
        assert!(event["fields"]["message"].is_string(), "{line}");
    }
}

#[test]
fn health_exits_zero_for_a_serving_host_and_one_when_unreachable() {
    let host = host_with_system(&[]);
    let output = host.cli(&["health"]);
    assert_eq!(stdout(&output).trim(), "SERVING");
    let output = host.cli(&["--json", "health"]);
    let answer: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(answer["status"], "SERVING");
    // A service the host does not know.
    let output = host.cli(&["health", "--service", "no.such.Service"]);
    assert_eq!(output.status.code(), Some(1));
    // Nobody listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let output = dbmon(&["--server", &url, "health"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot reach"));
}
