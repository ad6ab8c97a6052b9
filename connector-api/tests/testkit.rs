//! The conformance kit passes a well-behaved connector and catches each kind of misbehaviour,
//! naming it.

use dbmon_connector_api::{
    ClusterConfig, CollectContext, CommandInfo, ConfigError, Connector, ConnectorInfo, Error,
    NodeStatus, Report,
    testkit::{Conformance, Outcome, SilentServer},
};
use std::time::Duration;
use tokio::{io::AsyncReadExt, net::TcpStream, time::timeout_at};

/// What the test connector does wrong, if anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum Flaw {
    None,
    IgnoresDeadline,
    Blocks,
    PanicsInNew,
    AcceptsAnything,
    PanickingCommand,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default = "no_flaw")]
    flaw: Flaw,
    #[serde(default)]
    limit: u32,
}

fn no_flaw() -> Flaw {
    Flaw::None
}

/// Reads a byte from each endpoint, as a protocol connector waits for a server's answer.
struct Reader {
    endpoints: Vec<String>,
    flaw: Flaw,
}

impl Connector for Reader {
    type Options = Options;

    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "reader",
            version: "0.1.0",
            description: "reads a byte from each endpoint",
            commands: vec![CommandInfo {
                name: "echo",
                description: "prints its arguments",
            }],
        }
    }

    fn new(config: ClusterConfig<Options>) -> Result<Self, ConfigError> {
        let flaw = config.options.flaw;
        if config.options.limit > 10 {
            if flaw == Flaw::PanicsInNew {
                panic!("limit too high");
            }
            if flaw != Flaw::AcceptsAnything {
                return Err(ConfigError::at("options.limit", "must be at most 10"));
            }
        }
        Ok(Reader {
            endpoints: config.endpoints,
            flaw,
        })
    }

    async fn collect(&self, ctx: &CollectContext) -> Result<Report, Error> {
        let deadline = match self.flaw {
            Flaw::IgnoresDeadline => ctx.deadline + Duration::from_secs(2),
            Flaw::Blocks => {
                std::thread::sleep(Duration::from_millis(200));
                ctx.deadline
            }
            _ => ctx.deadline,
        };
        let mut report = Report::new();
        for endpoint in &self.endpoints {
            let node = report.node(endpoint, NodeStatus::Live);
            let read = async {
                let mut stream = TcpStream::connect(endpoint).await?;
                stream.read_u8().await
            };
            match timeout_at(deadline.into(), read).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => report.degraded(format!("{endpoint}: {e}")),
                Err(_) => {
                    report.node_status(node, NodeStatus::Unavailable);
                    report.degraded(format!("{endpoint} did not answer in time"));
                }
            }
        }
        Ok(report)
    }

    async fn run_command(
        &self,
        command: &str,
        args: &[String],
        _ctx: &CollectContext,
    ) -> Result<String, Error> {
        match command {
            "echo" if self.flaw == Flaw::PanickingCommand => panic!("echo broke"),
            "echo" => Ok(args.join(" ")),
            other => Err(format!("unknown command '{other}'").into()),
        }
    }
}

fn kit(silent: &SilentServer, flaw: &str) -> Conformance {
    let options = format!(r#"{{"flaw": "{flaw}"}}"#);
    Conformance::cluster(&[&silent.endpoint()], &options)
        .invalid_options(
            &format!(r#"{{"flaw": "{flaw}", "limit": 11}}"#),
            "options.limit",
        )
        .command_args("echo", &["a", "b"])
}

/// The first check whose name starts with `check`.
fn outcome(report: &dbmon_connector_api::testkit::Report, check: &str) -> (Outcome, String) {
    let check = report
        .checks()
        .iter()
        .find(|c| c.name.starts_with(check))
        .unwrap_or_else(|| panic!("no check '{check}…' in\n{report}"));
    (check.outcome, check.message.clone())
}

#[test]
fn a_well_behaved_connector_passes_every_check() {
    let silent = SilentServer::start().unwrap();
    let report = kit(&silent, "none").run_in_process::<Reader>();
    report.assert_passed();
    let names: Vec<&str> = report.checks().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "info",
            "valid config",
            "invalid options {\"flaw\": \"none\", \"limit\": 11}",
            "kit: options null",
            "kit: options 42",
            "kit: options with an unknown field",
            "collect",
            "deadline 300 ms",
            "cancellation",
            "panic in collect",
            "command echo",
            "unknown command",
        ]
    );
    let (_, message) = outcome(&report, "cancellation");
    assert!(message.contains("mid-flight"), "{message}");
    let (_, message) = outcome(&report, "kit: options with an unknown field");
    assert!(message.contains("unknown field"), "{message}");
    let (_, message) = outcome(&report, "panic in collect");
    assert!(
        message.contains("connector panicked: dbmon testkit"),
        "{message}"
    );
    assert_eq!(report.connector, "reader");
}

