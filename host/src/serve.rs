//! `dbmon serve`: config → plugins → agents → store → gRPC, until SIGINT or SIGTERM.

use crate::{
    agent::{Agent, Agents},
    api::{self, Monitor},
    config::{Cluster, Config, ConfigError, ConfigErrors, Isolation},
    coordination::Candidate,
    ingest::{Collector, Collectors, IngestService},
    isolation::{Worker, WorkerSpec},
    listener::{self, Greeting},
    live::Live,
    logging::LogFile,
    plugins::{Plugin, Refusal, Registry},
    runner::Runner,
    store::{ClusterInfo, Store},
};
use collector::{Coordination, collect_for, upstream};
use dbmon_proto as proto;
mod collector;
mod listeners;
mod reload;

use std::{
    collections::HashMap,
    path::PathBuf,
    process::ExitCode,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::{
    net::TcpListener,
    signal::unix::{Signal, SignalKind, signal},
    sync::watch,
};

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
    /// What this process does: `all` collects its clusters and serves clients (and accepts
    /// collectors); `collector` collects and pushes to `--upstream`; `server` accepts
    /// collectors' pushes and serves clients.
    #[arg(long, env = "DBMON_ROLE", value_enum, default_value_t = Role::All)]
    pub role: Role,
    /// The server a collector pushes to, or several, comma-separated, tried in turn
    /// (overrides `collector.upstream:`).
    #[arg(long, env = "DBMON_UPSTREAM", value_delimiter = ',')]
    pub upstream: Vec<String>,
    /// This collector's id on its server (overrides `collector.id:`; by default, the host
    /// name).
    #[arg(long, env = "DBMON_COLLECTOR_ID")]
    pub collector_id: Option<String>,
}

/// What a `dbmon serve` process does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Collects its clusters and serves clients, in one process (and accepts collectors).
    All,
    /// Collects its clusters and pushes the reports to a server.
    Collector,
    /// Accepts collectors' reports and serves clients; loads no connectors.
    Server,
}

impl Role {
    /// Whether it runs agents (and loads connectors).
    fn collects(self) -> bool {
        self != Role::Server
    }

    /// Whether it serves the client API and accepts collectors.
    fn serves(self) -> bool {
        self != Role::Collector
    }
}

