//! `[web] listen`: the daemon serves the web inbox beside the milter and
//! stops it with the rest; `run_web_only` serves it alone, with no milter
//! socket.

mod common;

use common::http::{free_port, get};
use common::Milter;
use teaminbox_store::config::Config;
use teaminbox_testkit::both_databases;
use teaminbox_testkit::dns::TestDns;

fn assert_sign_in_page(status: &str, headers: &str, body: &str) {
    assert_eq!(status, "HTTP/1.1 200 OK", "{headers}\n{body}");
    let headers = headers.to_ascii_lowercase();
    assert!(
        headers.contains("content-security-policy: default-src 'none'"),
        "{headers}"
    );
    assert!(headers.contains("x-frame-options: deny"), "{headers}");
    assert!(
        body.contains("<form method=\"post\" action=\"/sign-in\""),
        "{body}"
    );
}

fn refused(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
}

both_databases! {
    async fn the_daemon_serves_the_web_inbox_and_stops_it(db: TestDatabase) {
        let port = free_port();
        let extra = format!("[web]\nlisten = \"127.0.0.1:{port}\"\n");
        let milter = Milter::start_with(db, TestDns::builder().start(), &extra).await;
        let (status, headers, body) = get(port, "/sign-in").await;
        assert_sign_in_page(&status, &headers, &body);
        let (status, headers, _) = get(port, "/").await;
        assert_eq!(status, "HTTP/1.1 303 See Other");
        assert!(headers.to_ascii_lowercase().contains("location: /sign-in"), "{headers}");
        milter.stop().await;
        assert!(refused(port));
    }
}

both_databases! {
    async fn the_web_inbox_runs_alone(db: TestDatabase) {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("milter.sock");
        let port = free_port();
        let config = Config::from_toml(&format!(
            "[milter]\nlisten = \"unix:{}\"\n[database]\nurl = \"{}\"\n\
             [web]\nlisten = \"127.0.0.1:{port}\"\n",
            socket.display(),
            db.url
        ))
        .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let web = tokio::spawn(teaminbox_milter::run_web_only(config, async {
            let _ = stopped.await;
        }));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while refused(port) {
            assert!(std::time::Instant::now() < deadline, "the web inbox did not listen");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let (status, headers, body) = get(port, "/sign-in").await;
        assert_sign_in_page(&status, &headers, &body);
        // The schema is brought up to date; no milter socket is made.
        assert!(db.store().accounts().session("no such token").unwrap().is_none());
        assert!(!socket.exists());
        stop.send(()).unwrap();
        web.await.unwrap().unwrap();
        assert!(refused(port));
    }
}
