//! What the conformance kit's deadline checks need of an HTTP connector: nodes that never answer.

use dbmon_connector_api::testkit::SilentServer;

/// Two `http://` endpoints that never answer: one accepts and stays silent, one whose connects
/// hang. Give [`urls`](Self::urls) to `Conformance::cluster`; they serve while this lives.
pub struct SilentHttpNodes {
    _silent: SilentServer,
    _blackhole: SilentServer,
    urls: [String; 2],
}

impl SilentHttpNodes {
    /// Starts both on loopback; panics when they cannot listen.
    pub fn start() -> Self {
        let silent = SilentServer::start().expect("a silent loopback server");
        let blackhole = SilentServer::blackhole().expect("a blackhole loopback server");
        let urls = [&silent, &blackhole].map(|s| format!("http://{}", s.endpoint()));
        SilentHttpNodes {
            _silent: silent,
            _blackhole: blackhole,
            urls,
        }
    }

    /// The silent node's URL, then the blackhole's.
    pub fn urls(&self) -> [&str; 2] {
        [&self.urls[0], &self.urls[1]]
    }
}