/// Runs the host; returns when it was asked to stop, or at once on a bad config.
/// `log_flag` is `--log-level` when given (it wins over the file's `log_level:`); the filter
/// in force is passed on to connector workers. `log_file` is reopened on SIGHUP.
pub async fn serve(
    args: ServeArgs,
    log_flag: Option<&str>,
    log_file: Option<LogFile>,
) -> anyhow::Result<ExitCode> {
    // Before anything else: the default action of these signals ends the process at once.
    let (signals, hangups) = Signals::install()?;
    let (reloads, reload_asked) = tokio::sync::mpsc::channel(1);
    tokio::spawn(on_hangup(hangups, log_file, reloads.clone()));
    // Every error in one pass: the file's own, the machine's (plugins folder, listen address)
    // and the connectors' checks of the clusters that are valid so far.
    let (mut config, mut errors) = Config::load_partial(&args.config);
    let overrides = reload::Overrides {
        listen: args.listen.clone(),
        plugins_dir: args.plugins_dir.clone(),
    };
    let listen_from_flag = args.listen.is_some();
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    let plugins_dir_from_flag = args.plugins_dir.is_some();
    if let Some(dir) = args.plugins_dir {
        config.plugins_dir = dir;
    }
    // After a file that could not be read (or held nothing valid), the machine's checks would
    // only judge defaults.
    let judge_machine = errors.is_empty() || !config.clusters.is_empty();
    let role = args.role;
    if role == Role::Server && !config.clusters.is_empty() {
        tracing::info!(
            "role server: the {} clusters of {} are not collected here (a collector with this \
             file collects them)",
            config.clusters.len(),
            config.file.display()
        );
        config.clusters.clear();
    }
    if judge_machine
        && role.collects()
        && let Err(e) = plugins_dir_problem(&config, plugins_dir_from_flag)
    {
        errors.push(e);
    }
    let (registry, refusals) = if judge_machine && role.collects() {
        Registry::load_dir(&config.plugins_dir, &config.trust)
    } else {
        (Registry::default(), Vec::new())
    };
    let registry = Arc::new(registry);
    let found = Found {
        registry: &registry,
        refusals: &refusals,
    };
    let upstream = match role {
        Role::Collector => match upstream(&config, args.upstream, args.collector_id) {
            Ok(upstream) => Some(upstream),
            Err(e) => {
                errors.push(e);
                None
            }
        },
        _ => None,
    };
    let listener = if judge_machine && role.serves() {
        match bind(&config, listen_from_flag).await {
            Ok(listener) => Some(listener),
            Err(e) => {
                errors.push(e);
                None
            }
        }
    } else {
        None
    };
    let metrics_listener = match &config.metrics_listen {
        Some(address) if judge_machine => match crate::http::bind(&config, address).await {
            Ok(listener) => Some(listener),
            Err(e) => {
                errors.push(e);
                None
            }
        },
        _ => None,
    };
    // After the file's own checks (which name a bad tls: file once): the safe-default rule.
    let security = if errors.is_empty() && role.serves() {
        crate::security::ServerSecurity::from_config(&config).unwrap_or_else(|e| {
            errors.push(e);
            Default::default()
        })
    } else if errors.is_empty() && metrics_listener.is_some() {
        crate::security::ServerSecurity::settings(&config).unwrap_or_else(|e| {
            errors.push(e);
            Default::default()
        })
    } else {
        Default::default()
    };
    let http_security = match &metrics_listener {
        Some(listener) if errors.is_empty() => {
            crate::http::security(&config, &security, listener.local_addr()?).unwrap_or_else(|e| {
                errors.push(e);
                Default::default()
            })
        }
        _ => Default::default(),
    };
    if args.check || !errors.is_empty() {
        return Ok(check(&config, found, errors));
    }
    let log_level = reload::log_level(log_flag, config.log_level.as_deref());
    if log_flag.is_none()
        && config.log_level.is_some()
        && let Err(e) = crate::logging::set_filter(&log_level)
    {
        tracing::warn!("log_level: {e}");
    }
    let log_level = log_level.as_str();
    let runners = match start_runners(&config, found, log_level).await {
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
    let store = Arc::new(match role {
        // A collector keeps only what its forwarder has yet to read: the server keeps history.
        Role::Collector => Store::new(infos, COLLECTOR_HISTORY),
        Role::All | Role::Server => {
            let options = crate::store::Options {
                path: config.store_path.clone(),
                retention: crate::store::Retention {
                    history: config.history,
                    max_age: config.retention,
                },
            };
            // A server keeps the clusters its collectors pushed before the restart.
            let keep = role == Role::Server;
            let opened = match &config.shared_store {
                Some(shared) => Store::open_shared(shared, options.retention, infos, keep).await,
                None => Store::open(&options, infos, keep),
            };
            match opened {
                Ok(store) => store,
                Err(e) => {
                    eprintln!("dbmon: cannot open the report store: {e}");
                    return Ok(ExitCode::from(2));
                }
            }
        }
    });
    store.expire_by_age();
    store.follow_shared();
    let store_health = store.shared_health();
    let (stop, stopped) = watch::channel(false);
    let agents = config.clusters.iter().map(|cluster| Agent {
        slot: store.cluster(&cluster.id).expect("a slot per cluster"),
        runner: Arc::clone(&runners[&cluster.id]),
        jitter: cluster.jitter,
        initial_delay: cluster.initial_delay,
        rules: Arc::clone(&cluster.rules),
    });
    let agents = Arc::new(std::sync::Mutex::new(Agents::new(agents, stopped.clone())));
    let live = Arc::new(Live::new(
        Arc::clone(&registry),
        refusals.clone().into(),
        runners.clone(),
    ));
    let watchers = Arc::new(api::Watchers::default());
    let collectors = Arc::new(Collectors::new(runners.keys().map(|id| id.as_str().into())));
    let deliveries = Arc::new(crate::alerts::Deliveries::default());
    match &config.alerts {
        Some(alerts) if role.serves() => {
            crate::alerts::start(alerts, &store, Arc::clone(&deliveries), stopped.clone())?
        }
        Some(_) => tracing::info!("alerts: sent by the server, not by a collector"),
        None => {}
    }
    // The HTTP listener's state is made when it starts: at the start, or at the reload that
    // first sets `metrics_listen:`.
    let start_metrics: listeners::StartMetrics = {
        let (store, collectors, live) = (
            Arc::clone(&store),
            Arc::clone(&collectors),
            Arc::clone(&live),
        );
        let (watchers, deliveries) = (Arc::clone(&watchers), Arc::clone(&deliveries));
        let stopped = stopped.clone();
        // Once, whichever reload opens the listener: it follows the store for the host's life.
        let durations = crate::http::metrics::Durations::follow(&store);
        Box::new(move |listener, security| {
            let state = crate::http::State {
                durations: Arc::clone(&durations),
                store: Arc::clone(&store),
                collectors: Arc::clone(&collectors),
                live: Arc::clone(&live),
                watchers: Arc::clone(&watchers),
                deliveries: Arc::clone(&deliveries),
            };
            let extra = match role.serves() {
                // The status page, on the servers' and all-in-one hosts' listener.
                true => crate::web::router(crate::web::Sources::of(
                    &store,
                    &collectors,
                    &live,
                    &stopped,
                )),
                false => axum::Router::new(),
            };
            crate::http::spawn(listener, Arc::new(state), security, extra, &stopped)
        })
    };
    let metrics = match metrics_listener {
        Some(listener) => {
            let address = listener.local_addr()?;
            let rebind = start_metrics(listener, http_security.clone())?;
            Some(listeners::Listening {
                rebind: Arc::new(rebind),
                security: http_security,
                address,
            })
        }
        None => None,
    };
    let listeners = Arc::new(listeners::Listeners {
        grpc: std::sync::Mutex::new(None),
        metrics: std::sync::Mutex::new(metrics),
        start_metrics,
    });
    // A collector without coordination collects every cluster of its file: its share is what
    // the file says, and a reload changes it (the server hears of it as of a coordinated
    // share's change).
    let coordinated = role == Role::Collector && config.coordination.is_some();
    let file_share = (role == Role::Collector && !coordinated).then(|| {
        let ids = config.clusters.iter().map(|c| Arc::from(c.id.as_str()));
        watch::channel(Arc::new(
            ids.collect::<std::collections::BTreeSet<Arc<str>>>(),
        ))
    });
    let reloader = Arc::new(reload::Reloader {
        file: args.config.clone(),
        share: file_share.as_ref().map(|(tx, _)| tx.clone()),
        overrides: overrides.clone(),
        role,
        coordinated,
        log_flag: log_flag.map(str::to_string),
        store: Arc::clone(&store),
        live: Arc::clone(&live),
        agents: Arc::clone(&agents),
        collectors: role.serves().then(|| Arc::clone(&collectors)),
        listeners: Arc::clone(&listeners),
        current: tokio::sync::Mutex::new(reload::Applied {
            clusters: config.clusters.clone(),
            listen: config.listen.clone(),
            metrics_listen: config.metrics_listen.clone(),
            log_level: log_level.to_string(),
        }),
    });
    tokio::spawn(reload::follow_requests(Arc::clone(&reloader), reload_asked));
    if config.watch_config {
        tokio::spawn(reload::watch_file(args.config.clone(), reloads.clone()));
    }
    if let Some(upstream) = upstream {
        let coordination = config.coordination.clone().map(|settings| Coordination {
            settings,
            weight: config.collector.weight,
            candidates: config.clusters.iter().map(Candidate::of).collect(),
        });
        let collector = Collector {
            upstream,
            store,
            live,
            share: file_share.map(|(_, rx)| rx),
            coordinated,
            share_status: None,
            agents_runtime: tokio::runtime::Handle::current(),
        };
        return collect_for(collector, coordination, signals, stop, agents).await;
    }
    {
        let mut agents = agents.lock().unwrap_or_else(|p| p.into_inner());
        let every: Vec<Arc<str>> = agents.ids().cloned().collect();
        agents.run_only(&every);
    }
    let listener = listener.expect("no error, so bound");

    let address = listener.local_addr()?;
    let connections = listener::Connections::default();
    tokio::spawn(api::sweep(
        Arc::clone(&watchers),
        Arc::clone(&store),
        connections.clone(),
        config.api.watch_stall_timeout,
        stopped.clone(),
    ));
    let ingest = IngestService::new(Arc::clone(&store), Arc::clone(&collectors));
    let monitor = Monitor {
        collectors,
        store,
        live,
        shutdown: stopped.clone(),
        watchers,
        limits: config.api.clone(),
    };
    let grace = config.api.shutdown_grace;
    let health = tonic_health::server::HealthReporter::new();
    if let Some(changes) = store_health {
        api::health::follow_store(&health, changes).await;
    }
    let greeting = Greeting::grpc_at(address, security.tls.is_some());
    let (incoming, rebind) =
        listener::incoming(listener, greeting, connections, security.tls.clone());
    *listeners.grpc.lock().unwrap_or_else(|p| p.into_inner()) = Some(listeners::Listening {
        rebind: Arc::new(rebind),
        security: security.clone(),
        address,
    });
    let server = grpc_server(
        monitor,
        ingest,
        reload::AdminService(reloader),
        &config.api,
        health.clone(),
        stopped.clone(),
        security.layer(),
    )
    .await?
    .serve_with_incoming_shutdown(incoming, async move {
        signals.stopped().await;
        // Probes see the stop at once; agents and open streams end now, so that the
        // server can drain.
        health
            .set_not_serving::<proto::monitor_server::MonitorServer<Monitor>>()
            .await;
        health
            .set_service_status("", tonic_health::ServingStatus::NotServing)
            .await;
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
    let scheme = security.scheme();
    println!("dbmon serving on {scheme}://{address}");
    let exe = std::env::current_exe().map_or_else(|_| "dbmon".into(), |p| p.display().to_string());
    println!("try: {exe} --server {scheme}://{address} clusters");
    let mut stopping = stopped.clone();
    let deadline = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
        let deadline = Instant::now() + grace;
        tokio::time::sleep(grace).await;
        deadline
    };
    tokio::pin!(server, deadline);
    let deadline = tokio::select! {
        served = &mut server => {
            served?;
            Instant::now() + grace
        }
        deadline = &mut deadline => {
            tracing::warn!(
                "clients were still connected {} after the stop: closing their connections",
                humantime::format_duration(grace)
            );
            deadline
        }
    };
    if !Agents::stop_shared(&agents, deadline.into()).await {
        tracing::warn!("a collection was still running at the end of the grace period");
    }
    tracing::info!("stopped");
    // Exit here rather than by returning: dropping the runtime would wait for a connector
    // still blocking one of its threads, past the grace period.
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    std::process::exit(0)
}

/// The gRPC services on one server: Monitor, health, reflection (v1 and v1alpha).
async fn grpc_server(
    monitor: Monitor,
    ingest: IngestService,
    admin: reload::AdminService,
    limits: &crate::config::Api,
    health: tonic_health::server::HealthReporter,
    stopped: watch::Receiver<bool>,
    auth: crate::security::AuthLayer,
) -> anyhow::Result<
    tonic::transport::server::Router<
        tower::layer::util::Stack<
            crate::security::AuthLayer,
            tower::layer::util::Stack<api::OversizeLayer, tower::layer::util::Identity>,
        >,
    >,
> {
    health
        .set_serving::<proto::monitor_server::MonitorServer<Monitor>>()
        .await;
    let descriptors = Arc::new(api::reflection::Descriptors::new(&[
        proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ])?);
    let max_message_bytes = limits.max_message_bytes;
    let monitor = api::MonitorService::new(monitor, max_message_bytes);
    use proto::ingest::ingest_server::IngestServer;
    use tonic_health::pb::health_server::HealthServer;
    use tonic_reflection::pb::{v1, v1alpha};
    Ok(tonic::transport::Server::builder()
        .max_concurrent_streams(limits.max_streams_per_connection)
        // Collectors push reports of hundreds of KB: a window of a few reports keeps a push
        // stream moving between two reads of the server's connection task.
        .initial_stream_window_size(Some(PUSH_STREAM_WINDOW))
        .initial_connection_window_size(Some(PUSH_CONNECTION_WINDOW))
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)))
        .layer(api::OversizeLayer)
        .layer(auth)
        .add_service(
            HealthServer::new(api::health::Checks::new(health, stopped))
                .max_decoding_message_size(max_message_bytes),
        )
        .add_service(
            v1::server_reflection_server::ServerReflectionServer::new(
                api::reflection::v1::Reflection(Arc::clone(&descriptors)),
            )
            .max_decoding_message_size(max_message_bytes),
        )
        .add_service(
            v1alpha::server_reflection_server::ServerReflectionServer::new(
                api::reflection::v1alpha::Reflection(descriptors),
            )
            .max_decoding_message_size(max_message_bytes),
        )
        .add_service(monitor)
        .add_service(
            proto::admin::admin_server::AdminServer::new(admin)
                .max_decoding_message_size(max_message_bytes),
        )
        .add_service(
            IngestServer::new(ingest)
                .max_decoding_message_size(max_message_bytes.max(MAX_PUSHED_REPORT_BYTES)),
        ))
}

