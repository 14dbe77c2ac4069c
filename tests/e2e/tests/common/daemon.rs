//! The real `teaminbox-milter` binary as a process of its own, for the
//! tests that kill it or measure it.

use super::{workspace_binary, HOSTED};
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use teaminbox_e2e::{Postfix, PostfixOptions};

/// The real `teaminbox-milter` binary, run as a process of its own so that
/// it can be killed; its log is kept in a file and shown if the test fails.
pub struct DaemonProcess {
    config: PathBuf,
    socket: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl DaemonProcess {
    /// Starts the daemon with the configuration `toml` writes for a socket
    /// path (see [`super::daemon_toml`]).
    pub fn start(toml: impl FnOnce(&Path) -> String) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("milter.sock");
        let config = dir.path().join("teaminbox.toml");
        std::fs::write(&config, toml(&socket)).unwrap();
        let mut daemon = Self {
            config,
            log: dir.path().join("daemon.log"),
            socket,
            child: None,
            dir,
        };
        daemon.resume();
        daemon
    }

    /// Starts the binary and waits (up to 10 s) until it listens.
    pub fn resume(&mut self) {
        // A killed daemon leaves its socket file behind: wait for a new one.
        let _ = std::fs::remove_file(&self.socket);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(workspace_binary("teaminbox-milter"))
            .arg("--config")
            .arg(&self.config)
            .env_remove("TEAMINBOX_CONFIG")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.socket.exists() {
            if let Ok(Some(status)) = self.child.as_mut().unwrap().try_wait() {
                panic!("the daemon exited ({status}):\n{}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not listen within 10 s:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, and reaped (as its supervisor would).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    pub fn postfix(&self) -> Postfix {
        Postfix::start(PostfixOptions {
            milter: Some(format!("unix:{}", self.socket.display())),
            socket_dir: Some(self.dir.path().to_owned()),
            hosted_domains: vec![HOSTED.into()],
            ..Default::default()
        })
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let log = self.log_text();
            let tail: Vec<&str> = log.lines().rev().take(80).collect();
            eprintln!("--- daemon log (last lines) ---");
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

impl DaemonProcess {
    /// The most memory the running daemon has held (`VmHWM`, peak resident
    /// set), in bytes.
    pub fn peak_rss(&self) -> u64 {
        let pid = self.child.as_ref().expect("daemon running").id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/PID/status");
        kib * 1024
    }
}
