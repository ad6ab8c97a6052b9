//! Helpers the checks and the author's tests run against: a connector that panics on purpose,
//! and TCP endpoints that never answer.

use crate::{ClusterConfig, CollectContext, ConfigError, Connector, ConnectorInfo, Error, Report};
use std::{
    net::{SocketAddr, TcpListener, TcpStream},
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

/// A loopback TCP endpoint that never answers: point a connector's valid configuration at it
/// so that collect has to give up at its deadline, and the kit's deadline and cancellation
/// checks wait on real I/O. Stops listening when dropped.
///
/// [`start`](SilentServer::start) accepts connections (the kernel completes the handshakes)
/// and never reads or writes: a client waits for an answer. [`blackhole`](SilentServer::blackhole)
/// does not even complete handshakes: a client waits in `connect`.
#[derive(Debug)]
pub struct SilentServer {
    listener: TcpListener,
    /// The connection that fills a blackhole's one-slot backlog.
    _filler: Option<TcpStream>,
}

impl SilentServer {
    /// Listens on a free loopback port; connections succeed and then hear nothing.
    pub fn start() -> std::io::Result<SilentServer> {
        Ok(SilentServer {
            listener: TcpListener::bind("127.0.0.1:0")?,
            _filler: None,
        })
    }

    /// Listens on a free loopback port with a backlog of one, which it fills itself: the
    /// kernel drops every further SYN, so connecting hangs until the client gives up.
    pub fn blackhole() -> std::io::Result<SilentServer> {
        // std has no backlog setting; tokio's TcpSocket does, and needs a runtime to register
        // the listener, which `into_std` then takes back out.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let listener = {
            let _enter = runtime.enter();
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(([127, 0, 0, 1], 0).into())?;
            socket.listen(0)?.into_std()?
        };
        let filler = TcpStream::connect(listener.local_addr()?)?;
        Ok(SilentServer {
            listener,
            _filler: Some(filler),
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
