//! teaminbox-milter: the daemon. It wires the stages together in one
//! process: the SMTP-time filter (`teaminbox-filter`) answering the MTA,
//! the processor (`teaminbox-processor`) filing what the filter stored,
//! outbound (`teaminbox-outbound`) delivering replies, and the retention
//! purges, all on one store (`teaminbox-store`).
//!
//! The daemon binary is a thin wrapper around [`run`], so tests start the
//! real thing in-process.

pub mod cli;
pub mod retention;
pub mod service;

use indymilter::EitherListener;
use std::{
    future::Future,
    io,
    path::{Path, PathBuf},
    sync::Arc,
};
use teaminbox_filter::auth::Authenticator;
use teaminbox_filter::Filter;
use teaminbox_store::config::{Config, ListenAddress};
use teaminbox_store::dns::ResolverError;
use teaminbox_store::{Store, StoreError};
use tokio::net::{TcpListener, UnixListener};
use tracing::info;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why the daemon could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Resolver(#[from] ResolverError),
    #[error("cannot listen on {address}: {source}")]
    Listen { address: String, source: io::Error },
    #[error("milter stopped: {0}")]
    Milter(io::Error),
    #[error("cannot install the SIGHUP handler: {0}")]
    Signal(io::Error),
}

/// The runtime the daemon runs on: one thread for every milter session, its
/// timers and its DNS lookups; database work, processing and delivery run
/// on tokio's blocking threads beside it. Measured with `tests/bench/run`:
/// tokio's multi-threaded scheduler spent about a fifth of the daemon's CPU
/// waking its threads and handing sessions between them (0.65 to 0.70 ms
/// per message against 0.50 to 0.55 ms on one thread), for work that is
/// mostly waiting on sockets and the disk. Checks that take long (large
/// messages) move to a blocking thread, see `filter::end_of_message`.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Runs the milter until `shutdown` completes, then lets sessions in flight
/// finish. Brings the database schema up to date first.
pub async fn run(config: Config, shutdown: impl Future) -> Result<(), RunError> {
    let store = migrated_store(&config).await?;
    // Before any worker starts: what a killed daemon of this host held is
    // worked on now, not when its lease runs out.
    let release = store.clone();
    tokio::task::spawn_blocking(move || teaminbox_store::claims::release_dead_claims(&release))
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))??;

    let authenticator = if config.security.enabled {
        Some(Authenticator::new(&config.security, &config.nameservers())?)
    } else {
        None
    };
    let hangups = service::reload_signal().map_err(RunError::Signal)?;
    // Bound before anything else starts, so that a socket that cannot be
    // had stops the daemon with nothing to tear down.
    let metrics_listener = bind_metrics(&config).await?;
    let web_listener = bind_web(&config).await?;
    let listener = bind(&config).await?;
    info!(
        "teaminbox-milter {VERSION} listening on {}",
        config.milter.listen
    );
    service::ready();

    let processor = Arc::new(teaminbox_processor::Processor::new(
        store.clone(),
        teaminbox_store::config::loop_marker(&config),
    ));
    let (refusal_log, refusal_log_writer) = teaminbox_filter::refusal_log::start(store.clone());
    let filter = Arc::new(Filter::new(
        &config,
        store.clone(),
        authenticator,
        processor.wake.clone(),
        refusal_log,
    ));
    // The processor and outbound work beside the milter and stop after it:
    // the milter's shutdown tells them, and they finish the message in hand.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers = tokio::spawn(processor.run(config.processor.workers, stopped.clone()));
    let purges = tokio::spawn(retention::run(
        store.clone(),
        config.retention,
        stopped.clone(),
    ));
    let metrics_endpoint = metrics_listener.map(|listener| {
        info!("metrics at http://{}/metrics", config.metrics.listen);
        tokio::spawn(teaminbox_telemetry::metrics::serve(
            listener,
            store.clone(),
            stopped.clone(),
        ))
    });
    let web = web_listener.map(|listener| spawn_web(listener, &config, &store, stopped.clone()));
    // Lessons for rspamd are given by every daemon that asks it: one worker.
    let teachers = config.spam.enabled().then(|| {
        let lessons = Arc::new(teaminbox_spam::lessons::LessonWorker::new(
            store.clone(),
            teaminbox_spam::teacher(&config.spam),
        ));
        tokio::spawn(lessons.run(stopped.clone()))
    });
    let senders = (config.outbound.workers > 0).then(|| {
        let outbound = Arc::new(teaminbox_outbound::DeliveryWorker::new(&config, store));
        tokio::spawn(outbound.run(stopped.clone()))
    });
    let reloads = tokio::spawn(service::reload_on(
        hangups,
        Arc::clone(&filter),
        stopped.clone(),
    ));
    let (listener, closer) = service::Closable::new(listener);
    let shutdown = stop_gracefully(shutdown, &config, closer, Arc::clone(&filter), stop);
    let milter_config = indymilter::Config {
        max_connections: config.milter.max_connections,
        ..Default::default()
    };
    let result = indymilter::run(
        listener,
        teaminbox_filter::callbacks(filter),
        milter_config,
        shutdown,
    )
    .await;
    if let Some(path) = unix_socket_path(&config) {
        let _ = std::fs::remove_file(path);
    }
    // The sessions are over: what they refused is written before we stop.
    refusal_log_writer.finish().await;
    let _ = workers.await;
    let _ = purges.await;
    let _ = reloads.await;
    if let Some(senders) = senders {
        let _ = senders.await;
    }
    if let Some(endpoint) = metrics_endpoint {
        let _ = endpoint.await;
    }
    if let Some(web) = web {
        let _ = web.await;
    }
    if let Some(teachers) = teachers {
        let _ = teachers.await;
    }
    info!("teaminbox-milter stopped");
    result.map_err(RunError::Milter)
}

