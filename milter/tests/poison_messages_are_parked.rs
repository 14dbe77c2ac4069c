//! A message that crashes its worker is not retried forever: every claim
//! counts an attempt, whether the worker panicked or died and its claim
//! ran out, and after the last attempt the message is parked as `failed`
//! with why.

use std::time::Duration;
use teaminbox_processor::{Processor, MAX_ATTEMPTS};
use teaminbox_store::claims;
use teaminbox_store::Store;
use teaminbox_testkit::both_databases;
use teaminbox_testkit::{channel, inbound_message, TestDatabase};

const SUPPORT: &str = "support@inbox.example.com";
/// Short enough to run out between two claims of a test.
const SHORT_LEASE: Duration = Duration::from_millis(50);

fn enqueue(store: &Store, channel: i64, subject: &str) {
    let raw = format!(
        "From: someone@example.org\r\nTo: {SUPPORT}\r\nSubject: {subject}\r\n\
         Message-ID: <{subject}@example.org>\r\n\r\nHello.\r\n"
    );
    store
        .inbound()
        .enqueue(inbound_message(SUPPORT, channel, raw))
        .unwrap();
}

/// (state, attempts, last_error) of each row of `table`, by id.
fn outcomes(db: &TestDatabase, table: &str) -> Vec<(String, String, Option<String>)> {
    db.rows(&format!(
        "SELECT state AS a, CAST(attempts AS TEXT) AS b, last_error AS c FROM {table} ORDER BY id"
    ))
    .into_iter()
    .map(|(state, attempts, error)| (state.unwrap(), attempts.unwrap(), error))
    .collect()
}

both_databases! {
    fn a_message_whose_processing_panics_is_parked_with_the_panic(db: TestDatabase) {
        let store = db.store();
        let channel = channel(&store, SUPPORT);
        let mut processor = Processor::new(store.clone(), "teaminbox@inbox.example.com".into());
        processor.panic_on = Some(b"Subject: poison".to_vec());
        enqueue(&store, channel, "poison");
        enqueue(&store, channel, "fine");

        let mut steps = 0;
        while processor.process_next("w") {
            steps += 1;
            assert!(steps <= 2 * MAX_ATTEMPTS, "still processing after {steps} steps");
        }

        let rows = outcomes(&db, "inbound_messages");
        assert_eq!((rows[0].0.as_str(), rows[0].1.as_str()), ("failed", "5"));
        assert_eq!(rows[0].2.as_deref(), Some("panicked: told to panic on message 1"));
        assert_eq!(rows[1], ("done".into(), "1".into(), None), "the next message is not held up");
        // Parked until the operator retries it; the panic left no partial filing.
        assert!(!processor.process_next("w"));
        assert_eq!(db.rows("SELECT CAST(COUNT(*) AS TEXT) AS a, CAST(NULL AS TEXT) AS b, CAST(NULL AS TEXT) AS c FROM messages")[0].0.as_deref(), Some("1"));
    }
}

both_databases! {
    fn a_message_whose_workers_keep_dying_is_parked(db: TestDatabase) {
        let store = db.store();
        let channel = channel(&store, SUPPORT);
        enqueue(&store, channel, "deadly");
        // Each worker claims it and dies: never gives it back, never renews.
        for n in 0..MAX_ATTEMPTS {
            let claimed = store.queue().claim(&format!("dying:{n}"), SHORT_LEASE, MAX_ATTEMPTS).unwrap();
            assert_eq!(claimed.map(|c| c.attempts), Some(n + 1));
            std::thread::sleep(SHORT_LEASE * 2);
        }
        assert!(store.queue().claim("next", SHORT_LEASE, MAX_ATTEMPTS).unwrap().is_none());
        let last = format!("worker died while processing (claim of dying:{})", MAX_ATTEMPTS - 1);
        assert_eq!(outcomes(&db, "inbound_messages"), [("failed".into(), "5".into(), Some(last))]);

        // Once retried by the operator, it is claimed again.
        assert_eq!(store.queue().retry_failed().unwrap(), 1);
        assert!(store.queue().claim("next", SHORT_LEASE, MAX_ATTEMPTS).unwrap().is_some());
    }
}

