//! The SQLite database's disk fills up under a load through a real Postfix,
//! then space is freed, without restarting the daemon: while it is full
//! the clients are told 4xx (never 250 for a message that was not
//! committed), and once space is back every message is stored exactly
//! once and nothing else is.
//!
//! The database lives on a tmpfs of its own (the test mounts it; it runs
//! as root, as `tests/run` does), filled with a file until the kernel says
//! ENOSPC; removing the file frees the space.

mod common;

use common::{
    daemon::DaemonProcess,
    daemon_toml_with,
    delivery::{load, padded_message, reconcile_stored, Patience},
    HOSTED,
};
use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use teaminbox_testkit::{channel, dns::TestDns, TestDatabase};

const SESSIONS: usize = 5;
const PER_SESSION: usize = 8;
/// Larger than what SQLite's write-ahead log may still have room for, so
/// that a commit on the full disk needs new blocks.
const MESSAGE_BYTES: usize = 256 * 1024;
/// Temporary refusals seen before the space is freed.
const REFUSALS_WHILE_FULL: usize = 10;
const PATIENCE: Patience = Patience {
    total: Duration::from_secs(60),
    pause: Duration::from_millis(200),
};

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size_mib: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mib}m,mode=0700")])
            .arg("tmpfs")
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "mount a tmpfs (the test needs root)");
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Writes a file into `dir` until the file system is full.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 64 * 1024];
    loop {
        match file.write_all(&block).and_then(|()| file.sync_all()) {
            Ok(()) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => return path,
            Err(e) => panic!("filling {}: {e}", dir.display()),
        }
    }
}

#[test]
fn a_full_sqlite_disk_is_a_tempfail_and_the_retries_are_stored_once() {
    let tmpfs = Tmpfs::mount(32);
    let db = TestDatabase::existing(&format!(
        "sqlite://{}",
        tmpfs.path().join("teaminbox.db").display()
    ));
    channel(&db.store(), &format!("support@{HOSTED}"));
    let dns = TestDns::builder().start();
    let daemon = DaemonProcess::start(|socket| {
        daemon_toml_with(socket, &db.url, &dns.nameserver(), 0, "", "")
    });
    let postfix = daemon.postfix();
    let message = padded_message("disk", MESSAGE_BYTES);

    let filler = fill(tmpfs.path());
    let started = Instant::now();
    let mut full_for = Duration::ZERO;
    let deliveries = load(
        &[postfix.smtp_addr()],
        (SESSIONS, PER_SESSION),
        PATIENCE,
        |n, i| format!("disk-{n}-{i}@example.org"),
        |_| Cow::Borrowed(&message),
        |tally| {
            tally.wait_until("temporary refusals on the full disk", |t| {
                t.tempfails() >= REFUSALS_WHILE_FULL
            });
            std::fs::remove_file(&filler).unwrap();
            full_for = started.elapsed();
        },
    );

    let tempfails: Vec<&String> = deliveries.iter().flat_map(|d| &d.tempfails).collect();
    eprintln!(
        "{} messages; disk full for {full_for:.1?}, {} temporary refusals meanwhile, {} in all",
        deliveries.len(),
        REFUSALS_WHILE_FULL,
        tempfails.len()
    );
    let other: Vec<_> = tempfails
        .iter()
        .filter(|t| !t.contains("451 4.3.0 Temporary failure storing the message"))
        .collect();
    assert!(other.is_empty(), "other tempfails: {other:?}");
    reconcile_stored(&db, &deliveries);
    assert!(
        daemon.log_text().contains("cannot store message"),
        "the daemon logged no failed commit"
    );
}
