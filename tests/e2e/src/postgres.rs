//! A PostgreSQL cluster of a test's own, which the test may stop and start
//! (the shared cluster of `tests/run` must stay up for the other tests).
//!
//! Made the way `tests/lib/postgres.sh` makes the shared one: Debian's
//! `initdb` and `pg_ctl`, run as the postgres user (initdb refuses root), in
//! a temporary directory, on 127.0.0.1 only, trust authentication, superuser
//! `teaminbox`, durability off. Removed on drop.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::free_port;

pub struct PostgresCluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl PostgresCluster {
    /// Makes and starts a cluster; panics with the reason (and the
    /// server's log) if it cannot. Needs root and Debian's `postgresql`.
    pub fn start() -> PostgresCluster {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "teaminbox-e2e-pg-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let cluster = PostgresCluster {
            bin: bin_dir(),
            dir,
            port: free_port(),
        };
        must(
            Command::new("chown")
                .arg("postgres:postgres")
                .arg(&cluster.dir)
                .output(),
            "chown the cluster directory to postgres (the tests run as root)",
        );
        let mut initdb = cluster.as_postgres("initdb");
        initdb.args([
            "--username=teaminbox",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            &format!("--pgdata={}", cluster.data().display()),
        ]);
        must(initdb.output(), "initdb");
        cluster.resume();
        cluster
    }

    /// `postgres://teaminbox@127.0.0.1:PORT/postgres`
    pub fn url(&self) -> String {
        format!("postgres://teaminbox@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server the way an operator's restart does (`pg_ctl stop
    /// --mode=fast`: sessions are ended, then a clean shutdown), and waits.
    pub fn stop(&self) {
        self.pg_ctl(&["stop", "--mode=fast", "--wait"]);
    }

    /// Starts the (stopped) server again on the same port, and waits until
    /// it accepts connections.
    pub fn resume(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} \
             -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            self.port,
            self.dir.display()
        );
        let log = format!("--log={}", self.dir.join("server.log").display());
        let started = self
            .pg_ctl_command(&["start", "--wait", "--timeout=60", &log, "-o", &options])
            .output();
        if !started.as_ref().is_ok_and(|o| o.status.success()) {
            let log = fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
            panic!("PostgreSQL did not start: {started:?}\n{log}");
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn pg_ctl(&self, args: &[&str]) {
        must(self.pg_ctl_command(args).output(), "pg_ctl");
    }

    fn pg_ctl_command(&self, args: &[&str]) -> Command {
        let mut cmd = self.as_postgres("pg_ctl");
        cmd.arg(format!("--pgdata={}", self.data().display()))
            .arg("--silent")
            .args(args);
        cmd
    }

    fn as_postgres(&self, program: &str) -> Command {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"])
            .arg(self.bin.join(program));
        cmd
    }
}

impl Drop for PostgresCluster {
    fn drop(&mut self) {
        let _ = self
            .pg_ctl_command(&["stop", "--mode=immediate", "--wait"])
            .output();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The newest `/usr/lib/postgresql/VERSION/bin` with an initdb.
fn bin_dir() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .expect("PostgreSQL server binaries not found under /usr/lib/postgresql (package postgresql; tests/run installs it)")
}

fn must(output: std::io::Result<Output>, what: &str) {
    match output {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "{what} failed ({}): {}{}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("{what}: cannot run it: {e}"),
    }
}
