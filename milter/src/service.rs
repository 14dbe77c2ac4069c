//! What a service manager sees of the daemon: readiness and stopping
//! through systemd's notify protocol (sd-notify; nothing is sent without
//! `NOTIFY_SOCKET`), a reload on SIGHUP, and a stop that closes the socket
//! at once but lets the messages in flight finish.

use indymilter::Listener;
use sd_notify::NotifyState;
use std::{
    io,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, PoisonError,
    },
    task::{Context, Poll, Waker},
    time::Duration,
};
use teaminbox_filter::Filter;
use tokio::{
    signal::unix::{signal, Signal, SignalKind},
    sync::watch,
};
use tracing::{info, warn};

/// The milter listens: `READY=1`.
pub fn ready() {
    notify(&[NotifyState::Ready]);
}

/// The daemon begins to stop: `STOPPING=1`.
pub fn stopping() {
    notify(&[NotifyState::Stopping]);
}

fn notify(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        warn!("cannot notify the service manager: {e}");
    }
}

/// The SIGHUP handler, installed before the socket exists: a reload sent as
/// soon as the daemon is ready must not kill it by the default action.
pub fn reload_signal() -> io::Result<Signal> {
    signal(SignalKind::hangup())
}

/// Reloads on each SIGHUP until `stop` turns true, telling the service
/// manager (`RELOADING=1` with the time, as `Type=notify-reload` wants it,
/// then `READY=1`).
pub async fn reload_on(mut hangups: Signal, filter: Arc<Filter>, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        tokio::select! {
            received = hangups.recv() => if received.is_none() { return },
            _ = stop.changed() => return,
        }
        let mut reloading = vec![NotifyState::Reloading];
        reloading.extend(NotifyState::monotonic_usec_now().ok());
        notify(&reloading);
        filter.reload();
        info!(
            "reload (SIGHUP): the allow and deny lists are read again at the next message; \
             channels, users and sending domains are read for every message, so their changes \
             apply without a reload; the configuration file is read only at start"
        );
        ready();
    }
}

/// How long a stop waits for the messages in flight: long enough for the
/// checks of one (`check_timeout`) and its commit.
pub fn drain_limit(check_timeout: Duration) -> Duration {
    (check_timeout + Duration::from_secs(10)).max(Duration::from_secs(30))
}

/// Waits for the transactions in flight to end (at most `limit`), saying
/// so in the log.
pub async fn drain(filter: &Filter, limit: Duration) {
    let in_flight = filter.in_flight();
    if in_flight == 0 {
        return;
    }
    info!("stopping: letting {in_flight} message(s) in flight finish (at most {limit:?})");
    if !filter.drained(limit).await {
        warn!(
            "stopping with {} message(s) still in flight after {limit:?}: the MTA tempfails them",
            filter.in_flight()
        );
    }
}

/// A listener that [`Closer::close`] closes while the sessions it
/// accepted go on: new connections are refused at once rather than
/// accepted by a daemon that is stopping.
pub struct Closable<L> {
    inner: Option<L>,
    closer: Closer,
}

/// Closes its [`Closable`].
#[derive(Clone, Default)]
pub struct Closer {
    closed: Arc<AtomicBool>,
    /// The accept loop to wake so that it notices.
    waker: Arc<Mutex<Option<Waker>>>,
}

impl<L> Closable<L> {
    pub fn new(inner: L) -> (Self, Closer) {
        let closer = Closer::default();
        let listener = Self {
            inner: Some(inner),
            closer: closer.clone(),
        };
        (listener, closer)
    }
}

impl Closer {
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if let Some(waker) = self.waker().take() {
            waker.wake();
        }
    }

    fn waker(&self) -> std::sync::MutexGuard<'_, Option<Waker>> {
        self.waker.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<L: Listener> Listener for Closable<L> {
    type Io = L::Io;

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Self::Io>> {
        *self.closer.waker() = Some(cx.waker().clone());
        if self.closer.closed.load(Ordering::SeqCst) {
            // Dropping the listener closes its socket.
            self.inner = None;
        }
        match &mut self.inner {
            Some(inner) => inner.poll_accept(cx),
            None => Poll::Pending,
        }
    }
}
