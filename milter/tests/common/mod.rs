//! Starts the real milter in-process on a UNIX socket, on a throwaway
//! database, and speaks the milter protocol to it with indymilter-test.

#![allow(dead_code)]

use indymilter_test::{Status, TestConnection};
use std::{ffi::CString, path::PathBuf, time::Duration};
use teaminbox_milter::{
    address::ForwardingAddress,
    config::Config,
    store::{settings::NewChannel, Store},
    testing::TestDatabase,
};
use tokio::{sync::oneshot, task::JoinHandle};

pub struct Milter {
    pub socket: PathBuf,
    pub store: Store,
    pub db: TestDatabase,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Milter {
    /// Starts the milter with `extra` TOML appended to a test configuration
    /// (hosted domain `inbox.example.com`).
    pub async fn start(db: TestDatabase, extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("milter.sock");
        let config = Config::from_toml(&format!(
            "[milter]\nlisten = \"unix:{}\"\nhosted_domains = [\"inbox.example.com\"]\n\
             memory_spool_limit = 4096\n{extra}\n[database]\nurl = \"{}\"\n",
            socket.display(),
            db.url
        ))
        .unwrap();
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            teaminbox_milter::run(config, stopped).await.unwrap();
        });
        for _ in 0..200 {
            if socket.exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(socket.exists(), "milter did not start listening");
        let store = db.store();
        Self {
            socket,
            store,
            db,
            shutdown: Some(shutdown),
            task: Some(task),
            _dir: dir,
        }
    }

    pub fn channel(&self, address: &str) -> i64 {
        self.store
            .settings()
            .create_channel(&NewChannel {
                name: "Support",
                company: "Acme",
                forwarding_address: &ForwardingAddress::parse(address).unwrap(),
            })
            .unwrap()
            .id
    }

    /// An MTA connection that has passed connect and HELO.
    pub async fn connect(&self) -> TestConnection {
        let mut conn = TestConnection::configure()
            .read_timeout(Duration::from_secs(20))
            .write_timeout(Duration::from_secs(20))
            .open_unix(&self.socket)
            .await
            .unwrap();
        let status = conn
            .connect("client.example.org", [192, 0, 2, 7])
            .await
            .unwrap();
        assert_eq!(status, Status::Continue);
        assert_eq!(
            conn.helo("mail.example.org").await.unwrap(),
            Status::Continue
        );
        conn
    }

    pub async fn stop(mut self) {
        let _ = self.shutdown.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap();
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
