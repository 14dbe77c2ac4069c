//! The real milter, started in-process on a throwaway database, with a real
//! Postfix in a container in front of it.

#![allow(dead_code)]

pub mod browser;
pub mod daemon;
pub mod delivery;
pub mod replies;

use std::path::PathBuf;
use teaminbox_e2e::{Mta, MtaKind, Postfix, PostfixOptions};
use teaminbox_store::config::Config;
use teaminbox_store::Store;
use teaminbox_testkit::{daemon::RunningDaemon, dns::TestDns, TestDatabase};

pub const HOSTED: &str = "inbox.example.com";

pub struct Milter {
    pub store: Store,
    pub db: TestDatabase,
    pub dns: TestDns,
    config: Config,
    socket: PathBuf,
    running: Option<RunningDaemon>,
    _dir: tempfile::TempDir,
}

impl Milter {
    /// The milter with a DNS server that knows no names: nothing is ever
    /// asked of the machine's resolver.
    pub fn start(db: TestDatabase) -> Self {
        Self::start_with(db, TestDns::builder().start())
    }

    /// The milter alone: its processor workers stay off, so the tests see
    /// the queue as the milter left it.
    pub fn start_with(db: TestDatabase, dns: TestDns) -> Self {
        Self::start_full(db, dns, 0)
    }

    /// The whole daemon, milter and processor with `workers` workers.
    pub fn start_full(db: TestDatabase, dns: TestDns, workers: usize) -> Self {
        Self::start_configured(db, dns, workers, "")
    }

    /// The whole daemon, with `extra` TOML (whole sections) added to its
    /// configuration.
    pub fn start_configured(db: TestDatabase, dns: TestDns, workers: usize, extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("milter.sock");
        let toml = daemon_toml(&socket, &db.url, &dns, workers) + extra;
        let config = Config::from_toml(&toml).unwrap();
        let store = db.store();
        let mut milter = Self {
            store,
            db,
            dns,
            config,
            socket,
            running: None,
            _dir: dir,
        };
        milter.resume();
        milter
    }

    /// Starts the milter (again) and waits for its socket.
    pub fn resume(&mut self) {
        assert!(self.running.is_none(), "milter already running");
        self.running = Some(RunningDaemon::start(self.config.clone()));
    }

    pub fn socket(&self) -> &std::path::Path {
        &self.socket
    }

    /// Restarts the daemon with its outbound mail going to `smtp` (the
    /// Postfix in front of it, once that runs), retrying after `retry_secs`.
    pub fn send_through(&mut self, smtp: std::net::SocketAddr, retry_secs: u64) {
        self.stop();
        self.config.outbound.smtp_url = format!("smtp://{smtp}");
        self.config.outbound.retry_base_secs = retry_secs;
        self.config.outbound.default_from_domain = HOSTED.into();
        self.resume();
    }

    /// Restarts the daemon with its metrics served on 127.0.0.1:`port`.
    pub fn serve_metrics(&mut self, port: u16) {
        self.stop();
        self.config.metrics.listen = format!("127.0.0.1:{port}");
        self.resume();
    }

    /// Restarts the daemon with its web inbox on 127.0.0.1:`port` (and
    /// its sign-in links pointing there); returns the inbox's address.
    pub fn serve_web(&mut self, port: u16) -> String {
        self.stop();
        let url = format!("http://127.0.0.1:{port}");
        self.config.web.listen = format!("127.0.0.1:{port}");
        self.config.web.public_url = url.clone();
        self.resume();
        url
    }

    /// The configuration file `teaminbox-admin` needs to work on this
    /// daemon's database.
    pub fn admin_config(&self) -> PathBuf {
        let path = self.socket.parent().unwrap().join("teaminbox.toml");
        std::fs::write(&path, self.config.to_toml()).unwrap();
        path
    }

    /// Stops the milter; its socket goes away with it.
    pub fn stop(&mut self) {
        self.running.take().expect("milter running").stop();
    }

    /// A channel for `address` (see `testing::channel`).
    pub fn channel(&self, address: &str) -> i64 {
        teaminbox_testkit::channel(&self.store, address)
    }

