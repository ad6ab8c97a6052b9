//! `dbmon serve`: config → plugins → agents → store → gRPC, until SIGINT or SIGTERM.

use crate::{
    agent::Agent,
    api::Monitor,
    config::{Cluster, Config, ConfigError, ConfigErrors, Isolation},
    isolation::{Worker, WorkerSpec},
    plugins::{Plugin, Registry},
    runner::Runner,
    store::{ClusterInfo, Store},
};
use dbmon_proto as proto;
use std::{collections::HashMap, path::PathBuf, process::ExitCode, sync::Arc};
use tokio::sync::watch;
use tokio_stream::wrappers::TcpListenerStream;

/// Flags of `dbmon serve`; each overrides the config file.
#[derive(Debug, clap::Args)]
#[deny(missing_docs)]
pub struct ServeArgs {
    /// The YAML config file.
    #[arg(long, env = "DBMON_CONFIG", default_value = "dbmon.yaml")]
    pub config: PathBuf,
    /// Address to serve gRPC on (overrides `listen:`); port 0 picks a free port.
    #[arg(long, env = "DBMON_LISTEN")]
    pub listen: Option<String>,
    /// Folder of connector libraries (overrides `plugins_dir:`).
    #[arg(long, env = "DBMON_PLUGINS_DIR")]
    pub plugins_dir: Option<PathBuf>,
    /// Only check the configuration with the loaded connectors, print the verdict and exit
    /// (status 0 when it is valid, 2 when not).
    #[arg(long)]
    pub check: bool,
}