/// The stop, once `shutdown` completes: the socket is closed at once (the
/// MTA tempfails new connections itself), the transactions in flight end
/// with their answer, then `stop` tells the workers and the milter's
/// sessions end.
async fn stop_gracefully(
    shutdown: impl Future,
    config: &Config,
    closer: service::Closer,
    filter: Arc<Filter>,
    stop: tokio::sync::watch::Sender<bool>,
) {
    shutdown.await;
    service::stopping();
    closer.close();
    if let Some(path) = unix_socket_path(config) {
        let _ = std::fs::remove_file(path);
    }
    let limit = service::drain_limit(config.security.check_timeout.0);
    service::drain(&filter, limit).await;
    let _ = stop.send(true);
}

/// The store of `config`, its schema brought up to date (off the async
/// threads), each migration applied logged.
async fn migrated_store(config: &Config) -> Result<Store, RunError> {
    let store = Store::from_config(config);
    let migrate = store.clone();
    let applied = tokio::task::spawn_blocking(move || migrate.migrate())
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))??;
    for name in applied {
        info!("applied database migration {name}");
    }
    Ok(store)
}

/// Runs the web inbox alone (`--web-only`): no milter socket, processor,
/// outbound or retention, for a web host beside a shared PostgreSQL. Brings
/// the database schema up to date first, as [`run`] does.
pub async fn run_web_only(config: Config, shutdown: impl Future) -> Result<(), RunError> {
    let store = migrated_store(&config).await?;
    let Some(listener) = bind_web(&config).await? else {
        return Err(RunError::Listen {
            address: "(web.listen is empty)".into(),
            source: std::io::Error::other("--web-only needs [web] listen"),
        });
    };
    service::ready();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let web = spawn_web(listener, &config, &store, stopped);
    shutdown.await;
    service::stopping();
    let _ = stop.send(true);
    let _ = web.await;
    info!("teaminbox-milter (web only) stopped");
    Ok(())
}

