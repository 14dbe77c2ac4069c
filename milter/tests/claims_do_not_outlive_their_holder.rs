//! A claim on a queue row holds while its worker works, and no longer: a
//! starting daemon gives back the claims of its host's dead processes, a
//! worker that could not give a claim back does so before it claims
//! anything new, and a renewed claim is not taken over.

use std::{
    io::{BufRead, BufReader, Write},
    net::TcpListener,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
};
use teaminbox_outbound::DeliveryWorker;
use teaminbox_processor::{Processor, MAX_ATTEMPTS};
use teaminbox_store::claims::{self, LEASE};
use teaminbox_store::config::Config;
use teaminbox_store::Store;
use teaminbox_testkit::both_databases;
use teaminbox_testkit::{channel, inbound_message, TestDatabase};

const SUPPORT: &str = "support@inbox.example.com";

/// A pid no process has: a child that ran and was reaped.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

fn enqueue(store: &Store, channel: i64, n: usize) {
    let raw = format!(
        "From: someone{n}@example.org\r\nTo: {SUPPORT}\r\nSubject: Case {n}\r\n\
         Message-ID: <case{n}@example.org>\r\n\r\nHello.\r\n"
    );
    store
        .inbound()
        .enqueue(inbound_message(SUPPORT, channel, raw))
        .unwrap();
}

/// (state, claimed_by) of each row of `table`, by id.
fn claims_in(db: &TestDatabase, table: &str) -> Vec<(String, Option<String>)> {
    db.rows(&format!(
        "SELECT state AS a, claimed_by AS b, CAST(NULL AS TEXT) AS c FROM {table} ORDER BY id"
    ))
    .into_iter()
    .map(|(state, holder, _)| (state.unwrap(), holder))
    .collect()
}

both_databases! {
    fn a_starting_daemon_gives_back_the_claims_of_its_hosts_dead_processes(db: TestDatabase) {
        let store = db.store();
        let channel = channel(&store, SUPPORT);
        let host = claims::host_name();
        let dead = format!("{host}:{}:0", dead_pid());
        let alive = format!("{}:1", claims::claimant());
        let elsewhere = format!("elsewhere.example:{}:0", dead_pid());
        let reused = format!("{}:2", claims::claimant());
        for (n, holder) in [&dead, &alive, &elsewhere, &reused].into_iter().enumerate() {
            enqueue(&store, channel, n);
            assert!(store.queue().claim(holder, LEASE, MAX_ATTEMPTS).unwrap().is_some());
        }
        // Claimed long before this process started: by an earlier process
        // that had the same pid (as after a reboot).
        db.execute(&format!(
            "UPDATE inbound_messages SET claimed_at = '2000-01-01 00:00:00' WHERE claimed_by = '{reused}'"
        ));
        for holder in [&dead, &elsewhere] {
            db.execute(
                "INSERT INTO outbound_messages (kind, to_address, subject, body, created_at) \
                 VALUES ('notification', 'owner@acme.example', 'New', 'Hello', '2026-11-30 00:00:00')",
            );
            assert!(store.outbound().claim_due(holder, LEASE, 10).unwrap().is_some());
        }

        claims::release_dead_claims(&store).unwrap();

        let pending = ("pending".to_owned(), None);
        let held = |holder: &str| ("processing".to_owned(), Some(holder.to_owned()));
        assert_eq!(claims_in(&db, "inbound_messages"), [pending.clone(), held(&alive), held(&elsewhere), pending.clone()]);
        assert_eq!(claims_in(&db, "outbound_messages"), [pending, held(&elsewhere)]);
        let why = db.rows("SELECT last_error AS a, CAST(attempts AS TEXT) AS b, CAST(NULL AS TEXT) AS c FROM inbound_messages ORDER BY id");
        assert_eq!(why[0].0.as_deref(), Some(format!("worker died while processing (claim of {dead})").as_str()));
        assert_eq!(why[0].1.as_deref(), Some("1"), "the interrupted attempt counts");
    }
}

/// Makes `event` (as `INSERT ON contacts` or `UPDATE OF state ON
/// inbound_messages`) fail when `condition` holds, as a database that went
/// away would, until [`heal`].
fn refuse(db: &TestDatabase, trigger: &str, event: &str, condition: &str) {
    if db.url.starts_with("sqlite") {
        db.execute(&format!(
            "CREATE TRIGGER {trigger} BEFORE {event} WHEN {condition} \
             BEGIN SELECT RAISE(ABORT, '{trigger}: broken on purpose'); END"
        ));
    } else {
        db.execute(
            "CREATE OR REPLACE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION '%: broken on purpose', TG_NAME; END $$",
        );
        db.execute(&format!(
            "CREATE TRIGGER {trigger} BEFORE {event} FOR EACH ROW WHEN ({condition}) \
             EXECUTE FUNCTION refuse()"
        ));
    }
}

/// Undoes [`refuse`].
fn heal(db: &TestDatabase, trigger: &str, table: &str) {
    if db.url.starts_with("sqlite") {
        db.execute(&format!("DROP TRIGGER {trigger}"));
    } else {
        db.execute(&format!("DROP TRIGGER {trigger} ON {table}"));
    }
}

