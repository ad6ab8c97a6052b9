//! Helpers the checks and the author's tests run against: a connector that panics on purpose,
//! and a TCP server that never answers.

use crate::{ClusterConfig, CollectContext, ConfigError, Connector, ConnectorInfo, Error, Report};
use std::{
    net::{SocketAddr, TcpListener},
    sync::Once,
};

/// The payload of the probe's deliberate panic.
pub(super) const PROBE_PANIC: &str = "dbmon testkit: a deliberate panic in collect";

/// A connector whose collect panics: the kit runs it through the export layer to see the
/// panic come back as an error.
pub(super) struct PanicProbe;

impl Connector for PanicProbe {
    type Options = serde::de::IgnoredAny;

    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "dbmon-testkit-panic-probe",
            version: crate::ffi::API_VERSION,
            description: "panics in collect, on purpose",
            commands: Vec::new(),
        }
    }

    fn new(_config: ClusterConfig<Self::Options>) -> Result<Self, ConfigError> {
        quiet_probe_panics();
        Ok(PanicProbe)
    }

    async fn collect(&self, _ctx: &CollectContext) -> Result<Report, Error> {
        std::panic::panic_any(PROBE_PANIC)
    }
}

/// Keeps the probe's own panic out of stderr (it is expected); every other panic goes to the
/// hook that was installed before.
fn quiet_probe_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let ours = info
                .payload()
                .downcast_ref::<&str>()
                .is_some_and(|m| *m == PROBE_PANIC);
            if !ours {
                previous(info);
            }
        }));
    });
}

/// A loopback TCP server that accepts connections and never answers: point a connector's
/// valid configuration at it so that collect has to give up at its deadline, and the kit's
/// deadline and cancellation checks wait on real I/O. Stops listening when dropped.
///
/// The kernel completes the handshakes (until the backlog is full, after which connects hang
/// too); nothing is ever read or written.
#[derive(Debug)]
pub struct SilentServer {
    listener: TcpListener,
}

impl SilentServer {
    /// Listens on a free loopback port.
    pub fn start() -> std::io::Result<SilentServer> {
        Ok(SilentServer {
            listener: TcpListener::bind("127.0.0.1:0")?,
        })
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Its address as `127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        self.addr().to_string()
    }
}
