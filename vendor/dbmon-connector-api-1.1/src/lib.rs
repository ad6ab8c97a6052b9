//! # dbmon-connector-api
//!
//! Everything needed to write a dbmon connector: implement [`Connector`] and export it with
//! [`export_connector!`]. The macro builds the stable-ABI root module the host loads from
//! `plugins.d/`, owns the connector's tokio runtime, catches panics and forwards `tracing`
//! events to the host's log. No FFI type appears in a connector's code.
//!
//! ```
//! use dbmon_connector_api::{
//!     export_connector, ClusterConfig, CollectContext, ConfigError, Connector, ConnectorInfo,
//!     Error, Report,
//! };
//!
//! #[derive(serde::Deserialize)]
//! #[serde(deny_unknown_fields)]
//! pub struct Options {
//!     #[serde(default = "default_answer")]
//!     answer: f64,
//! }
//! fn default_answer() -> f64 { 42.0 }
//!
//! pub struct Hello { answer: f64 }
//!
//! impl Connector for Hello {
//!     type Options = Options;
//!
//!     fn info() -> ConnectorInfo {
//!         ConnectorInfo {
//!             name: "hello",
//!             version: env!("CARGO_PKG_VERSION"),
//!             description: "reports a constant",
//!             commands: vec![],
//!         }
//!     }
//!
//!     fn new(config: ClusterConfig<Options>) -> Result<Self, ConfigError> {
//!         if !config.options.answer.is_finite() {
//!             return Err(ConfigError::at("options.answer", "must be a finite number"));
//!         }
//!         Ok(Hello { answer: config.options.answer })
//!     }
//!
//!     async fn collect(&self, _ctx: &CollectContext) -> Result<Report, Error> {
//!         let mut report = Report::new();
//!         report.metric("answer", self.answer);
//!         Ok(report)
//!     }
//! }
//!
//! export_connector!(Hello);
//! ```
#![deny(missing_docs)]

mod config;
mod connector;
#[doc(hidden)]
pub mod export;
pub mod ffi;
mod logging;
pub mod names;
mod report;
mod runtime;
pub mod testkit;
pub mod text;

pub use config::{AuthConfig, ClusterConfig, ConfigError, Login, TlsConfig};
pub use connector::{CollectContext, CommandInfo, Connector, ConnectorInfo, Error};
pub use export::error_chain;
pub use report::{Labels, MetricBuilder, NodeRef, NodeStatus, Report, SeriesView, Status};

#[doc(hidden)]
pub mod __private {
    pub use abi_stable;
}

/// Exports `$connector` (a type implementing [`Connector`]) as the library's root module.
/// Use it once, in a crate built as `crate-type = ["cdylib", "rlib"]`.
///
/// This is what `#[abi_stable::export_root_module]` expands to, spelled with `$crate` paths so
/// that a connector crate needs no direct `abi_stable` dependency.
#[macro_export]
macro_rules! export_connector {
    ($connector:ty) => {
        /// The library's header, found by the host under abi_stable's loader symbol.
        #[unsafe(export_name = "_1as_0lib_1header_0root_bmodule_bloader")]
        pub static DBMON_CONNECTOR_LIB_HEADER: $crate::__private::abi_stable::library::LibHeader = {
            extern "C" fn erased_module() -> $crate::__private::abi_stable::library::RootModuleResult {
                $crate::__private::abi_stable::library::__call_root_module_loader(
                    $crate::export::root_module::<$connector>,
                )
            }
            // SAFETY: `erased_module` returns the module type named here, as abi_stable's
            // own attribute macro guarantees for the functions it wraps.
            unsafe {
                $crate::__private::abi_stable::library::LibHeader::from_constructor::<
                    $crate::ffi::ConnectorModRef,
                >(
                    erased_module,
                    $crate::__private::abi_stable::library::CheckTypeLayout::Yes,
                )
            }
        };
    };
}

#[cfg(test)]
mod tests {
    /// `export_connector!` hard-codes the symbol the loader looks for.
    #[test]
    fn root_module_symbol_matches_abi_stable() {
        assert_eq!(
            abi_stable::library::ROOT_MODULE_LOADER_NAME,
            "_1as_0lib_1header_0root_bmodule_bloader"
        );
    }
}
