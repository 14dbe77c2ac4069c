//! An MTA that does not send a macro the filter needs (the queue id `i`,
//! the MAIL FROM macros that carry `{auth_authen}`) is named in the daemon's
//! log once per run, with the configuration line to add; the mail itself
//! is still taken.

mod common;

use common::Milter;
use indymilter_test::{MacroStage, Status, TestConnection};
use teaminbox_testkit::{log::captured_log as log, TestDatabase};

/// One message to a hosted address; `macros`: whether the MTA sends the
/// ones the filter asks for.
async fn send(milter: &Milter, macros: bool) {
    let mut conn: TestConnection = milter.connect().await;
    if macros {
        conn.macros(MacroStage::Mail, [("{mail_addr}", "alice@example.org")])
            .await
            .unwrap();
    }
    conn.mail(["<alice@example.org>"]).await.unwrap();
    let rcpt = conn.rcpt(["<support@inbox.example.com>"]).await.unwrap();
    assert_eq!(rcpt, Status::Continue);
    assert_eq!(conn.data().await.unwrap(), Status::Continue);
    conn.header("From", "Alice <alice@example.org>")
        .await
        .unwrap();
    conn.eoh().await.unwrap();
    conn.body(&b"Hello\r\n"[..]).await.unwrap();
    if macros {
        conn.macros(MacroStage::Eom, [("i", "4AbCdEf")])
            .await
            .unwrap();
    }
    let (_, status) = conn.eom().await.unwrap();
    assert_eq!(status, Status::Discard, "taken all the same");
    conn.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn each_missing_macro_is_named_once_per_daemon_run() {
    log(); // from here on (one test in this binary: no other test's lines)
    for (run, db) in [TestDatabase::sqlite(), TestDatabase::postgres()]
        .into_iter()
        .enumerate()
    {
        let milter = Milter::start(db).await;
        milter.channel("support@inbox.example.com");
        send(&milter, true).await;
        let warnings = log().matches("missing milter macro").count();
        assert_eq!(warnings, 2 * run, "nothing new with the macros: {}", log());
        send(&milter, false).await;
        send(&milter, false).await;
        let stored = milter.store.inbound().list(10).unwrap();
        assert_eq!(stored.len(), 3);
        assert_eq!(stored[2].queue_id.as_deref(), Some("4AbCdEf"));
        assert_eq!(stored[0].queue_id, None);
        milter.stop().await;

        let log = log();
        let lines = |needle: &str| log.lines().filter(|l| l.contains(needle)).count();
        assert_eq!(lines("add i to confMILTER_MACROS_EOM"), run + 1, "{log}");
        assert_eq!(lines("to confMILTER_MACROS_ENVFROM"), run + 1, "{log}");
    }
}
