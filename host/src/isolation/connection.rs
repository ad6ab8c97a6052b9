//! One running worker process: requests go in on its stdin, answers come back on its stdout,
//! its stderr goes to the host's log. When it dies, every pending call fails with the cause.

use super::{
    WorkerSpec, exit,
    protocol::{read_frame, write_frame},
};
use dbmon_proto::worker as proto;
use proto::{worker_request::Kind as Ask, worker_response::Kind as Answer};
use std::{
    collections::{HashMap, VecDeque},
    process::Stdio,
    sync::{Arc, Mutex, OnceLock},
};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
    sync::{mpsc, oneshot},
};

/// Lines of the worker's stderr kept to explain its death.
const KEPT_LINES: usize = 20;

type Pending = HashMap<u64, oneshot::Sender<Result<Answer, String>>>;

/// A running worker.
pub struct Connection {
    calls: mpsc::Sender<(Ask, oneshot::Sender<Result<Answer, String>>)>,
    death: Arc<OnceLock<String>>,
}

impl Connection {
    /// Starts `dbmon worker` for `spec`.
    pub async fn start(spec: &WorkerSpec) -> Result<Connection, String> {
        let exe =
            std::env::current_exe().map_err(|e| format!("cannot find the dbmon binary: {e}"))?;
        let mut command = Command::new(exe);
        command
            .arg("--log-level")
            .arg(&spec.log_level)
            .arg("worker")
            .arg("--plugin")
            .arg(&spec.plugin)
            .arg("--sha256")
            .arg(&spec.sha256)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if spec.insecure {
            command.arg("--insecure");
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start the connector worker: {e}"))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let last_lines = Arc::new(Mutex::new(VecDeque::with_capacity(KEPT_LINES)));
        tokio::spawn(forward_log(
            stderr,
            Arc::clone(&spec.cluster),
            Arc::clone(&last_lines),
        ));
        let (calls, inbox) = mpsc::channel(64);
        let death = Arc::new(OnceLock::new());
        tokio::spawn(serve(
            child,
            stdin,
            stdout,
            inbox,
            Arc::clone(&death),
            last_lines,
        ));
        Ok(Connection { calls, death })
    }

    /// Why the worker died, once it has.
    pub fn death(&self) -> Option<&str> {
        self.death.get().map(String::as_str)
    }

    /// Sends one request and waits for its answer (or the worker's death).
    pub async fn call(&self, ask: Ask) -> Result<Answer, String> {
        let (tx, rx) = oneshot::channel();
        let dead = || format!("connector worker {}", self.death().unwrap_or("stopped"));
        self.calls.send((ask, tx)).await.map_err(|_| dead())?;
        rx.await.map_err(|_| dead())?
    }
}

/// Pairs requests with answers until the worker's stdout ends, then records why it died.
async fn serve(
    mut child: Child,
    mut stdin: tokio::process::ChildStdin,
    mut stdout: tokio::process::ChildStdout,
    mut inbox: mpsc::Receiver<(Ask, oneshot::Sender<Result<Answer, String>>)>,
    death: Arc<OnceLock<String>>,
    last_lines: Arc<Mutex<VecDeque<String>>>,
) {
    let (answers_tx, mut answers) = mpsc::channel::<proto::WorkerResponse>(64);
    // Reading a frame is not cancel-safe: it gets a task of its own.
    let reader = tokio::spawn(async move {
        while let Ok(Some(answer)) = read_frame::<_, proto::WorkerResponse>(&mut stdout).await {
            if answers_tx.send(answer).await.is_err() {
                break;
            }
        }
    });
    let mut pending: Pending = HashMap::new();
    let mut next_id = 0u64;
    loop {
        tokio::select! {
            call = inbox.recv() => {
                let Some((ask, reply)) = call else { break };
                next_id += 1;
                let request = proto::WorkerRequest { id: next_id, kind: Some(ask) };
                if write_frame(&mut stdin, &request).await.is_err() {
                    let _ = reply.send(Err("the connector worker stopped reading".into()));
                    break;
                }
                pending.insert(next_id, reply);
            }
            answer = answers.recv() => {
                let Some(answer) = answer else { break };
                if let (Some(reply), Some(kind)) = (pending.remove(&answer.id), answer.kind) {
                    let _ = reply.send(Ok(kind));
                }
            }
        }
    }
    drop(stdin);
    reader.abort();
    // Dropped by the host (stop): `kill_on_drop` ends the child.
    let status = match tokio::time::timeout(std::time::Duration::from_secs(5), child.wait()).await {
        Ok(Ok(status)) => exit::describe(status),
        _ => {
            let _ = child.kill().await;
            "stopped answering and was killed".into()
        }
    };
    let lines: Vec<String> = last_lines
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .cloned()
        .collect();
    let cause = match exit::telling_line(&lines) {
        Some(line) => format!("{status}: {line}"),
        None => status,
    };
    let _ = death.set(cause.clone());
    for (_, reply) in pending.drain() {
        let _ = reply.send(Err(format!("connector worker {cause}")));
    }
}

/// Re-logs the worker's stderr under the cluster's name and keeps its last lines.
async fn forward_log(
    stderr: tokio::process::ChildStderr,
    cluster: Arc<str>,
    last: Arc<Mutex<VecDeque<String>>>,
) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::info!(target: "worker", cluster = %cluster, "{line}");
        let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
        if last.len() == KEPT_LINES {
            last.pop_front();
        }
        last.push_back(line);
    }
}
