//! The daemon, run in-process for tests and benchmarks the way the binary
//! runs it: on a thread of its own, on [`teaminbox_milter::runtime`].

use std::{
    thread::JoinHandle,
    time::{Duration, Instant},
};
use teaminbox_store::config::{Config, ListenAddress, WebConfig};
use tokio::sync::oneshot;

/// A daemon started by [`RunningDaemon::start`]; stopped by
/// [`RunningDaemon::stop`] (or when dropped).
pub struct RunningDaemon {
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl RunningDaemon {
    /// Starts the daemon with `config` and waits (up to 10 s) until its
    /// UNIX socket is there, which it is only once it listens.
    /// The web inbox, unless the test chose its address, listens on a port
    /// of its own: daemons of tests running at once cannot share 8025.
    pub fn start(mut config: Config) -> Self {
        if config.web.listen == WebConfig::default().listen {
            config.web.listen = "127.0.0.1:0".into();
        }
        let socket = match &config.milter.listen {
            ListenAddress::Unix(path) => path.clone(),
            ListenAddress::Inet(_) => panic!("test daemons listen on a UNIX socket"),
        };
        let (shutdown, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = teaminbox_milter::runtime().map_err(|e| e.to_string())?;
            runtime
                .block_on(teaminbox_milter::run(config, stopped))
                .map_err(|e| e.to_string())
        });
        let mut daemon = Self {
            shutdown: Some(shutdown),
            thread: Some(thread),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            if daemon.thread.as_ref().is_some_and(JoinHandle::is_finished) {
                daemon.stop();
                panic!("the daemon stopped before it listened");
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not listen on {} within 10 s",
                socket.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        daemon
    }

    /// Stops the daemon and waits for it; panics with its error if it
    /// failed.
    pub fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            match thread.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("the daemon failed: {e}"),
                Err(_) => panic!("the daemon panicked"),
            }
        }
    }
}

impl Drop for RunningDaemon {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.stop();
        } else if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
