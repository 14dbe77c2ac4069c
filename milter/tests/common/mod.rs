//! Starts the real milter in-process on a UNIX socket, on a throwaway
//! database, and speaks the milter protocol to it with indymilter-test.

#![allow(dead_code)]

pub mod http;

use indymilter_test::{ProtoOpts, Status, TestConnection};
use std::{ffi::CString, path::PathBuf, time::Duration};
use teaminbox_store::config::Config;
use teaminbox_store::Store;
use teaminbox_testkit::{daemon::RunningDaemon, dns::TestDns, TestDatabase};

pub struct Milter {
    pub socket: PathBuf,
    pub store: Store,
    pub db: TestDatabase,
    /// The name server, running while the milter does.
    dns: Box<dyn std::any::Any + Send>,
    daemon: RunningDaemon,
    _dir: tempfile::TempDir,
}

impl Milter {
    /// Starts the milter with a test configuration (hosted domain
    /// `inbox.example.com`) and a DNS server that knows no names.
    pub async fn start(db: TestDatabase) -> Self {
        Self::start_with(db, TestDns::builder().start(), "").await
    }

    /// Starts the milter on `dns`, with `security` keys for the
    /// `[security]` section (authserv-id `mx.inbox.example.com`).
    pub async fn start_with(db: TestDatabase, dns: TestDns, security: &str) -> Self {
        Self::start_on(db, dns.nameserver(), Box::new(dns), security).await
    }

    /// [`Milter::start_with`] on the name server `nameserver`, kept
    /// running by `dns` while the milter runs.
    pub async fn start_on(
        db: TestDatabase,
        nameserver: String,
        dns: Box<dyn std::any::Any + Send>,
        security: &str,
    ) -> Self {
        Self::start_configured(db, nameserver, dns, "", security).await
    }

    /// [`Milter::start_on`] with `milter` keys for the `[milter]` section too.
    pub async fn start_configured(
        db: TestDatabase,
        nameserver: String,
        dns: Box<dyn std::any::Any + Send>,
        milter: &str,
        security: &str,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("milter.sock");
        let config = Config::from_toml(&format!(
            "[milter]\nlisten = \"unix:{}\"\nhosted_domains = [\"inbox.example.com\"]\n\
             memory_spool_limit = 4096\n{milter}\n[database]\nurl = \"{}\"\n\
             [dns]\nnameservers = [\"{}\"]\n\
             [processor]\nworkers = 0\n\
             [security]\nauthserv_id = \"mx.inbox.example.com\"\n{security}\n",
            socket.display(),
            db.url,
            nameserver,
        ))
        .unwrap();
        let daemon = RunningDaemon::start(config);
        let store = db.store();
        Self {
            socket,
            store,
            db,
            dns,
            daemon,
            _dir: dir,
        }
    }

    /// A channel for `address` (see `testing::channel`).
    pub fn channel(&self, address: &str) -> i64 {
        teaminbox_testkit::channel(&self.store, address)
    }

    /// An MTA connection that has passed connect and HELO.
    pub async fn connect(&self) -> TestConnection {
        self.connect_from([192, 0, 2, 7], "mail.example.org").await
    }

    /// An MTA connection from a given client address and HELO name.
    pub async fn connect_from(&self, ip: [u8; 4], helo: &str) -> TestConnection {
        self.connect_socket(ip, helo).await
    }

    /// An MTA connection from a client the MTA describes as `socket` (an
    /// address, or `SocketInfo::Unknown` when it gives none).
    pub async fn connect_socket(
        &self,
        socket: impl indymilter_test::IntoSocketInfo,
        helo: &str,
    ) -> TestConnection {
        let mut conn = self.open(ProtoOpts::all()).await;
        // The test driver offers every "no reply" stage, as Postfix does.
        let status = conn.connect("client.example.org", socket).await.unwrap();
        assert_eq!(status, Status::Noreply);
        assert_eq!(conn.helo(helo).await.unwrap(), Status::Noreply);
        conn
    }

    /// An MTA connection, past connect and HELO, from an MTA that offers
    /// no "no reply" stage (older Sendmail): every stage is answered.
    pub async fn connect_answering_every_stage(&self) -> TestConnection {
        let noreply = ProtoOpts::NOREPLY_CONNECT
            | ProtoOpts::NOREPLY_HELO
            | ProtoOpts::NOREPLY_MAIL
            | ProtoOpts::NOREPLY_RCPT
            | ProtoOpts::NOREPLY_DATA
            | ProtoOpts::NOREPLY_HEADER
            | ProtoOpts::NOREPLY_EOH
            | ProtoOpts::NOREPLY_BODY
            | ProtoOpts::NOREPLY_UNKNOWN;
        let mut conn = self.open(ProtoOpts::all() - noreply).await;
        let status = conn.connect("client.example.org", [192, 0, 2, 7]).await;
        assert_eq!(status.unwrap(), Status::Continue);
        assert_eq!(
            conn.helo("mail.example.org").await.unwrap(),
            Status::Continue
        );
        conn
    }

    async fn open(&self, offered: ProtoOpts) -> TestConnection {
        TestConnection::configure()
            .available_opts(offered)
            .read_timeout(Duration::from_secs(20))
            .write_timeout(Duration::from_secs(20))
            .open_unix(&self.socket)
            .await
            .unwrap()
    }

    /// Stops the daemon cleanly and hands back its database, to read what
    /// it wrote on its way out.
    pub async fn stop_keeping_database(mut self) -> (TestDatabase, Store) {
        let stopped = tokio::task::spawn_blocking(move || {
            self.daemon.stop();
            self
        })
        .await
        .unwrap();
        (stopped.db, stopped.store)
    }

    pub async fn stop(mut self) {
        tokio::task::spawn_blocking(move || self.daemon.stop())
            .await
            .unwrap();
    }
}

/// The reply text a status carries, for assertions.
pub fn reply(status: &Status) -> String {
    match status {
        Status::Reject { message: Some(m) } | Status::Tempfail { message: Some(m) } => {
            m.to_string_lossy().into_owned()
        }
        other => format!("{other:?}"),
    }
}

pub fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// Feeds a whole message through DATA, headers, body and end of message, as
/// Postfix would: header values without the space after the colon (the
/// test connection adds it back) and with LF between folded lines.
pub async fn send_raw(
    conn: &mut TestConnection,
    raw: &[u8],
) -> (indymilter_test::EomActions, Status) {
    let text = String::from_utf8(raw.to_vec()).expect("test messages are UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("headers and body");
    assert_eq!(conn.data().await.unwrap(), Status::Continue);
    let mut fields: Vec<String> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            let last = fields.last_mut().expect("continuation after a field");
            last.push('\n');
            last.push_str(line);
        } else {
            fields.push(line.to_owned());
        }
    }
    for field in fields {
        let (name, value) = field.split_once(':').expect("header field");
        let value = value.strip_prefix(' ').unwrap_or(value);
        let status = conn.header(name, value).await.unwrap();
        assert_eq!(status, Status::Noreply, "header {name}");
    }
    assert_eq!(conn.eoh().await.unwrap(), Status::Noreply);
    // In chunks of at most 65,535 bytes, as MTAs send them.
    for chunk in body.as_bytes().chunks(65_535) {
        assert_eq!(conn.body(chunk.to_vec()).await.unwrap(), Status::Noreply);
    }
    conn.eom().await.unwrap()
}
