//! `dbmon reload`: asks the server to read its configuration again; prints what changed, or
//! the errors that kept the running configuration (exit 2, as `serve --check` does).

use super::Failure;
use crate::security::client::{self, ClientSecurity};
use dbmon_proto::admin::{ReloadRequest, admin_client::AdminClient};
use std::{io::Write, process::ExitCode};

/// Runs the reload on `server`; the exit code says whether it was applied.
pub async fn run(
    server: &str,
    security: &ClientSecurity,
    json: bool,
    out: &mut impl Write,
) -> Result<ExitCode, Failure> {
    let (channel, token) = client::connect(server, security)
        .await
        .map_err(|e| Failure::Server(e.replace("bad server URL", "bad --server")))?;
    let answer = AdminClient::with_interceptor(channel, token)
        .reload(ReloadRequest {})
        .await?
        .into_inner();
    if json {
        let line = serde_json::json!({
            "applied": answer.errors.is_empty(),
            "errors": answer.errors,
            "added": answer.added,
            "removed": answer.removed,
            "changed": answer.changed,
            "loaded": answer.loaded,
            "refused": answer.refused,
            "notes": answer.notes,
            "listeners": answer.listeners,
            "settings": answer.settings,
        });
        writeln!(out, "{line}")?;
    } else if answer.errors.is_empty() {
        let list = |ids: &[String]| {
            if ids.is_empty() {
                "none".to_string()
            } else {
                ids.join(", ")
            }
        };
        writeln!(out, "reloaded: added {}", list(&answer.added))?;
        writeln!(out, "          removed {}", list(&answer.removed))?;
        writeln!(out, "          changed {}", list(&answer.changed))?;
        for loaded in &answer.loaded {
            writeln!(out, "loaded connector {loaded}")?;
        }
        for refused in &answer.refused {
            writeln!(out, "refused library {refused}")?;
        }
        for moved in &answer.listeners {
            writeln!(out, "listener {moved}")?;
        }
        for setting in &answer.settings {
            writeln!(out, "setting {setting}")?;
        }
        for note in &answer.notes {
            writeln!(out, "note: {note}")?;
        }
    } else {
        eprintln!("dbmon: the configuration has errors; the running one stays:");
        for error in &answer.errors {
            eprintln!("{error}");
        }
    }
    out.flush()?;
    Ok(if answer.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