both_databases! {
    fn a_delivery_whose_workers_keep_dying_is_parked(db: TestDatabase) {
        let store = db.store();
        db.execute(
            "INSERT INTO outbound_messages (kind, to_address, subject, body, created_at) \
             VALUES ('notification', 'owner@acme.example', 'New', 'Hello', '2026-11-30 00:00:00')",
        );
        let max_attempts = 3;
        for n in 0..max_attempts {
            let claimed = store.outbound().claim_due(&format!("dying:{n}"), SHORT_LEASE, max_attempts).unwrap();
            assert_eq!(claimed.map(|c| c.attempts), Some(n + 1));
            std::thread::sleep(SHORT_LEASE * 2);
        }
        assert!(store.outbound().claim_due("next", SHORT_LEASE, max_attempts).unwrap().is_none());
        let last = format!("worker died while processing (claim of dying:{})", max_attempts - 1);
        assert_eq!(outcomes(&db, "outbound_messages"), [("failed".into(), "3".into(), Some(last))]);
    }
}

both_databases! {
    fn a_message_given_back_at_start_on_its_last_attempt_is_parked(db: TestDatabase) {
        let store = db.store();
        let channel = channel(&store, SUPPORT);
        enqueue(&store, channel, "last");
        // A process of this host that no longer runs held it, on its last attempt.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = format!("{}:{}:0", claims::host_name(), child.id());
        child.wait().unwrap();
        assert!(store.queue().claim(&dead, claims::LEASE, MAX_ATTEMPTS).unwrap().is_some());
        db.execute(&format!("UPDATE inbound_messages SET attempts = {MAX_ATTEMPTS}"));

        claims::release_dead_claims(&store).unwrap();

        let why = format!("worker died while processing (claim of {dead})");
        assert_eq!(outcomes(&db, "inbound_messages"), [("failed".into(), "5".into(), Some(why))]);
    }
}

both_databases! {
    fn fresh_messages_are_claimed_together_and_a_message_tried_before_alone(db: TestDatabase) {
        let store = db.store();
        let channel = channel(&store, SUPPORT);
        let batch = teaminbox_processor::BATCH;
        for n in 0..batch.messages + 4 {
            enqueue(&store, channel, &format!("message-{n}"));
        }
        // A worker claims a batch of fresh messages, then dies.
        let claimed = store.queue().claim_batch("dying:0", SHORT_LEASE, MAX_ATTEMPTS, batch).unwrap();
        let ids: Vec<i64> = claimed.iter().map(|c| c.id).collect();
        assert_eq!(ids, (1..=batch.messages as i64).collect::<Vec<_>>());
        std::thread::sleep(SHORT_LEASE * 2);
        // Any of them may be what killed it: each is claimed alone now.
        for id in [1, 2] {
            let again = store.queue().claim_batch("next", SHORT_LEASE, MAX_ATTEMPTS, batch).unwrap();
            let got: Vec<(i64, i32)> = again.iter().map(|c| (c.id, c.attempts)).collect();
            assert_eq!(got, [(id, 2)]);
        }
        // Given back (as a restart does), the processor files them all, each once.
        for holder in ["dying:0", "next"] {
            store.queue().release_failed(holder, "test: given back", MAX_ATTEMPTS).unwrap();
        }
        let processor = Processor::new(store.clone(), "teaminbox@inbox.example.com".into());
        while processor.process_next("w") {}
        let rows = outcomes(&db, "inbound_messages");
        assert!(rows.iter().all(|(state, _, _)| state == "done"), "{rows:?}");
        let filed = db.rows("SELECT CAST(COUNT(*) AS TEXT) AS a, CAST(NULL AS TEXT) AS b, CAST(NULL AS TEXT) AS c FROM messages");
        assert_eq!(filed[0].0.as_deref(), Some(&*(batch.messages + 4).to_string()));
    }
}
