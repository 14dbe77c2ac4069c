//! Several processor workers filing mail from one new sender at the same
//! moment: the rows they may all create at once (the contact, the round
//! robin state, a conversation's ticket) are created once and shared, and
//! no worker's attempt fails on them.

use std::sync::{Arc, Barrier};
use teaminbox_processor::Processor;
use teaminbox_store::inbound::{NewInboundMessage, Verdicts};
use teaminbox_testkit::both_databases;
use teaminbox_testkit::{channel, inbound_message, TestDatabase};

const SUPPORT: &str = "support@inbox.example.com";
const SENDER: &str = "newcomer@example.org";
const MESSAGES: usize = 100;
const WORKERS: usize = 4;

fn count(db: &TestDatabase, sql: &str) -> usize {
    db.rows(&format!(
        "SELECT CAST(COUNT(*) AS TEXT) AS a, CAST(NULL AS TEXT) AS b, CAST(NULL AS TEXT) AS c {sql}"
    ))[0]
        .0
        .as_deref()
        .unwrap()
        .parse()
        .unwrap()
}

both_databases! {
    fn workers_filing_one_new_senders_mail_at_once_never_fail(db: TestDatabase) {
        let store = db.store();
        let channel = channel(&store, SUPPORT);
        // Round robin over two users and tickets on (the default): every
        // kind of row that two workers may both create.
        for id in [1, 2] {
            db.execute(&format!(
                "INSERT INTO users (id, email, first_name, last_name, username, available, created_at) \
                 VALUES ({id}, 'agent{id}@acme.example', 'Agent', 'Acme', 'agent{id}', TRUE, CURRENT_TIMESTAMP)"
            ));
            db.execute(&format!("INSERT INTO channel_assignees (channel_id, user_id) VALUES ({channel}, {id})"));
        }
        db.execute("UPDATE channels SET assign_mode = 'users-and-teams'");
        for n in 0..MESSAGES {
            let raw = format!(
                "From: Newcomer <{SENDER}>\r\nTo: {SUPPORT}\r\nSubject: Question {n}\r\n\
                 Message-ID: <q{n}@example.org>\r\nDate: Mon, 30 Nov 2026 03:00:00 +0000\r\n\r\nHello.\r\n"
            );
            store.inbound().enqueue({ let base = inbound_message(SUPPORT, channel, raw); NewInboundMessage { spam_check: None, verdicts: Some(Verdicts {
                    spf: "pass".into(),
                    dkim: "pass".into(),
                    arc: "none".into(),
                    dmarc: "pass".into(),
                    spam: false,
                    header_from: Some("example.org".into()),
                    arc_trusted: false,
                }), session: teaminbox_store::model::SmtpSession { mail_from: SENDER.into(), ..base.session }, ..base } }).unwrap();
        }

        let processor = Arc::new(Processor::new(store.clone(), "teaminbox@inbox.example.com".into()));
        let start = Arc::new(Barrier::new(WORKERS));
        let workers: Vec<_> = (0..WORKERS)
            .map(|n| {
                let (processor, start) = (Arc::clone(&processor), Arc::clone(&start));
                std::thread::spawn(move || {
                    start.wait();
                    while processor.process_next(&format!("worker-{n}")) {}
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        // A message whose attempt failed went back to the queue: file it,
        // so that the counts below tell a failure from a loss.
        while processor.process_next("after") {}

        let counts = store.inbound().counts().unwrap();
        assert_eq!((counts.done, counts.pending, counts.processing, counts.failed), (MESSAGES as i64, 0, 0, 0));
        let retried = db.rows(
            "SELECT CAST(id AS TEXT) AS a, last_error AS b, CAST(attempts AS TEXT) AS c \
             FROM inbound_messages WHERE attempts <> 1",
        );
        assert!(retried.is_empty(), "every message is filed at its first attempt: {retried:?}");
        assert_eq!(count(&db, "FROM contacts"), 1);
        assert_eq!(count(&db, &format!("FROM contacts WHERE address = '{SENDER}'")), 1);
        assert_eq!(count(&db, "FROM messages"), MESSAGES);
        assert_eq!(count(&db, "FROM (SELECT DISTINCT message_id_header FROM messages) AS filed"), MESSAGES);
        assert_eq!(count(&db, "FROM tickets"), MESSAGES);
        assert_eq!(count(&db, "FROM channel_assignment_state"), 2);
    }
}