/// Reports a collector keeps in its own store: its forwarder reads each as it comes, and
/// the server keeps the history.
const COLLECTOR_HISTORY: usize = 4;
/// HTTP/2 flow-control window of one stream (a push) on the server.
const PUSH_STREAM_WINDOW: u32 = 8 << 20;
/// HTTP/2 flow-control window of one connection on the server.
const PUSH_CONNECTION_WINDOW: u32 = 16 << 20;
/// Largest pushed report a server accepts (a report of a few thousand series, with room).
const MAX_PUSHED_REPORT_BYTES: usize = 64 << 20;

/// The loaded connectors and the libraries that were refused, for error messages.
#[derive(Clone, Copy)]
struct Found<'a> {
    registry: &'a Registry,
    refusals: &'a [Refusal],
}

/// Binds the gRPC address; an error names where the address came from.
async fn bind(config: &Config, from_flag: bool) -> Result<TcpListener, ConfigError> {
    let address = &config.listen;
    TcpListener::bind(address).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            "; another process (another dbmon?) has it: stop it or pick another port"
        } else {
            ""
        };
        let message = format!("cannot listen on {address}: {e}{hint}");
        if from_flag {
            flag_error(config, "--listen (or DBMON_LISTEN)", message)
        } else {
            config.error_at("listen", message)
        }
    })
}

