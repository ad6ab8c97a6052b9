//! From collectors to a server (`dbmon.ingest.v1.Ingest`). A collector's agents record into
//! its own store; `collector` buffers each new report (bounded by bytes) and pushes it over
//! one `Push` stream; `server` stores it once (resent reports are recognised by collector,
//! run and sequence) and acknowledges it after it is stored. Commands from clients travel
//! the other way on the same stream.

mod buffer;
pub mod collector;
mod registry;
mod server;
mod session;
pub(crate) mod wire;

pub use collector::{Collector, Upstream};
pub use registry::{Collectors, Remote};
pub use server::IngestService;

#[cfg(test)]
mod tests;
