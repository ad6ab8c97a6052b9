//! `dbmon top` in a real terminal: tmux runs it against a real host, keys are sent with
//! `send-keys` and the screen read with `capture-pane`.

use crate::{folder_with_plugins, lib, reports_when};
use dbmon_test_support::{Host, built_binary};
use std::{
    process::{Command, Output},
    time::{Duration, Instant},
};

const CONFIG: &str = "
clusters:
  - {id: local, connector: system, interval: 500ms, timeout: 400ms}
";

/// A tmux server of its own (`-L`), killed when dropped, even when the test fails.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// Runs `command` in a detached 120×40 session named `top`.
    fn start(command: &str) -> Tmux {
        let tmux = Tmux {
            socket: format!("dbmon-top-test-{}", std::process::id()),
        };
        let output = tmux.run(&[
            "new-session",
            "-d",
            "-x",
            "120",
            "-y",
            "40",
            "-s",
            "top",
            command,
        ]);
        assert!(output.status.success(), "tmux: {output:?}");
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("tmux runs (apt-get install tmux)")
    }

    /// The visible screen of the session's pane.
    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "top"]).stdout).into()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "top"];
        args.extend(keys);
        assert!(self.run(&args).status.success());
    }

    /// The screen once `ready` holds of it; panics with the screen and `host`'s log after
    /// `within`.
    fn wait_for(&self, what: &str, host: &Host, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} on screen after 20 s:\n{screen}\nhost log:\n{}",
                host.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

fn verdict_line(screen: &str) -> Option<&str> {
    screen.lines().find(|l| {
        l.contains("local")
            && ["healthy", "degraded", "unhealthy"]
                .iter()
                .any(|v| l.contains(v))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_lists_the_cluster_opens_its_detail_follows_a_restart_and_quits_on_q() {
    let mut host = Host::start(CONFIG, &[lib("system")]);
    reports_when(&host, "local", 1, Duration::from_secs(15)).await;
    let address = host.url.trim_start_matches("http://").to_string();
    // The shell says how dbmon ended once it has, and keeps the pane open to read it.
    let command = format!(
        "{} --server {} top; echo \"top exited with $?\"; sleep 600",
        built_binary("dbmon").display(),
        host.url
    );
    let tmux = Tmux::start(&command);
    tokio::task::block_in_place(|| {
        let list = tmux.wait_for("cluster with its verdict", &host, |s| {
            verdict_line(s).is_some()
        });
        assert!(list.contains("dbmon top"), "{list}");
        assert!(list.contains("VERDICT"), "{list}");

        tmux.keys(&["Enter"]);
        let detail = tmux.wait_for("detail", &host, |s| s.contains("Metrics ("));
        assert!(detail.contains("Nodes (1)"), "{detail}");
        assert!(detail.contains("memory_total_bytes"), "{detail}");
        assert!(detail.contains("connector system"), "{detail}");
        tmux.keys(&["Escape"]);
        tmux.wait_for("list again", &host, |s| s.contains("VERDICT"));

        // The server goes away: the banner; it comes back on the same address: live again.
        host.stop();
        tmux.wait_for("disconnected banner", &host, |s| {
            s.contains(&format!("disconnected from http://{address}"))
                && s.contains("reconnecting (attempt")
        });
        let system = lib("system");
        let name = system.file_name().unwrap().to_str().unwrap();
        let dir = folder_with_plugins(&[(&system, name)]);
        let restarted = Host::start_in_with(dir, CONFIG, &["--listen", &address]);
        let restarted = restarted.unwrap_or_else(|e| panic!("restart on {address}: {e}"));
        tmux.wait_for("reconnection", &restarted, |s| {
            !s.contains("disconnected from") && verdict_line(s).is_some()
        });

        tmux.keys(&["q"]);
        let end = tmux.wait_for("exit", &restarted, |s| s.contains("top exited with"));
        assert!(end.contains("top exited with 0"), "{end}");
        // The terminal is given back: the view is gone from the screen.
        assert!(!end.contains("VERDICT"), "{end}");
    });
}