    /// A Postfix container whose smtpd uses this milter.
    pub fn postfix(&self) -> Postfix {
        Postfix::start(PostfixOptions {
            milter: Some(format!("unix:{}", self.socket.display())),
            socket_dir: Some(self.socket.parent().unwrap().to_owned()),
            hosted_domains: vec![HOSTED.into()],
            ..Default::default()
        })
    }

    /// An MTA of `kind` in front of this milter (see [`each_mta!`]).
    pub fn mta(&self, kind: MtaKind) -> Box<dyn Mta> {
        kind.start_with_milter(&self.socket, &[HOSTED])
    }

    pub fn stored(&self) -> Vec<teaminbox_store::inbound::InboundMessage> {
        self.store.inbound().list(1000).unwrap()
    }
}

impl Drop for Milter {
    fn drop(&mut self) {
        if self.running.is_some() {
            self.stop();
        }
    }
}

/// One test body, run through each MTA on each database: `fn name(db:
/// TestDatabase, kind: MtaKind) { ... }` becomes `name::postfix_sqlite`,
/// `name::postfix_postgres`, `name::sendmail_sqlite` and
/// `name::sendmail_postgres`.
#[macro_export]
macro_rules! each_mta {
    (fn $name:ident($db:ident : TestDatabase, $kind:ident : MtaKind) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use teaminbox_e2e::MtaKind;
            use teaminbox_testkit::TestDatabase;
            fn run($db: TestDatabase, $kind: MtaKind) $body
            #[test]
            fn postfix_sqlite() { run(TestDatabase::sqlite(), MtaKind::Postfix) }
            #[test]
            fn postfix_postgres() { run(TestDatabase::postgres(), MtaKind::Postfix) }
            #[test]
            fn sendmail_sqlite() { run(TestDatabase::sqlite(), MtaKind::Sendmail) }
            #[test]
            fn sendmail_postgres() { run(TestDatabase::postgres(), MtaKind::Sendmail) }
        }
    };
}

/// The daemon's configuration file: its socket, database, DNS server and
/// processor workers.
pub fn daemon_toml(
    socket: &std::path::Path,
    db_url: &str,
    dns: &TestDns,
    workers: usize,
) -> String {
    daemon_toml_with(socket, db_url, &dns.nameserver(), workers, "", "")
}

/// [`daemon_toml`] with a name server's address, and `milter` and
/// `security` keys added to those sections.
pub fn daemon_toml_with(
    socket: &std::path::Path,
    db_url: &str,
    nameserver: &str,
    workers: usize,
    milter: &str,
    security: &str,
) -> String {
    // Postfix's smtpd runs as another user in the container.
    format!(
        "[milter]\nlisten = \"unix:{}\"\nsocket_mode = \"0666\"\n\
         hosted_domains = [\"{HOSTED}\"]\n{milter}\n[database]\nurl = \"{db_url}\"\n\
         [dns]\nnameservers = [\"{}\"]\n[security]\nauthserv_id = \"mx.{HOSTED}\"\n{security}\n\
         [processor]\nworkers = {workers}\n[web]\nlisten = \"127.0.0.1:0\"\n",
        socket.display(),
        nameserver,
    )
}

/// A binary of this workspace, built beside this test binary (`cargo
/// test --workspace` and `tests/run` build them all).
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(
        bin.exists(),
        "build {name} first (cargo build --workspace): {}",
        bin.display()
    );
    bin
}

/// A small, ordinary message.
pub fn message(subject: &str) -> Vec<u8> {
    format!(
        "From: Alice <alice@example.org>\r\nTo: support@{HOSTED}\r\nSubject: {subject}\r\n\
         Message-ID: <{subject}@example.org>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n\r\n\
         Hello,\r\nthe printer is on fire.\r\n.\r\nA line with a dot.\r\n"
    )
    .into_bytes()
}

/// Runs the real `teaminbox-admin` (built beside this test binary) with
/// the given configuration; returns (exit code, stdout, stderr).
pub fn admin(config: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    admin_with_input(config, args, "")
}

/// [`admin`] with `input` on its standard input.
pub fn admin_with_input(
    config: &std::path::Path,
    args: &[&str],
    input: &str,
) -> (i32, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(workspace_binary("teaminbox-admin"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("TEAMINBOX_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that reads nothing may close its input before this write.
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
