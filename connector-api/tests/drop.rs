//! What a connector holds is dropped inside the library's runtime, wherever the host drops it:
//! a cancelled collection, an instance, the one `validate` builds (`dbmon serve --check`).
//! Client crates need that: mysql_async spawns a task when a connection drops.

use abi_stable::std_types::RString;
use dbmon_connector_api::{
    ClusterConfig, CollectContext, ConfigError, Connector, ConnectorInfo, Error, Report,
    export::root_module, ffi::FfiCollectRequest,
};
use std::{
    future::Future,
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Waker},
};

/// For each drop of a `Pooled` (by cluster id): whether a tokio runtime was current.
static DROPS: Mutex<Vec<(String, bool)>> = Mutex::new(Vec::new());
static COLLECTING: AtomicUsize = AtomicUsize::new(0);

fn drops_of(id: &str) -> Vec<bool> {
    let drops = DROPS.lock().unwrap();
    drops
        .iter()
        .filter(|(i, _)| i == id)
        .map(|(_, r)| *r)
        .collect()
}

/// Stands for a client whose drop needs the runtime (it would `tokio::spawn` a close).
struct Handle(String);

impl Drop for Handle {
    fn drop(&mut self) {
        let in_runtime = tokio::runtime::Handle::try_current().is_ok();
        DROPS.lock().unwrap().push((self.0.clone(), in_runtime));
    }
}

struct Pooled {
    id: String,
    _pool: Handle,
}

impl Connector for Pooled {
    type Options = serde::de::IgnoredAny;

    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "pooled",
            version: "0.1.0",
            description: "holds a client that needs its runtime to drop",
            commands: vec![],
        }
    }

    fn new(config: ClusterConfig<Self::Options>) -> Result<Self, ConfigError> {
        Ok(Pooled {
            _pool: Handle(config.id.clone()),
            id: config.id,
        })
    }

    async fn collect(&self, _ctx: &CollectContext) -> Result<Report, Error> {
        // A connection checked out for this collection, dropped when it is cancelled.
        let _conn = Handle(format!("{}-conn", self.id));
        COLLECTING.fetch_add(1, Ordering::SeqCst);
        std::future::pending::<()>().await;
        Ok(Report::new())
    }
}

fn config(id: &str) -> RString {
    format!(r#"{{"id":"{id}","interval_ms":1000,"timeout_ms":1000,"options":null}}"#).into()
}

#[test]
fn an_instance_drops_inside_the_runtime() {
    let module = root_module::<Pooled>();
    let instance = (module.new_instance())(config("instance")).unwrap();
    drop(instance);
    assert_eq!(drops_of("instance"), [true]);
}

#[test]
fn a_validated_config_drops_inside_the_runtime() {
    let module = root_module::<Pooled>();
    let validate = module.validate();
    validate(config("validated")).unwrap();
    assert_eq!(drops_of("validated"), [true]);
}

#[test]
fn a_cancelled_collection_drops_inside_the_runtime() {
    let module = root_module::<Pooled>();
    let instance = (module.new_instance())(config("cancelled")).unwrap();
    let request = FfiCollectRequest {
        sequence: 1,
        timeout_ms: 1000,
    };
    let mut future = instance.collect(request);
    let mut cx = Context::from_waker(Waker::noop());
    assert!(std::pin::Pin::new(&mut future).poll(&mut cx).is_pending());
    // The collection runs as a task of the library's runtime: wait until it has started.
    wait_for(|| COLLECTING.load(Ordering::SeqCst) >= 1);
    drop(future);
    // Dropping the host's future cancels the task; the runtime drops it on its own thread.
    wait_for(|| !drops_of("cancelled-conn").is_empty());
    assert_eq!(drops_of("cancelled-conn"), [true]);
    // The task may still hold the connector for a moment: whichever drops it last, the
    // instance or the task, does so inside the runtime.
    drop(instance);
    wait_for(|| !drops_of("cancelled").is_empty());
    assert_eq!(drops_of("cancelled"), [true]);
}

fn wait_for(done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "not within 10 s");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}