/// Runs the host; returns when it was asked to stop, or at once on a bad config. `log_level`
/// is passed on to connector workers.
pub async fn serve(args: ServeArgs, log_level: &str) -> anyhow::Result<ExitCode> {
    let mut config = match Config::load(&args.config) {
        Ok(config) => config,
        Err(errors) => return Ok(refuse(&errors)),
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(dir) = args.plugins_dir {
        config.plugins_dir = dir;
    }
    let (registry, _refusals) = Registry::load_dir(&config.plugins_dir, &config.trust);
    let registry = Arc::new(registry);
    if args.check {
        return Ok(check(&config, &registry));
    }
    let runners = match start_runners(&config, &registry, log_level).await {
        Ok(runners) => runners,
        Err(errors) => return Ok(refuse(&errors)),
    };

    let infos = config.clusters.iter().map(|c| ClusterInfo {
        id: c.id.as_str().into(),
        connector: c.connector.as_str().into(),
        endpoints: c.endpoints.clone(),
        interval: c.interval,
        timeout: c.timeout,
    });
    let store = Arc::new(Store::new(infos, config.history));
    let (stop, stopped) = watch::channel(false);
    let mut agents = Vec::new();
    for cluster in &config.clusters {
        let agent = Agent {
            slot: Arc::clone(store.cluster(&cluster.id).expect("a slot per cluster")),
            runner: Arc::clone(&runners[&cluster.id]),
            jitter: cluster.jitter,
            initial_delay: cluster.initial_delay,
        };
        agents.push(tokio::spawn(agent.run(stopped.clone())));
    }

    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let address = listener.local_addr()?;
    let monitor = Monitor {
        store,
        registry: Arc::clone(&registry),
        runners,
        shutdown: stopped.clone(),
    };
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<proto::monitor_server::MonitorServer<Monitor>>()
        .await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let server = tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?)
        .add_service(proto::monitor_server::MonitorServer::new(monitor))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async move {
            stop_signal().await;
            // Agents and open Watch streams end now, so that the server can drain.
            let _ = stop.send(true);
        });

    tracing::info!(
        "serving on {address}: {} clusters, {} connectors ({}), store {:?} keeping {} reports per cluster",
        config.clusters.len(),
        registry.iter().count(),
        registry.names(),
        config.store_kind,
        config.history
    );
    // Scripts and tests read this line to learn the port.
    println!("dbmon serving on http://{address}");
    let exe = std::env::current_exe().map_or_else(|_| "dbmon".into(), |p| p.display().to_string());
    println!("try: {exe} --server http://{address} clusters");
    server.await?;
    for agent in agents {
        let _ = agent.await;
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// `--check`: every cluster's configuration through its connector's validation.
fn check(config: &Config, registry: &Registry) -> ExitCode {
    let mut errors = Vec::new();
    for cluster in &config.clusters {
        let result = plugin_for(config, registry, cluster).and_then(|p| {
            p.validate(cluster.connector_json())
                .map_err(|e| refusal(config, cluster, e))
        });
        if let Err(e) = result {
            errors.push(e);
        }
    }
    if !errors.is_empty() {
        return refuse(&ConfigErrors(errors));
    }
    println!(
        "{}: configuration OK ({} clusters, connectors: {})",
        config.file.display(),
        config.clusters.len(),
        registry.names()
    );
    ExitCode::SUCCESS
}

/// Builds every cluster's connector, in this process or in a worker; collects every error
/// with its place in the file.
async fn start_runners(
    config: &Config,
    registry: &Registry,
    log_level: &str,
) -> Result<HashMap<String, Arc<Runner>>, ConfigErrors> {
    let mut runners = HashMap::new();
    let mut errors = Vec::new();
    let mut workers = Vec::new();
    for cluster in &config.clusters {
        let plugin = match plugin_for(config, registry, cluster) {
            Ok(plugin) => plugin,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        match cluster.isolation {
            Isolation::InProcess => match plugin.instantiate(cluster.connector_json()) {
                Ok(instance) => {
                    runners.insert(cluster.id.clone(), Arc::new(Runner::InProcess(instance)));
                }
                Err(e) => errors.push(refusal(config, cluster, e)),
            },
            Isolation::Process => {
                let spec = WorkerSpec {
                    cluster: cluster.id.as_str().into(),
                    plugin: plugin.path.clone(),
                    sha256: plugin.sha256.clone(),
                    insecure: config.trust.insecure,
                    config_json: cluster.connector_json(),
                    log_level: log_level.to_string(),
                };
                workers.push(async move { (cluster, Worker::start(spec).await) });
            }
        }
    }
    for (cluster, started) in futures::future::join_all(workers).await {
        match started {
            Ok(worker) => {
                runners.insert(cluster.id.clone(), Arc::new(Runner::Isolated(worker)));
            }
            Err(e) => errors.push(refusal(config, cluster, e)),
        }
    }
    if errors.is_empty() {
        Ok(runners)
    } else {
        Err(ConfigErrors(errors))
    }
}

fn plugin_for<'r>(
    config: &Config,
    registry: &'r Registry,
    cluster: &Cluster,
) -> Result<&'r Arc<Plugin>, ConfigError> {
    registry.get(&cluster.connector).ok_or_else(|| {
        config.error_at(
            &format!("clusters[{}].connector", cluster.index),
            format!(
                "unknown connector '{}'; loaded connectors: {} (from {})",
                cluster.connector,
                registry.names(),
                config.plugins_dir.display()
            ),
        )
    })
}

/// A connector's refusal of a cluster's configuration, at the offending field.
fn refusal(config: &Config, cluster: &Cluster, (path, message): (String, String)) -> ConfigError {
    let field = if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    };
    let message = format!(
        "connector '{}' refused cluster '{}': {field}{message}",
        cluster.connector, cluster.id
    );
    let at = format!("clusters[{}]", cluster.index);
    let path = if path.is_empty() {
        at
    } else {
        format!("{at}.{path}")
    };
    config.error_at(&path, message)
}

fn refuse(errors: &ConfigErrors) -> ExitCode {
    eprintln!("dbmon: the configuration has errors:\n{errors}");
    ExitCode::from(2)
}

async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("stopping");
}
