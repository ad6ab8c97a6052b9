//! `dbmon worker`: runs one cluster's connector in its own process and answers the host over
//! stdin/stdout. Whatever the connector does to this process, the host survives it.

use super::protocol::{error_to_wire, read_frame, to_wire, write_frame};
use crate::plugins::{CollectError, Instance, TrustPolicy, convert, load_checked};
use dbmon_connector_api::ffi::FfiCollectRequest;
use dbmon_proto::worker as proto;
use proto::{worker_request::Kind as Ask, worker_response::Kind as Answer};
use std::{os::fd::FromRawFd, path::PathBuf, process::ExitCode, sync::Arc, time::Duration};
use tokio::sync::mpsc;

/// Flags of the hidden `dbmon worker` subcommand; the host sets them.
#[derive(Debug, clap::Args)]
#[deny(missing_docs)]
pub struct WorkerArgs {
    /// The connector library.
    #[arg(long)]
    pub plugin: PathBuf,
    /// The SHA-256 the host checked; the worker refuses a file that changed since.
    #[arg(long)]
    pub sha256: String,
    /// Skip the file mode and owner checks (plugins.insecure).
    #[arg(long)]
    pub insecure: bool,
}

/// Serves requests until the host closes stdin.
pub async fn run(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    // A crashing connector must die at once: writing a core dump of the worker takes seconds,
    // during which its cluster's collections time out.
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit with a valid struct; it only affects this process.
    unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) };
    // The protocol owns the real stdout; anything the connector prints goes to stderr.
    // SAFETY: dup/dup2 on the standard descriptors, before any other thread writes to them.
    let protocol_fd = unsafe { libc::dup(1) };
    anyhow::ensure!(protocol_fd >= 0, "cannot duplicate stdout");
    unsafe { libc::dup2(2, 1) };
    // SAFETY: `protocol_fd` is a fresh descriptor owned by nothing else.
    let mut out = tokio::fs::File::from_std(unsafe { std::fs::File::from_raw_fd(protocol_fd) });
    let mut input = tokio::io::stdin();

    let policy = TrustPolicy {
        insecure: args.insecure,
        allow: vec![args.sha256.clone()],
    };
    let plugin = load_checked(&args.plugin, &policy)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.plugin.display()))?;
    let Some(first) = read_frame::<_, proto::WorkerRequest>(&mut input).await? else {
        return Ok(ExitCode::SUCCESS);
    };
    let Some(Ask::InitConfigJson(config)) = first.kind else {
        anyhow::bail!("the first request must be init");
    };
    let instance = match plugin.instantiate(config) {
        Ok(instance) => Arc::new(instance),
        Err(e) => {
            let refused = Answer::Refused(proto::ConfigRefused {
                path: e.path,
                message: e.message,
            });
            write_frame(
                &mut out,
                &proto::WorkerResponse {
                    id: first.id,
                    kind: Some(refused),
                },
            )
            .await?;
            return Ok(ExitCode::SUCCESS);
        }
    };
    write_frame(
        &mut out,
        &proto::WorkerResponse {
            id: first.id,
            kind: Some(Answer::Ready(true)),
        },
    )
    .await?;

    let (answers, mut outbox) = mpsc::channel::<proto::WorkerResponse>(64);
    let writer = tokio::spawn(async move {
        while let Some(answer) = outbox.recv().await {
            if write_frame(&mut out, &answer).await.is_err() {
                break;
            }
        }
    });
    while let Some(request) = read_frame::<_, proto::WorkerRequest>(&mut input).await? {
        let instance = Arc::clone(&instance);
        let answers = answers.clone();
        tokio::spawn(async move {
            let kind = answer(&instance, request.kind).await;
            let _ = answers
                .send(proto::WorkerResponse {
                    id: request.id,
                    kind: Some(kind),
                })
                .await;
        });
    }
    drop(answers);
    let _ = writer.await;
    Ok(ExitCode::SUCCESS)
}

async fn answer(instance: &Instance, ask: Option<Ask>) -> Answer {
    let limit = |ms: u64| Duration::from_millis(ms);
    let failed = |e: CollectError| Answer::Failed(error_to_wire(&e));
    match ask {
        Some(Ask::Collect(c)) => {
            let request = FfiCollectRequest {
                sequence: c.sequence,
                timeout_ms: c.timeout_ms,
            };
            match tokio::time::timeout(limit(c.timeout_ms), instance.collect(request)).await {
                Ok(Ok(report)) => match convert::collected(&report) {
                    Ok(collected) => Answer::Report(to_wire(&collected)),
                    Err(e) => failed(CollectError::Failed(e)),
                },
                Ok(Err(e)) => failed(e),
                Err(_) => failed(CollectError::timeout("the collection", limit(c.timeout_ms))),
            }
        }
        Some(Ask::Command(c)) => {
            let request = FfiCollectRequest {
                sequence: 0,
                timeout_ms: c.timeout_ms,
            };
            let call = instance.run_command(&c.name, c.args, request);
            match tokio::time::timeout(limit(c.timeout_ms), call).await {
                Ok(Ok(output)) => Answer::Output(output),
                Ok(Err(e)) => failed(e),
                Err(_) => failed(CollectError::timeout("the command", limit(c.timeout_ms))),
            }
        }
        Some(Ask::InitConfigJson(_)) => Answer::Error("already initialised".into()),
        None => Answer::Error("empty request".into()),
    }
}
