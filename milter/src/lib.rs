//! teaminbox-milter: a milter that takes mail for hosted forwarding
//! addresses into a shared team inbox.
//!
//! The daemon binary is a thin wrapper around [`run`], so tests start the
//! real thing in-process.

pub mod address;
pub mod auth;
pub mod claims;
pub mod cli;
pub mod config;
pub mod filter;
pub mod html_text;
pub mod identity;
pub mod outbound;
pub mod processor;
pub mod refusal;
pub mod retention;
pub mod signature;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod worker;

use crate::{
    auth::{Authenticator, ResolverError},
    config::{Config, ListenAddress},
    filter::Filter,
    store::{PoolOptions, Store, StoreError},
};
use indymilter::EitherListener;
use std::{
    future::Future,
    io,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};
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
}

/// The current time in UTC, as stored in the database.
pub fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

/// Serializes a stored UTC time as RFC 3339 with its `Z`, for JSON output.
pub fn serialize_utc<S: serde::Serializer>(
    time: &chrono::NaiveDateTime,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(
        &time
            .and_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}

/// The `X-Loop` value of the mail we send, so that we recognise it coming
/// back.
pub fn loop_marker(config: &Config) -> String {
    format!("teaminbox@{}", config.outbound.default_from_domain)
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

/// Opens the configured database with the configured pool settings.
pub fn open_store(config: &Config) -> Store {
    Store::open(
        &config.database_target(),
        &PoolOptions {
            max_size: config.database.pool_size,
            connect_timeout: Duration::from_secs(config.database.connect_timeout_secs),
        },
    )
}

/// Runs the milter until `shutdown` completes, then lets sessions in flight
/// finish. Brings the database schema up to date first.
pub async fn run(config: Config, shutdown: impl Future) -> Result<(), RunError> {
    let store = open_store(&config);
    let migrate = store.clone();
    let applied = tokio::task::spawn_blocking(move || migrate.migrate())
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))??;
    for name in applied {
        info!("applied database migration {name}");
    }
    // Before any worker starts: what a killed daemon of this host held is
    // worked on now, not when its lease runs out.
    let release = store.clone();
    tokio::task::spawn_blocking(move || claims::release_dead_claims(&release))
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))??;

    let authenticator = if config.security.enabled {
        Some(Authenticator::new(&config.security, &config.nameservers())?)
    } else {
        None
    };
    // Bound before anything else starts, so that a socket that cannot be
    // had stops the daemon with nothing to tear down.
    let listener = bind(&config).await?;
    info!(
        "teaminbox-milter {VERSION} listening on {}",
        config.milter.listen
    );

    let processor = Arc::new(processor::Processor::new(
        store.clone(),
        loop_marker(&config),
    ));
    let (refusal_log, refusal_log_writer) = filter::refusal_log::start(store.clone());
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
    let senders = (config.outbound.workers > 0).then(|| {
        let outbound = Arc::new(outbound::Outbound::new(&config, store));
        tokio::spawn(outbound.run(stopped))
    });
    let shutdown = async move {
        shutdown.await;
        let _ = stop.send(true);
    };
    let milter_config = indymilter::Config {
        max_connections: config.milter.max_connections,
        ..Default::default()
    };
    let result =
        indymilter::run(listener, filter::callbacks(filter), milter_config, shutdown).await;
    if let ListenAddress::Unix(path) = &config.milter.listen {
        let _ = std::fs::remove_file(path);
    }
    // The sessions are over: what they refused is written before we stop.
    refusal_log_writer.finish().await;
    let _ = workers.await;
    let _ = purges.await;
    if let Some(senders) = senders {
        let _ = senders.await;
    }
    info!("teaminbox-milter stopped");
    result.map_err(RunError::Milter)
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