/// A missing, unreadable or non-folder `plugins_dir`, with the OS's words.
fn plugins_dir_problem(config: &Config, from_flag: bool) -> Result<(), ConfigError> {
    let dir = &config.plugins_dir;
    let problem = match std::fs::metadata(dir) {
        Err(e) => format!("plugins_dir {}: {e}", dir.display()),
        Ok(m) if !m.is_dir() => format!("plugins_dir {} is not a folder", dir.display()),
        Ok(_) => match std::fs::read_dir(dir) {
            Err(e) => format!("plugins_dir {} cannot be read: {e}", dir.display()),
            Ok(_) => return Ok(()),
        },
    };
    Err(if from_flag {
        flag_error(config, "--plugins-dir (or DBMON_PLUGINS_DIR)", problem)
    } else {
        config.error_at("plugins_dir", problem)
    })
}

/// An error in a value given on the command line or in the environment: named by the flag,
/// in place of a position in the file.
fn flag_error(config: &Config, flag: &str, message: String) -> ConfigError {
    ConfigError {
        file: config.file.clone(),
        position: crate::config::Position::OUTSIDE,
        message: format!("{flag}: {message}"),
    }
}

/// On every SIGHUP: reopens the log file (logrotate's `postrotate kill -HUP`) and asks for a
/// reload of the configuration; the process goes on.
async fn on_hangup(
    mut hangups: Signal,
    log_file: Option<LogFile>,
    reloads: tokio::sync::mpsc::Sender<()>,
) {
    while hangups.recv().await.is_some() {
        // A reload already asked for covers this one.
        let _ = reloads.try_send(());
        match &log_file {
            Some(file) => match file.reopen() {
                Ok(()) => tracing::info!("SIGHUP: reopened the log file {}", file.path().display()),
                Err(e) => tracing::error!(
                    "SIGHUP: cannot reopen the log file {}: {e}; still writing to the old one",
                    file.path().display()
                ),
            },
            None => tracing::info!("SIGHUP: nothing to reopen (the log goes to stderr)"),
        }
    }
}