#[test]
fn a_collect_that_outlives_its_deadline_fails() {
    let silent = SilentServer::start().unwrap();
    let report = kit(&silent, "ignores_deadline").run_in_process::<Reader>();
    assert!(!report.passed());
    let (result, message) = outcome(&report, "deadline 300 ms");
    assert_eq!(result, Outcome::Failed, "{message}");
    assert!(message.contains("still running after"), "{message}");
    assert!(message.contains("ctx.deadline"), "{message}");
}

#[test]
fn a_collect_that_blocks_its_thread_fails() {
    let silent = SilentServer::start().unwrap();
    let report = kit(&silent, "blocks").run_in_process::<Reader>();
    let (result, message) = outcome(&report, "collect");
    assert_eq!(result, Outcome::Failed, "{message}");
    assert!(message.contains("blocked the thread for"), "{message}");
}

#[test]
fn panics_and_accepted_invalid_configs_fail() {
    let silent = SilentServer::start().unwrap();
    let invalid = "invalid options {\"flaw\": \"panics_in_new\"";
    let report = kit(&silent, "panics_in_new").run_in_process::<Reader>();
    let (result, message) = outcome(&report, invalid);
    assert_eq!(result, Outcome::Failed, "{message}");
    assert!(
        message.contains("new panicked instead of returning a ConfigError"),
        "{message}"
    );

    let invalid = "invalid options {\"flaw\": \"accepts_anything\"";
    let report = kit(&silent, "accepts_anything").run_in_process::<Reader>();
    let (result, message) = outcome(&report, invalid);
    assert_eq!(result, Outcome::Failed, "{message}");
    assert_eq!(message, "accepted a configuration it should refuse");

    let report = kit(&silent, "panicking_command").run_in_process::<Reader>();
    let (result, message) = outcome(&report, "command echo");
    assert_eq!(result, Outcome::Failed, "{message}");
    assert!(
        message.contains("connector panicked: echo broke"),
        "{message}"
    );
    assert_eq!(report.failures().count(), 1, "{report}");
}

#[test]
fn a_refusal_at_another_path_fails() {
    let silent = SilentServer::start().unwrap();
    let report = Conformance::cluster(&[&silent.endpoint()], "{}")
        .invalid_options(r#"{"limit": 11}"#, "options.flaw")
        .invalid_endpoints(&[], "endpoints")
        .run_in_process::<Reader>();
    let (result, message) = outcome(&report, "invalid options {\"limit\": 11}");
    assert_eq!(result, Outcome::Failed, "{message}");
    assert!(
        message
            .contains("refused at `options.limit`, expected a path starting with `options.flaw`"),
        "{message}"
    );
    // This connector takes any endpoints: the listed invalid ones are accepted.
    let (result, _) = outcome(&report, "invalid endpoints []");
    assert_eq!(result, Outcome::Failed);
}

#[test]
fn an_invalid_valid_config_skips_what_needs_an_instance() {
    let report = Conformance::cluster(&[], r#"{"limit": 99}"#).run_in_process::<Reader>();
    let (result, message) = outcome(&report, "valid config");
    assert_eq!(result, Outcome::Failed);
    assert_eq!(message, "refused at `options.limit`: must be at most 10");
    assert_eq!(outcome(&report, "collect").0, Outcome::Skipped);
    assert_eq!(outcome(&report, "command echo").0, Outcome::Skipped);
    // The probe needs no instance of the connector.
    assert_eq!(outcome(&report, "panic in collect").0, Outcome::Passed);
    let table = report.to_string();
    assert!(table.starts_with("CHECK"), "{table}");
    assert!(
        table.ends_with("conformance: 1 failed (11 checks)"),
        "{table}"
    );
}

#[test]
#[should_panic(expected = "connector 'reader' failed 1 of")]
fn assert_passed_panics_naming_the_failures() {
    let report = Conformance::cluster(&[], r#"{"limit": 99}"#).run_in_process::<Reader>();
    report.assert_passed();
}

#[tokio::test]
async fn the_kit_runs_inside_an_async_test_too() {
    let silent = SilentServer::start().unwrap();
    kit(&silent, "none")
        .run_in_process::<Reader>()
        .assert_passed();
}

#[test]
fn silent_servers_never_answer() {
    use std::io::Read;
    let wait = Duration::from_millis(300);
    let silent = SilentServer::start().unwrap();
    let mut stream = std::net::TcpStream::connect_timeout(&silent.addr(), wait).unwrap();
    stream.set_read_timeout(Some(wait)).unwrap();
    let err = stream.read(&mut [0u8; 1]).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock, "{err}");

    let blackhole = SilentServer::blackhole().unwrap();
    for _ in 0..2 {
        let err = std::net::TcpStream::connect_timeout(&blackhole.addr(), wait).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
    }
}
