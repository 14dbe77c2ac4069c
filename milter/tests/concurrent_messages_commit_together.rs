//! Group commit: messages handed over by many sessions at once are each
//! stored exactly once, and one that cannot be stored fails alone, not the
//! others committed in the same transaction.

use std::{sync::Arc, thread, time::Duration};
use teaminbox_store::{inbound::NewInboundMessage, Store};
use teaminbox_testkit::both_databases;
use teaminbox_testkit::{channel, inbound_message};

fn message(tag: &str, channel_id: i64) -> NewInboundMessage {
    let raw = format!("Subject: {tag}\r\n\r\n{tag}\r\n");
    {
        let base = inbound_message("support@inbox.example.com", channel_id, raw);
        NewInboundMessage {
            spam_check: None,
            session: teaminbox_store::model::SmtpSession {
                queue_id: Some(tag.to_owned()),
                ..base.session
            },
            ..base
        }
    }
}

/// Enqueues `message` on a thread of its own.
fn enqueue_aside(
    store: &Store,
    message: NewInboundMessage,
) -> thread::JoinHandle<Result<i64, String>> {
    let store = store.clone();
    thread::spawn(move || store.inbound().enqueue(message).map_err(|e| e.to_string()))
}

both_databases! {
    fn concurrent_messages_are_each_stored_once(db: TestDatabase) {
        let store = Arc::new(db.store());
        let channel_id = channel(&store, "support@inbox.example.com");
        let senders: Vec<_> = (0..12)
            .map(|t| {
                let store = Arc::clone(&store);
                thread::spawn(move || {
                    (0..25)
                        .map(|m| {
                            let tag = format!("t{t}-m{m}");
                            let id = store.inbound().enqueue(message(&tag, channel_id)).unwrap();
                            (id, tag)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut stored: Vec<(i64, String)> =
            senders.into_iter().flat_map(|s| s.join().unwrap()).collect();
        stored.sort();
        stored.dedup_by_key(|(id, _)| *id);
        assert_eq!(stored.len(), 300, "every message has an id of its own");
        for (id, tag) in &stored {
            let raw = store.inbound().raw_message(*id).unwrap().unwrap();
            assert_eq!(raw, format!("Subject: {tag}\r\n\r\n{tag}\r\n").into_bytes(), "message {id}");
            assert_eq!(store.inbound().recipients(*id).unwrap().len(), 1);
        }
        let counts = db.rows("SELECT CAST(COUNT(*) AS TEXT) AS a, NULL AS b, NULL AS c FROM inbound_messages");
        assert_eq!(counts[0].0.as_deref(), Some("300"), "and nothing else");
    }
}

both_databases! {
    fn a_message_that_cannot_be_stored_fails_alone(db: TestDatabase) {
        let store = db.store();
        let channel_id = channel(&store, "support@inbox.example.com");
        // While the queue is locked from outside, the first message waits
        // for the lock, and the two after it queue up behind it: they are
        // committed together once it is through.
        let lock = db.hold_write_lock();
        let first = enqueue_aside(&store, message("first", channel_id));
        thread::sleep(Duration::from_millis(300));
        let broken = enqueue_aside(&store, message("broken", channel_id + 1000));
        let sound = enqueue_aside(&store, message("sound", channel_id));
        thread::sleep(Duration::from_millis(300));
        drop(lock);

        let first = first.join().unwrap().expect("the first message is stored");
        let error = broken.join().unwrap().expect_err("no such channel");
        assert!(error.to_lowercase().contains("foreign key"), "{error}");
        let sound = sound.join().unwrap().expect("its neighbour is stored all the same");
        assert!(sound > first);
        let tags = db.rows("SELECT queue_id AS a, NULL AS b, NULL AS c FROM inbound_messages ORDER BY id");
        let tags: Vec<_> = tags.into_iter().filter_map(|(tag, _, _)| tag).collect();
        assert_eq!(tags, ["first", "sound"]);
        let orphans = db.rows(
            "SELECT CAST(COUNT(*) AS TEXT) AS a, NULL AS b, NULL AS c FROM inbound_recipients \
             WHERE inbound_message_id NOT IN (SELECT id FROM inbound_messages)",
        );
        assert_eq!(orphans[0].0.as_deref(), Some("0"));
    }
}

both_databases! {
    fn a_lone_message_that_cannot_be_stored_leaves_nothing(db: TestDatabase) {
        let store = db.store();
        let channel_id = channel(&store, "support@inbox.example.com");
        // Its message row goes in before its recipient fails.
        let error = store.inbound().enqueue(message("alone", channel_id + 1000)).unwrap_err();
        assert!(error.to_string().to_lowercase().contains("foreign key"), "{error}");
        let counts = db.rows("SELECT CAST(COUNT(*) AS TEXT) AS a, NULL AS b, NULL AS c FROM inbound_messages");
        assert_eq!(counts[0].0.as_deref(), Some("0"));
    }
}
