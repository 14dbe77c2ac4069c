//! Stage 4, memory: peak RSS (VmHWM) of the release `teaminbox-milter` binary,
//! a separate process, while it receives one message just under the 30 MiB
//! limit, and 50 messages of 1 MiB at once, through Postfix; all checks on
//! (the messages are DKIM-signed), SQLite. Each measurement starts a fresh
//! daemon, so VmHWM is that case's peak. Measured receive-only (processor
//! workers 0) and again with the default 2 workers, waiting until the
//! processor has filed the messages too.

use crate::common::{self, Mail};
use std::{
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Barrier},
    time::{Duration, Instant},
};
use teaminbox_bench::{corpus, system, RECIPIENT, SENDER};
use teaminbox_store::Store;
use teaminbox_testkit::dkim::dkim_sign;

pub struct Measurement {
    pub what: String,
    pub workers: usize,
    pub idle_rss: u64,
    pub peak_rss: u64,
    pub after_rss: u64,
    pub seconds: f64,
}

pub struct Results {
    pub measurements: Vec<Measurement>,
    pub seconds: f64,
}

pub fn run(
    milter_bin: &Path,
    work: &Path,
    shared: &Path,
    mail: &Mail,
    concurrent: usize,
) -> Results {
    let started = Instant::now();
    // Just under max_message_size (30 MiB = 31,457,280 bytes): room for
    // Postfix's Received: header and our Authentication-Results.
    let big = dkim_sign(&corpus::large_message(31_300_000, "30mib"), &mail.key);
    let small = dkim_sign(&corpus::large_message(1 << 20, "1mib"), &mail.key);
    let socket = shared.join("memory.sock");
    let postfix = common::postfix(
        Some(format!("unix:{}", socket.display())),
        shared,
        false,
        false,
    );
    let addr = postfix.smtp_addr();
    let mut measurements = Vec::new();
    for workers in [0, 2] {
        for (what, message, count) in [
            (format!("one message of {} bytes", big.len()), &big, 1),
            (
                format!("{concurrent} messages of {} bytes at once", small.len()),
                &small,
                concurrent,
            ),
        ] {
            let dir = work.join(format!("memory-{workers}-{count}"));
            std::fs::create_dir_all(&dir).expect("memory work dir");
            let db = dir.join("teaminbox.db");
            let url = format!("sqlite://{}", db.display());
            let store = Store::from_url(&url).expect("store");
            store.migrate().expect("migrate");
            common::ensure_channel(&store, RECIPIENT, "Acme");
            let config =
                common::daemon_config(&socket, &url, &mail.dns.nameserver(), Some(workers));
            let config_path = dir.join("teaminbox.toml");
            std::fs::write(&config_path, config.to_toml()).expect("write config");
            let mut daemon =
                Daemon::start(milter_bin, &config_path, &dir.join("daemon.log"), &socket);
            std::thread::sleep(Duration::from_millis(300));
            let idle = system::rss(daemon.pid()).expect("daemon status").0;
            let t0 = Instant::now();
            let barrier = Arc::new(Barrier::new(count));
            let senders: Vec<_> = (0..count)
                .map(|_| {
                    let message = message.clone();
                    let barrier = barrier.clone();
                    std::thread::spawn(move || {
                        barrier.wait();
                        teaminbox_e2e::send_message(addr, SENDER, &[RECIPIENT], &message)
                    })
                })
                .collect();
            for s in senders {
                let t = s.join().expect("sender thread");
                assert!(t.accepted(), "memory: message not accepted:\n{t}");
            }
            let stored = store.inbound().counts().expect("counts");
            assert_eq!(
                stored.pending + stored.processing + stored.done,
                count as i64,
                "memory: every message stored"
            );
            if workers > 0 {
                let deadline = Instant::now() + Duration::from_secs(300);
                while store.inbound().counts().expect("counts").done < count as i64 {
                    assert!(
                        Instant::now() < deadline,
                        "memory: processor did not finish"
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            let seconds = t0.elapsed().as_secs_f64();
            let (peak, after) = system::rss(daemon.pid()).expect("daemon status");
            daemon.stop();
            eprintln!(
                "bench: memory, {what}, workers {workers}: peak {:.1} MiB",
                peak as f64 / 1048576.0
            );
            measurements.push(Measurement {
                what,
                workers,
                idle_rss: idle,
                peak_rss: peak,
                after_rss: after,
                seconds,
            });
        }
    }
    Results {
        measurements,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// The release daemon as its own process.
struct Daemon {
    child: Child,
}

impl Daemon {
    fn start(bin: &Path, config: &Path, log: &Path, socket: &Path) -> Daemon {
        let _ = std::fs::remove_file(socket);
        let log = std::fs::File::create(log).expect("daemon log");
        let child = Command::new(bin)
            .arg("--config")
            .arg(config)
            .env_remove("TEAMINBOX_CONFIG")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        common::wait_for_path(socket, Duration::from_secs(10));
        Daemon { child }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}