/// Serves the web inbox on `listener` until `stopped` turns true.
fn spawn_web(
    listener: TcpListener,
    config: &Config,
    store: &Store,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    info!(
        "web inbox at {} (listening on {})",
        config.web.public_url(),
        config.web.listen
    );
    let router = teaminbox_web::router(store.clone(), config);
    tokio::spawn(async move {
        let stop = async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        if let Err(e) = teaminbox_web::serve(listener, router, stop).await {
            tracing::error!("web inbox: {e}");
        }
    })
}

/// Binds `[web] listen`, if set.
async fn bind_web(config: &Config) -> Result<Option<TcpListener>, RunError> {
    bind_optional(config.web_listen(), "web.listen").await
}

/// Binds `[metrics] listen`, if set. Before the milter's socket, so that
/// an address that cannot be had stops the daemon at start.
async fn bind_metrics(config: &Config) -> Result<Option<TcpListener>, RunError> {
    bind_optional(config.metrics_listen(), "metrics.listen").await
}

/// Binds `address` (the setting `key`), if there is one.
async fn bind_optional(
    address: Option<std::net::SocketAddr>,
    key: &str,
) -> Result<Option<TcpListener>, RunError> {
    let Some(address) = address else {
        return Ok(None);
    };
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| RunError::Listen {
            address: format!("{address} ({key})"),
            source,
        })?;
    Ok(Some(listener))
}

/// The path of the milter's UNIX socket, if it listens on one.
fn unix_socket_path(config: &Config) -> Option<PathBuf> {
    match &config.milter.listen {
        ListenAddress::Unix(path) => Some(path.clone()),
        ListenAddress::Inet(_) => None,
    }
}

/// Binds the configured socket.
async fn bind(config: &Config) -> Result<EitherListener<TcpListener, UnixListener>, RunError> {
    let listen = &config.milter.listen;
    let listener = match listen {
        ListenAddress::Unix(path) => bind_unix(path, config).map(EitherListener::Unix),
        ListenAddress::Inet(addr) => TcpListener::bind(addr).await.map(EitherListener::Tcp),
    };
    listener.map_err(|source| RunError::Listen {
        address: listen.to_string(),
        source,
    })
}

/// Binds the UNIX socket, replacing a stale one left by a killed daemon,
/// and gives it the configured mode and group so the MTA can connect.
///
/// The socket is made under a temporary name and renamed into place once
/// it listens with its final mode: a socket file that exists but does not
/// listen yet refuses connections, and an MTA (or a script waiting for the
/// file) that came in that moment would have its mail tempfailed.
fn bind_unix(path: &Path, config: &Config) -> io::Result<UnixListener> {
    use std::os::unix::fs::FileTypeExt;
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "the path exists and is not a socket; remove it or choose another milter.listen",
            ));
        }
    }
    let mut staging = path.as_os_str().to_owned();
    staging.push(".new");
    let staging = PathBuf::from(staging);
    // Left by a daemon killed in this very step.
    let _ = std::fs::remove_file(&staging);
    let listener = UnixListener::bind(&staging)?;
    let ready = set_socket_access(&staging, config).and_then(|()| std::fs::rename(&staging, path));
    if let Err(e) = ready {
        let _ = std::fs::remove_file(&staging);
        return Err(e);
    }
    Ok(listener)
}

/// `milter.socket_group` and `milter.socket_mode`, applied to `path`.
fn set_socket_access(path: &Path, config: &Config) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(group) = &config.milter.socket_group {
        let gid = nix::unistd::Group::from_name(group)
            .map_err(io::Error::from)?
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("milter.socket_group: there is no group `{group}`"),
                )
            })?
            .gid;
        std::os::unix::fs::chown(path, None, Some(gid.as_raw()))?;
    }
    if let Some(mode) = config.milter.socket_mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode.0))?;
    }
    Ok(())
}
