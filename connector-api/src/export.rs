//! Glue from the author's [`Connector`] to the stable ABI; what `export_connector!` expands to.
//! Every entry point catches panics: a panic must never unwind into the host.

use crate::{
    CollectContext, CommandError, ConfigError, Connector, SDK_VERSION, config,
    ffi::{
        ABI_VERSION, ConnectorMod, ConnectorModRef, FfiCollectRequest, FfiCommandInfo,
        FfiConfigError, FfiError, FfiErrorKind, FfiExtension, FfiHost, FfiInfo, FfiInstance,
        FfiReport, InstanceBox, extension,
    },
    logging,
    runtime::{self, InRuntime, panic_message},
};
use abi_stable::{
    prefix_type::PrefixTypeTrait,
    sabi_trait::TD_Opaque,
    std_types::{RResult, RString, RVec},
};
use async_ffi::{FfiFuture, FutureExt as _};
use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    sync::Arc,
    time::{Duration, Instant},
};

/// The root module of a library exporting connector `C`.
pub fn root_module<C: Connector>() -> ConnectorModRef {
    ConnectorMod {
        info: info::<C>,
        init: init::<C>,
        new_instance: new_instance::<C>,
        validate: validate::<C>,
    }
    .leak_into_prefix()
}

extern "C" fn info<C: Connector>() -> FfiInfo {
    match catch_unwind(C::info) {
        Ok(info) => FfiInfo {
            name: info.name.into(),
            version: info.version.into(),
            sdk_version: SDK_VERSION.into(),
            abi_version: ABI_VERSION.into(),
            description: info.description.into(),
            commands: info
                .commands
                .iter()
                .map(|c| FfiCommandInfo {
                    name: c.name.into(),
                    description: c.description.into(),
                })
                .collect(),
        },
        // An empty name makes the host refuse the library with this reason.
        Err(payload) => FfiInfo {
            name: RString::new(),
            version: RString::new(),
            sdk_version: SDK_VERSION.into(),
            abi_version: ABI_VERSION.into(),
            description: format!("info() failed: {}", panic_message(payload)).into(),
            commands: RVec::new(),
        },
    }
}

extern "C" fn init<C: Connector>(host: FfiHost) {
    let _ = catch_unwind(|| logging::init(host, C::info().name));
}

/// A connector built from one cluster's configuration, with its runtime and the cluster's id.
struct Built<C> {
    connector: C,
    handle: tokio::runtime::Handle,
    cluster: String,
}

/// Parses and validates a configuration into the connector, inside the library's runtime.
fn build<C: Connector>(config_json: &str) -> Result<Built<C>, ConfigError> {
    let config = config::parse::<C::Options>(config_json)?;
    let handle = runtime::handle(C::info().name).map_err(ConfigError::new)?;
    let cluster = config.id.clone();
    let connector = {
        let _enter = handle.enter();
        C::new(config)?
    };
    Ok(Built {
        connector,
        handle,
        cluster,
    })
}

/// Runs `f`, turning a panic into a configuration error and the error into its FFI form.
fn config_call<T>(f: impl FnOnce() -> Result<T, ConfigError>) -> RResult<T, FfiConfigError> {
    let (kind, error) = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => return RResult::ROk(value),
        Ok(Err(e)) => (FfiErrorKind::CONFIG, e),
        Err(payload) => (
            FfiErrorKind::PANICKED,
            ConfigError::new(panic_message(payload)),
        ),
    };
    RResult::RErr(FfiConfigError {
        kind,
        path: error.path.into(),
        message: error.message.into(),
    })
}

extern "C" fn new_instance<C: Connector>(
    config_json: RString,
) -> RResult<InstanceBox, FfiConfigError> {
    config_call(|| {
        let built = build::<C>(&config_json)?;
        let instance = Instance {
            connector: Some(Arc::new(built.connector)),
            handle: built.handle,
            cluster: built.cluster.into(),
        };
        Ok(InstanceBox::from_value(instance, TD_Opaque))
    })
}

extern "C" fn validate<C: Connector>(config_json: RString) -> RResult<(), FfiConfigError> {
    config_call(|| {
        let built = build::<C>(&config_json)?;
        // Dropped inside its runtime, like an instance: a client may spawn a task on drop.
        let _enter = built.handle.enter();
        drop(built.connector);
        Ok(())
    })
}

struct Instance<C> {
    /// `None` only while the instance drops.
    connector: Option<Arc<C>>,
    handle: tokio::runtime::Handle,
    /// The cluster's id, for the library's own warnings.
    cluster: Arc<str>,
}

