//! The status page in a real browser: Debian's headless Chromium, driven over the DevTools
//! protocol on a pipe (`--remote-debugging-pipe`: JSON messages ending in a NUL byte on fds
//! 3 and 4, so no WebSocket client is needed), against a real dbmon with a few `misbehave`
//! clusters and this machine's `system` connector. The page stays open while a cluster turns
//! unhealthy, and must change without a reload.
//!
//! `DBMON_WEB_SCREENSHOT=FILE` also writes the overview's screenshot there (how
//! `docs/web.png` is made).

use crate::lib;
use dbmon_test_support::{Host, etcd::free_port};
use serde_json::{Value, json};
use std::{
    fs::File,
    io::{BufRead, BufReader, Write},
    os::{fd::FromRawFd, unix::process::CommandExt},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// Where Debian installs Chromium (`apt-get install chromium`).
const CHROMIUM: &str = "/usr/bin/chromium";

/// A headless Chromium and one page of it, attached.
struct Browser {
    child: Child,
    to: File,
    from: BufReader<File>,
    next_id: u64,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium with a fresh profile and opens a page of `width` × `height`.
    fn start(width: u32, height: u32) -> Browser {
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing: `apt-get install -y chromium` (.ci/run installs it)"
        );
        let profile = tempfile::tempdir().unwrap();
        let (child_reads, we_write) = pipe();
        let (we_read, child_writes) = pipe();
        let mut command = Command::new(CHROMIUM);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--no-default-browser-check",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("--window-size={width},{height}"))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: fcntl and dup2 are async-signal-safe. The child gets the pipe's ends as fds
        // 3 and 4: copied above both first (an end may be 3 or 4 itself), then dup2'd there,
        // which also clears close-on-exec.
        unsafe {
            command.pre_exec(move || {
                let reads = libc::fcntl(child_reads, libc::F_DUPFD_CLOEXEC, 10);
                let writes = libc::fcntl(child_writes, libc::F_DUPFD_CLOEXEC, 10);
                if reads < 0 || writes < 0 || libc::dup2(reads, 3) < 0 || libc::dup2(writes, 4) < 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("start chromium");
        // SAFETY: the parent's ends are ours alone; the child's are closed here after the fork.
        let (to, from) = unsafe {
            libc::close(child_reads);
            libc::close(child_writes);
            (File::from_raw_fd(we_write), File::from_raw_fd(we_read))
        };
        let mut browser = Browser {
            child,
            to,
            from: BufReader::new(from),
            next_id: 0,
            session: String::new(),
            _profile: profile,
        };
        let target = browser.call("Target.createTarget", json!({"url": "about:blank"}), None);
        let target = target["targetId"].as_str().unwrap().to_string();
        let attached = browser.call(
            "Target.attachToTarget",
            json!({"targetId": target, "flatten": true}),
            None,
        );
        browser.session = attached["sessionId"].as_str().unwrap().to_string();
        browser
    }

    /// Sends a command (to the page's session when `session` is given) and returns its
    /// result; events that come meanwhile are skipped.
    fn call(&mut self, method: &str, params: Value, session: Option<&str>) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = session.into();
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.to.write_all(&bytes).expect("write to chromium");
        loop {
            let mut reply = Vec::new();
            let n = self.from.read_until(0, &mut reply).expect("read chromium");
            assert!(n > 0, "chromium closed its pipe during {method}");
            reply.pop();
            let reply: Value = serde_json::from_slice(&reply).expect("JSON from chromium");
            if reply["id"] == id {
                assert!(reply["error"].is_null(), "{method}: {}", reply["error"]);
                return reply["result"].clone();
            }
        }
    }

    /// A command to the page.
    fn page(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.call(method, params, Some(&session))
    }

    /// Opens `url` in the page.
    fn open(&mut self, url: &str) {
        self.page("Page.navigate", json!({"url": url}));
    }

    /// The value of a JavaScript expression in the page.
    fn eval(&mut self, expression: &str) -> Value {
        let result = self.page(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true}),
        );
        result["result"]["value"].clone()
    }

    /// Evaluates `expression` until `ok` accepts its value; panics with the last value
    /// after `within`.
    fn wait_for(
        &mut self,
        expression: &str,
        within: Duration,
        ok: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let value = self.eval(expression);
            if ok(&value) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "after {within:?}, `{expression}` is still {value}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A PNG of the page as shown.
    fn screenshot(&mut self) -> Vec<u8> {
        use base64::Engine as _;
        let shot = self.page("Page.captureScreenshot", json!({"format": "png"}));
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A pipe whose ends are closed on exec (the child's copies as fds 3 and 4 are not).
fn pipe() -> (i32, i32) {
    let mut fds = [0; 2];
    // SAFETY: fds has room for the two descriptors.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(r, 0, "pipe2: {}", std::io::Error::last_os_error());
    (fds[0], fds[1])
}

/// Each overview row as [cluster, verdict text, row classes].
const ROWS: &str = "[...document.querySelectorAll('#clusters tbody tr')].map(r => \
     [r.dataset.cluster, r.querySelector('[data-f=verdict]').textContent, r.className])";

fn verdict_of<'a>(rows: &'a Value, cluster: &str) -> &'a str {
    rows.as_array()
        .and_then(|rows| rows.iter().find(|r| r[0] == cluster))
        .and_then(|r| r[1].as_str())
        .unwrap_or("")
}

#[test]
fn the_status_page_lists_verdicts_and_follows_a_change_without_a_reload() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("payments-down");
    let config = format!(
        "metrics_listen: 127.0.0.1:{port}
defaults: {{interval: 500ms, timeout: 400ms, jitter: 0s}}
clusters:
  - {{id: orders-db, connector: misbehave, options: {{mode: ok}}}}
  - {{id: payments, connector: misbehave, options: {{mode: ok, unhealthy_while: '{}'}}}}
  - {{id: billing-cache, connector: misbehave, options: {{mode: fail}}}}
  - {{id: this-machine, connector: system, interval: 1s, timeout: 900ms}}
",
        flag.display()
    );
    let host = Host::start(&config, &[lib("misbehave"), lib("system")]);
    let base = format!("http://127.0.0.1:{port}/");
    let mut browser = Browser::start(1100, 560);
    browser.open(&base);

    // Every cluster, each with its verdict in words (not by colour alone).
    let rows = browser.wait_for(ROWS, Duration::from_secs(20), |rows| {
        verdict_of(rows, "orders-db") == "✓ healthy"
            && verdict_of(rows, "payments") == "✓ healthy"
            && verdict_of(rows, "billing-cache") == "⚠ unreachable"
            && verdict_of(rows, "this-machine").contains(' ')
            && !verdict_of(rows, "this-machine").contains("unknown")
    });
    assert_eq!(
        rows.as_array().unwrap().len(),
        4,
        "{rows}; log:\n{}",
        host.log()
    );
    let live = browser.wait_for(
        "document.getElementById('live').textContent",
        Duration::from_secs(5),
        |t| t.as_str().is_some_and(|t| t.starts_with("● live")),
    );
    assert_eq!(live, json!("● live: updates as reports arrive"));
    let reason = browser.eval(
        "document.querySelector('[data-cluster=\"billing-cache\"] [data-f=reasons]').textContent",
    );
    assert!(
        reason.as_str().unwrap().contains("asked to fail"),
        "{reason}"
    );
    // The links are in the tab order.
    let focused = browser.eval(
        "(() => { const a = document.querySelector('#clusters tbody a'); a.focus(); \
         return [document.activeElement === a, a.tabIndex, a.getAttribute('href')]; })()",
    );
    assert_eq!(focused, json!([true, 0, "cluster/billing-cache"]));

    // The page stays open (a reload would lose this mark) while `payments` turns unhealthy.
    browser.eval("window.stillTheSamePage = true");
    std::fs::write(&flag, "").unwrap();
    let rows = browser.wait_for(ROWS, Duration::from_secs(10), |rows| {
        verdict_of(rows, "payments") == "✕ unhealthy"
    });
    let payments = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[0] == "payments")
        .unwrap();
    assert!(
        payments[2].as_str().unwrap().contains("v-unhealthy"),
        "{payments}"
    );
    assert_eq!(
        browser.eval("window.stillTheSamePage"),
        json!(true),
        "no reload"
    );
    let colour = browser
        .eval("getComputedStyle(document.querySelector('[data-cluster=payments] .badge')).color");
    assert_eq!(colour, json!("rgb(179, 38, 30)"), "the unhealthy colour");
    let reason = browser
        .eval("document.querySelector('[data-cluster=payments] [data-f=reasons]').textContent");
    assert!(
        reason.as_str().unwrap().contains("payments-down exists"),
        "{reason}"
    );
    let summary = browser.eval("document.getElementById('summary').textContent");
    assert!(
        summary.as_str().unwrap().contains("1 unhealthy"),
        "{summary}"
    );
    // Sparklines have drawn something by now.
    browser.wait_for(
        "document.querySelector('[data-cluster=orders-db] svg.spark path').getAttribute('d')",
        Duration::from_secs(5),
        |d| d.as_str().is_some_and(|d| d.contains('L')),
    );

    browser.eval("document.activeElement.blur()");
    let png = browser.screenshot();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 5_000,
        "{} bytes",
        png.len()
    );
    std::fs::write(host.dir.path().join("web.png"), &png).unwrap();
    if let Ok(path) = std::env::var("DBMON_WEB_SCREENSHOT") {
        std::fs::write(path, &png).unwrap();
    }

    // One cluster's page: its nodes, its metrics with units, a plot per metric.
    browser.open(&format!("{base}cluster/this-machine"));
    let detail = browser.wait_for(
        "[document.querySelectorAll('#nodes tbody tr').length, \
          document.querySelectorAll('#metrics tbody tr').length, \
          document.querySelectorAll('#metrics svg.plot').length, \
          document.querySelector('#metrics').textContent.includes('bytes'), \
          document.querySelector('h1').textContent, \
          document.readyState]",
        Duration::from_secs(10),
        // The whole page: read while it streams in, the table has only its first rows.
        |v| v[0].as_u64() >= Some(1) && v[1].as_u64() >= Some(3) && v[5] == "complete",
    );
    assert_eq!(detail[1], detail[2], "a plot per metric: {detail}");
    assert_eq!(detail[3], json!(true), "units: {detail}");
    assert!(
        detail[4].as_str().unwrap().starts_with("this-machine "),
        "{detail}"
    );
    browser.open(&format!("{base}cluster/no-such"));
    browser.wait_for(
        "document.querySelector('h1') && document.querySelector('h1').textContent",
        Duration::from_secs(5),
        |h| h == "Unknown cluster",
    );

    // A phone: the overview fits its width, the extra columns are hidden.
    browser.page(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 390, "height": 800, "deviceScaleFactor": 1, "mobile": true}),
    );
    browser.open(&base);
    let narrow = browser.wait_for(
        "document.querySelectorAll('#clusters tbody tr').length === 4 && \
         [document.documentElement.scrollWidth, \
          getComputedStyle(document.querySelector('#clusters td.wide')).display]",
        Duration::from_secs(10),
        // The emulated width may reach the layout a moment after the page opened: wait for
        // the narrow layout (still an error if it never comes).
        |v| v.is_array() && v[1] == json!("none"),
    );
    assert!(
        narrow[0].as_u64().unwrap() <= 390,
        "no sideways scrolling: {narrow}"
    );
    assert_eq!(narrow[1], json!("none"));
}