/// `--check`: every cluster's configuration through its connector's validation, after the
/// errors found so far.
fn check(config: &Config, found: Found<'_>, mut errors: Vec<ConfigError>) -> ExitCode {
    let registry = found.registry;
    for cluster in &config.clusters {
        let result = plugin_for(config, found, cluster).and_then(|p| {
            p.validate(cluster.connector_json())
                .map_err(|e| refusal(config, cluster, e))
        });
        if let Err(e) = result {
            errors.push(e);
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.position);
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
    found: Found<'_>,
    log_level: &str,
) -> Result<HashMap<String, Arc<Runner>>, ConfigErrors> {
    start_runners_of(config, config.clusters.iter(), found, log_level).await
}

/// [`start_runners`] for some of the config's clusters.
async fn start_runners_of<'c>(
    config: &Config,
    clusters: impl Iterator<Item = &'c Cluster>,
    found: Found<'_>,
    log_level: &str,
) -> Result<HashMap<String, Arc<Runner>>, ConfigErrors> {
    let mut runners = HashMap::new();
    let mut errors = Vec::new();
    let mut workers = Vec::new();
    for cluster in clusters {
        let plugin = match plugin_for(config, found, cluster) {
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
    found: Found<'r>,
    cluster: &Cluster,
) -> Result<&'r Arc<Plugin>, ConfigError> {
    found.registry.get(&cluster.connector).ok_or_else(|| {
        let refused = if found.refusals.is_empty() {
            String::new()
        } else {
            let each: Vec<String> = found
                .refusals
                .iter()
                .map(|r| format!("{} ({})", r.path.display(), r.reason))
                .collect();
            format!("; refused libraries: {}", each.join("; "))
        };
        config.error_at(
            &format!("clusters[{}].connector", cluster.index),
            format!(
                "unknown connector '{}'; loaded connectors: {} (from {}){refused}",
                cluster.connector,
                found.registry.names(),
                config.plugins_dir.display()
            ),
        )
    })
}

/// A connector's refusal of a cluster's configuration, at the offending field.
fn refusal(
    config: &Config,
    cluster: &Cluster,
    dbmon_connector_api::ConfigError { path, message }: dbmon_connector_api::ConfigError,
) -> ConfigError {
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

/// The signals that stop the host, taken over from their default action when installed.
struct Signals {
    terminate: Signal,
    interrupt: Signal,
}

impl Signals {
    /// SIGTERM and SIGINT, and SIGHUP apart.
    fn install() -> anyhow::Result<(Signals, Signal)> {
        let take = |kind: SignalKind, name: &str| {
            signal(kind).map_err(|e| anyhow::anyhow!("cannot handle {name}: {e}"))
        };
        let signals = Signals {
            terminate: take(SignalKind::terminate(), "SIGTERM")?,
            interrupt: take(SignalKind::interrupt(), "SIGINT")?,
        };
        Ok((signals, take(SignalKind::hangup(), "SIGHUP")?))
    }

    /// Until SIGTERM or SIGINT.
    async fn stopped(mut self) {
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
        }
        tracing::info!("stopping");
    }
}