impl<C> Instance<C> {
    fn connector(&self) -> Arc<C> {
        Arc::clone(
            self.connector
                .as_ref()
                .expect("an instance has its connector until dropped"),
        )
    }
}

impl<C> Drop for Instance<C> {
    fn drop(&mut self) {
        // The host drops an instance on its own thread, outside the library's runtime; a
        // pool or connection the connector holds may need that runtime to close (mysql_async
        // spawns a task when a `Conn` drops). A collection still running holds a reference of
        // its own and drops the connector inside the runtime when it ends.
        let _enter = self.handle.enter();
        drop(self.connector.take());
    }
}

/// Connectors get a tenth of the host's timeout (at most one second) less than the host
/// allows, so that work finished by `ctx.deadline` always reaches the host in time.
fn context(request: FfiCollectRequest) -> CollectContext {
    let timeout = Duration::from_millis(request.timeout_ms);
    let margin = (timeout / 10).min(Duration::from_secs(1));
    CollectContext {
        sequence: request.sequence,
        deadline: Instant::now() + timeout - margin,
    }
}

impl<C: Connector> FfiInstance for Instance<C> {
    fn collect(&self, request: FfiCollectRequest) -> FfiFuture<RResult<FfiReport, FfiError>> {
        let connector = self.connector();
        let ctx = context(request);
        let fut = async move {
            match connector.collect(&ctx).await {
                Ok(report) => Ok(report.into_ffi()),
                Err(e) => Err(ffi_error(&*e)),
            }
        };
        let task = runtime::spawn(&self.handle, Arc::clone(&self.cluster), fut);
        async move {
            let (result, longest) = task.await;
            result
                .map(|mut report| {
                    // abi 2.1 {
                    report.extensions.push(FfiExtension {
                        id: extension::LONGEST_POLL_US,
                        words: RVec::from(vec![longest.as_micros() as u64]),
                        text: RString::new(),
                    });
                    // } abi 2.1
                    report
                })
                .into()
        }
        .into_ffi()
    }

    fn run_command(
        &self,
        name: RString,
        args: RVec<RString>,
        request: FfiCollectRequest,
    ) -> FfiFuture<RResult<RString, FfiError>> {
        let connector = self.connector();
        let ctx = context(request);
        let args: Vec<String> = args.into_iter().map(String::from).collect();
        let fut = async move {
            match connector.run_command(name.as_str(), &args, &ctx).await {
                Ok(out) => Ok(RString::from(out)),
                Err(e) => Err(ffi_error(&*e)),
            }
        };
        InRuntime::new(self.handle.clone(), fut).into_ffi()
    }
}

/// An error's FFI form: its kind from the first cause the SDK knows (a [`CommandError`], a
/// tokio timeout), else `FAILED`; its message the whole chain.
fn ffi_error(err: &(dyn std::error::Error + 'static)) -> FfiError {
    let mut kind = FfiErrorKind::FAILED;
    let mut cause = Some(err);
    while let Some(e) = cause {
        if let Some(command) = e.downcast_ref::<CommandError>() {
            kind = command.kind();
            break;
        }
        if e.is::<tokio::time::error::Elapsed>() {
            kind = FfiErrorKind::TIMEOUT;
            break;
        }
        cause = e.source();
    }
    FfiError::new(kind, error_chain(err))
}

/// "outer: cause: root cause", skipping causes the outer message already spells out.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapped(Box<dyn std::error::Error + Send + Sync>);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("running the command")
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&*self.0)
        }
    }

    #[tokio::test]
    async fn errors_cross_with_the_kind_of_the_first_cause_the_sdk_knows() {
        let plain: crate::Error = "refused".into();
        assert_eq!(ffi_error(&*plain).kind, FfiErrorKind::FAILED);

        let unknown: crate::Error = CommandError::unknown("drain").into();
        let e = ffi_error(&*unknown);
        assert_eq!(e.kind, FfiErrorKind::UNSUPPORTED);
        assert_eq!(e.message.as_str(), "unknown command 'drain'");

        let wrapped = Wrapped(CommandError::bad_arguments("want a number").into());
        let e = ffi_error(&wrapped);
        assert_eq!(e.kind, FfiErrorKind::CONFIG);
        assert_eq!(
            e.message.as_str(),
            "running the command: bad arguments: want a number"
        );

        let elapsed = tokio::time::timeout(Duration::ZERO, std::future::pending::<()>())
            .await
            .unwrap_err();
        assert_eq!(
            ffi_error(&Wrapped(elapsed.into())).kind,
            FfiErrorKind::TIMEOUT
        );
    }
}
