//! End of message: the message is committed to the inbound queue before the
//! milter answers, and any failure to commit is a 4xx.

mod common;

use common::{reply, Milter};
use indymilter_test::{MacroStage, Status, TestConnection};
use teaminbox_store::inbound::Owner;
use teaminbox_testkit::both_databases;
use teaminbox_testkit::{postgres_admin_execute, TestDatabase};

const MESSAGE: &[u8] = b"From: Alice <alice@example.org>\r\nSubject: Printer on fire\r\n\
    X-Folded: one\r\n\ttwo\r\n\r\nHelp!\r\n.. not a dot line\r\n";

async fn send_message(conn: &mut TestConnection) {
    conn.macros(MacroStage::Data, [("i", "4AbCdEf")])
        .await
        .unwrap();
    assert_eq!(conn.data().await.unwrap(), Status::Continue);
    conn.header("From", "Alice <alice@example.org>")
        .await
        .unwrap();
    conn.header("Subject", "Printer on fire").await.unwrap();
    conn.header("X-Folded", "one\n\ttwo").await.unwrap();
    assert_eq!(conn.eoh().await.unwrap(), Status::Noreply);
    assert_eq!(
        conn.body(&b"Help!\r\n.. not a dot line\r\n"[..])
            .await
            .unwrap(),
        Status::Noreply
    );
}

both_databases! {
    async fn all_hosted_recipients_are_stored_then_discarded(db: TestDatabase) {
        let milter = Milter::start(db).await;
        let support = milter.channel("support@inbox.example.com");
        let sales = milter.channel("sales@inbox.example.com");
        let mut conn = milter.connect().await;
        conn.mail(["<alice@example.org>", "BODY=8BITMIME"]).await.unwrap();
        for rcpt in ["<support@inbox.example.com>", "<Support@inbox.example.com>", "<sales@inbox.example.com>"] {
            assert_eq!(conn.rcpt([rcpt]).await.unwrap(), Status::Continue);
        }
        send_message(&mut conn).await;
        conn.macros(MacroStage::Eom, [("i", "4AbCdEf")]).await.unwrap();
        let (actions, status) = conn.eom().await.unwrap();
        assert_eq!(status, Status::Discard);
        assert!(!actions.has_delete_recipient(indymilter_test::any()));
        conn.close().await.unwrap();

        let inbound = milter.store.inbound();
        let stored = inbound.list(10).unwrap();
        assert_eq!(stored.len(), 1);
        let m = &stored[0];
        assert_eq!(m.queue_id.as_deref(), Some("4AbCdEf"));
        assert_eq!(m.client_address.as_deref(), Some("192.0.2.7"));
        assert_eq!(m.client_name, "client.example.org");
        assert_eq!(m.helo, "mail.example.org");
        assert_eq!(m.mail_from, "alice@example.org");
        assert_eq!(m.state, "pending");
        // The message as it came, under our Authentication-Results header.
        let raw = inbound.raw_message(m.id).unwrap().unwrap();
        assert_eq!(m.message_size, raw.len() as i64);
        assert!(raw.starts_with(b"Authentication-Results: mx.inbox.example.com;"));
        assert!(raw.ends_with(MESSAGE), "{}", String::from_utf8_lossy(&raw));
        let recipients: Vec<_> = inbound
            .recipients(m.id)
            .unwrap()
            .into_iter()
            .map(|r| (r.address, r.owner))
            .collect();
        assert_eq!(
            recipients,
            [("sales@inbox.example.com".to_owned(), Owner::Channel(sales)), ("support@inbox.example.com".to_owned(), Owner::Channel(support))]
        );
        milter.stop().await;
    }
}

both_databases! {
    async fn mixed_recipients_keep_the_others_and_remove_the_hosted(db: TestDatabase) {
        let milter = Milter::start(db).await;
        milter.channel("support@inbox.example.com");
        let mut conn = milter.connect().await;
        conn.mail(["<alice@example.org>"]).await.unwrap();
        conn.rcpt(["<bob@example.net>"]).await.unwrap();
        conn.rcpt(["<support@inbox.example.com>"]).await.unwrap();
        send_message(&mut conn).await;
        let (actions, status) = conn.eom().await.unwrap();
        assert_eq!(status, Status::Accept);
        assert!(actions.has_delete_recipient("<support@inbox.example.com>"));
        assert!(!actions.has_delete_recipient("<bob@example.net>"));
        conn.close().await.unwrap();
        assert_eq!(milter.store.inbound().counts().unwrap().pending, 1);
        milter.stop().await;
    }
}

both_databases! {
    async fn a_failed_commit_is_a_tempfail_and_stores_nothing(db: TestDatabase) {
        let milter = Milter::start(db).await;
        milter.channel("support@inbox.example.com");
        let mut conn = milter.connect().await;
        conn.mail(["<alice@example.org>"]).await.unwrap();
        conn.rcpt(["<support@inbox.example.com>"]).await.unwrap();
        send_message(&mut conn).await;
        // Break the second half of the transaction: the message row must
        // not survive without its recipients.
        milter.db.execute("DROP TABLE inbound_recipients");
        let (_, status) = conn.eom().await.unwrap();
        let text = reply(&status);
        assert!(text.starts_with("451 4.3.0 "), "{text}");
        assert_eq!(milter.store.inbound().list(10).unwrap().len(), 0);
        milter.stop().await;
    }
}

both_databases! {
    async fn a_failed_lookup_is_a_tempfail(db: TestDatabase) {
        let milter = Milter::start(db).await;
        milter.db.execute("ALTER TABLE channels RENAME COLUMN forwarding_address TO broken");
        let mut conn = milter.connect().await;
        conn.mail(["<alice@example.org>"]).await.unwrap();
        let status = conn.rcpt(["<support@inbox.example.com>"]).await.unwrap();
        assert!(reply(&status).starts_with("451 4.3.0 "), "{status:?}");
        milter.stop().await;
    }
}

/// PostgreSQL going away under a running milter: mail is tempfailed, and
/// taken again once the database is back.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_unavailable_is_a_tempfail_until_it_returns() {
    let milter = Milter::start(TestDatabase::postgres()).await;
    milter.channel("support@inbox.example.com");
    let name = milter.db.postgres_name().unwrap().to_owned();
    postgres_admin_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"));
    postgres_admin_execute(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ));

    let mut conn = milter.connect().await;
    conn.mail(["<alice@example.org>"]).await.unwrap();
    let status = conn.rcpt(["<support@inbox.example.com>"]).await.unwrap();
    assert!(reply(&status).starts_with("451 4.3.0 "), "{status:?}");
    conn.close().await.unwrap();

    postgres_admin_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"));
    let mut conn = milter.connect().await;
    conn.mail(["<alice@example.org>"]).await.unwrap();
    assert_eq!(
        conn.rcpt(["<support@inbox.example.com>"]).await.unwrap(),
        Status::Continue
    );
    send_message(&mut conn).await;
    assert_eq!(conn.eom().await.unwrap().1, Status::Discard);
    conn.close().await.unwrap();
    assert_eq!(milter.store.inbound().counts().unwrap().pending, 1);
    milter.stop().await;
}
