//! `[retention]`: old rejection log rows, raw messages of filed mail and
//! filed queue rows are purged in batches, on both databases, while the
//! inbox still shows every conversation; and the daemon purges at start.

mod common;

use chrono::{Duration as TimeDelta, NaiveDateTime};
use std::time::{Duration, Instant};
use teaminbox_milter::retention::{purge, Purged};
use teaminbox_processor::Processor;
use teaminbox_store::config::{Keep, RetentionConfig};
use teaminbox_store::{rejections::NewRejection, retention::PURGE_BATCH, Store};
use teaminbox_testkit::both_databases;
use teaminbox_testkit::{channel, inbound_message, log::captured_log, TestDatabase};

const SUPPORT: &str = "support@inbox.example.com";
const DAY: Duration = Duration::from_secs(86400);

fn sql_time(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn days_ago(days: i64) -> String {
    sql_time(teaminbox_store::now() - TimeDelta::days(days))
}

fn refusal(reason: &str) -> NewRejection<'_> {
    NewRejection {
        session: teaminbox_store::model::SmtpSession {
            queue_id: None,
            client_address: Some("192.0.2.7".into()),
            client_name: "client.example.org".into(),
            helo: "mail.example.org".into(),
            mail_from: "alice@example.org".into(),
        },
        header_from: None,
        recipients: &[],
        smtp_code: "550",
        enhanced_code: "5.1.1",
        reason,
    }
}

fn keep_all() -> RetentionConfig {
    RetentionConfig {
        rejections: Keep::Forever,
        processed_raw_messages: Keep::Forever,
        done_queue_rows: Keep::Forever,
    }
}

/// Stores and files a message to support@; returns its queue row's id.
fn receive(store: &Store, channel_id: i64, subject: &str) -> i64 {
    let raw = format!(
        "From: bob@example.org\r\nTo: {SUPPORT}\r\nSubject: {subject}\r\n\
         Message-ID: <{subject}@example.org>\r\n\r\nThe printer is on fire.\r\n"
    );
    let id = store
        .inbound()
        .enqueue(inbound_message(SUPPORT, channel_id, raw))
        .unwrap();
    let processor = Processor::new(store.clone(), "teaminbox@inbox.example.com".into());
    while processor.process_next("test-worker") {}
    id
}

/// The conversation filed from queue row `inbound`, as `conversation show`
/// reads it, with the text of its message.
fn conversation_text(db: &TestDatabase, subject: &str) -> String {
    let rows = db.rows(&format!(
        "SELECT CAST(conversation_id AS TEXT) AS a, NULL AS b, NULL AS c FROM messages WHERE subject = '{subject}'"
    ));
    let id: i64 = rows[0].0.as_deref().unwrap().parse().unwrap();
    let shown = db.store().views().conversation(id).unwrap();
    assert_eq!(shown.subject, subject);
    shown.messages[0].text.clone()
}

both_databases! {
    fn old_rejections_are_deleted_in_batches(db: TestDatabase) {
        let store = db.store();
        let old = (0..PURGE_BATCH * 2 + 7).map(|_| refusal("old")).collect::<Vec<_>>();
        store.rejections().record_batch(&old).unwrap();
        db.execute(&format!("UPDATE rejections SET rejected_at = '{}'", days_ago(31)));
        store.rejections().record(&refusal("new")).unwrap();
        let config = RetentionConfig { rejections: Keep::For(30 * DAY), ..keep_all() };
        let purged = purge(&store, &config, || true).unwrap();
        assert_eq!(purged, Purged { rejections: old.len(), ..Purged::default() });
        let left = store.rejections().list(None, 10_000).unwrap();
        assert_eq!(left.iter().map(|r| r.reason.as_str()).collect::<Vec<_>>(), ["new"]);
        // Kept for ever, nothing goes.
        db.execute(&format!("UPDATE rejections SET rejected_at = '{}'", days_ago(3650)));
        assert_eq!(purge(&store, &keep_all(), || true).unwrap(), Purged::default());
        assert_eq!(store.rejections().list(None, 10).unwrap().len(), 1);
    }
}