both_databases! {
    fn a_claim_that_could_not_be_given_back_is_given_back_before_the_next(db: TestDatabase) {
        let store = db.store();
        let channel = channel(&store, SUPPORT);
        let processor = Processor::new(store.clone(), "teaminbox@inbox.example.com".into());
        enqueue(&store, channel, 1);
        refuse(&db, "no_filing", "INSERT ON contacts", "TRUE");
        refuse(&db, "no_release", "UPDATE OF state ON inbound_messages", "NEW.state = 'pending'");
        // Filing fails, and so does giving the message back.
        assert!(processor.process_next("w"));
        enqueue(&store, channel, 2);
        assert!(!processor.process_next("w"), "nothing new while a claim is still to give back");
        assert_eq!(claims_in(&db, "inbound_messages"), [("processing".into(), Some("w".into())), ("pending".into(), None)]);

        heal(&db, "no_release", "inbound_messages");
        heal(&db, "no_filing", "contacts");
        while processor.process_next("w") {}
        let rows = db.rows("SELECT state AS a, CAST(attempts AS TEXT) AS b, CAST(NULL AS TEXT) AS c FROM inbound_messages ORDER BY id");
        assert_eq!(rows, [
            (Some("done".into()), Some("2".into()), None),
            (Some("done".into()), Some("1".into()), None),
        ]);
    }
}

both_databases! {
    fn a_renewed_claim_is_not_taken_over(db: TestDatabase) {
        let store = db.store();
        let channel = channel(&store, SUPPORT);
        enqueue(&store, channel, 1);
        let claimed = store.queue().claim("slow-worker", LEASE, MAX_ATTEMPTS).unwrap().unwrap();
        db.execute("UPDATE inbound_messages SET claimed_at = '2000-01-01 00:00:00'");
        assert!(store.queue().renew(claimed.id, "slow-worker").unwrap());
        assert!(store.queue().claim("other-worker", LEASE, MAX_ATTEMPTS).unwrap().is_none());
        assert!(!store.queue().renew(claimed.id, "other-worker").unwrap(), "only the holder renews");

        // Once its lease has run out without renewal, another worker takes it.
        db.execute("UPDATE inbound_messages SET claimed_at = '2000-01-01 00:00:00'");
        assert!(store.queue().claim("other-worker", LEASE, MAX_ATTEMPTS).unwrap().is_some());
        assert!(!store.queue().renew(claimed.id, "slow-worker").unwrap(), "the claim was lost");
    }
}

/// A mail server on 127.0.0.1 that takes every message; counts them.
fn smtp_sink() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let taken = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&taken);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reply = stream.try_clone().unwrap();
            let mut lines = BufReader::new(stream).lines();
            let _ = reply.write_all(b"220 sink\r\n");
            let mut in_data = false;
            while let Some(Ok(line)) = lines.next() {
                let answer: &[u8] = match line.as_str() {
                    "." if in_data => {
                        in_data = false;
                        counter.fetch_add(1, Ordering::SeqCst);
                        b"250 taken\r\n"
                    }
                    _ if in_data => continue,
                    "DATA" => {
                        in_data = true;
                        b"354 go on\r\n"
                    }
                    "QUIT" => b"221 bye\r\n",
                    _ => b"250 ok\r\n",
                };
                let _ = reply.write_all(answer);
            }
        }
    });
    (port, taken)
}

both_databases! {
    fn a_delivery_the_database_could_not_record_is_recorded_not_sent_again(db: TestDatabase) {
        let store = db.store();
        let (port, taken) = smtp_sink();
        let config = Config::from_toml(&format!(
            "[milter]\nhosted_domains = [\"inbox.example.com\"]\n[outbound]\nsmtp_url = \"smtp://127.0.0.1:{port}\"\ndefault_from_domain = \"inbox.example.com\"\n"
        )).unwrap();
        let outbound = DeliveryWorker::new(&config, store.clone());
        db.execute(
            "INSERT INTO outbound_messages (kind, to_address, subject, body, created_at) \
             VALUES ('notification', 'owner@acme.example', 'New', 'Hello', '2026-11-30 00:00:00')",
        );
        refuse(&db, "no_record", "UPDATE OF state ON outbound_messages", "NEW.state = 'sent'");
        // Sent, and the database does not take the record.
        assert!(outbound.deliver_next());
        assert_eq!(taken.load(Ordering::SeqCst), 1);
        assert!(!outbound.deliver_next(), "nothing new while an outcome is still to record");
        assert_eq!(claims_in(&db, "outbound_messages")[0].0, "processing");

        heal(&db, "no_record", "outbound_messages");
        // The claim runs out meanwhile; the record still comes first.
        db.execute("UPDATE outbound_messages SET claimed_at = '2000-01-01 00:00:00'");
        assert!(!outbound.deliver_next(), "recorded, and nothing else is due");
        assert_eq!(claims_in(&db, "outbound_messages"), [("sent".to_owned(), None)]);
        assert_eq!(taken.load(Ordering::SeqCst), 1, "sent once");
    }
}