both_databases! {
    fn raw_messages_of_old_filed_mail_are_dropped_and_the_inbox_stays(db: TestDatabase) {
        let store = db.store();
        let support = channel(&store, SUPPORT);
        let old = receive(&store, support, "old");
        let recent = receive(&store, support, "recent");
        // An old message that was not filed (yet) keeps its bytes.
        let pending = store.inbound().enqueue(inbound_message(SUPPORT, support, "Subject: x\r\n\r\nx\r\n")).unwrap();
        db.execute(&format!("UPDATE inbound_messages SET received_at = '{}' WHERE id IN ({old}, {pending})", days_ago(100)));

        let config = RetentionConfig { processed_raw_messages: Keep::For(90 * DAY), ..keep_all() };
        let purged = purge(&store, &config, || true).unwrap();
        assert_eq!(purged, Purged { raw_messages: 1, ..Purged::default() });
        assert_eq!(store.inbound().raw_message(old).unwrap(), Some(Vec::new()));
        assert!(!store.inbound().raw_message(recent).unwrap().unwrap().is_empty());
        assert!(!store.inbound().raw_message(pending).unwrap().unwrap().is_empty());
        assert!(conversation_text(&db, "old").contains("The printer is on fire."));
        // Done once: the next purge finds nothing.
        assert_eq!(purge(&store, &config, || true).unwrap(), Purged::default());
    }
}

both_databases! {
    fn old_done_queue_rows_are_deleted_and_the_inbox_stays(db: TestDatabase) {
        let store = db.store();
        let support = channel(&store, SUPPORT);
        let old = receive(&store, support, "old");
        let recent = receive(&store, support, "recent");
        db.execute(&format!("UPDATE inbound_messages SET received_at = '{}' WHERE id = {old}", days_ago(8)));

        let config = RetentionConfig { done_queue_rows: Keep::For(7 * DAY), ..keep_all() };
        let purged = purge(&store, &config, || true).unwrap();
        assert_eq!(purged, Purged { queue_rows: 1, ..Purged::default() });
        assert_eq!(store.inbound().raw_message(old).unwrap(), None);
        assert!(store.inbound().raw_message(recent).unwrap().is_some());
        let recipients = db.rows(&format!(
            "SELECT CAST(COUNT(*) AS TEXT) AS a, NULL AS b, NULL AS c FROM inbound_recipients WHERE inbound_message_id = {old}"
        ));
        assert_eq!(recipients[0].0.as_deref(), Some("0"));
        assert!(conversation_text(&db, "old").contains("The printer is on fire."));
        assert!(conversation_text(&db, "recent").contains("The printer is on fire."));
    }
}

both_databases! {
    async fn the_daemon_purges_old_rejections_at_start(db: TestDatabase) {
        let store = db.store();
        store.migrate().unwrap();
        store.rejections().record(&refusal("old")).unwrap();
        store.rejections().record(&refusal("new")).unwrap();
        db.execute(&format!("UPDATE rejections SET rejected_at = '{}' WHERE reason = 'old'", days_ago(31)));
        captured_log();
        // The default keeps rejections 30 days.
        let milter = common::Milter::start(db).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        let said = "retention purge: 1 rejections deleted (kept 30days), 0 raw messages of filed mail dropped (kept keep), 0 done queue rows deleted (kept keep)";
        loop {
            let left = milter.store.rejections().list(None, 10).unwrap();
            if left.len() == 1 && captured_log().contains(said) {
                assert_eq!(left[0].reason, "new");
                break;
            }
            assert!(Instant::now() < deadline, "not purged and logged within 10 s: {left:?}\n{}", captured_log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        milter.stop().await;
    }
}
