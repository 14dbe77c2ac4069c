//! The memory for messages at end of message is bounded (`[milter]
//! max_memory`): a session that finds it taken by another session's
//! message waits 2 s, then is answered 451 4.3.2, and its message is
//! stored when it comes again once the memory is free. Never an accept of
//! an unstored message.
//!
//! To hold the budget for long enough, the first message's checks wait on
//! a name server that never answers (until `check_timeout`, then accepted
//! per `on_dns_error = "accept"`); it is large enough to take the whole
//! budget.

mod common;

use common::{reply, send_raw, Milter};
use indymilter_test::Status;
use std::time::{Duration, Instant};
use teaminbox_testkit::both_databases;
use teaminbox_testkit::dns::SilentDns;

/// How long the first message holds the memory.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a session waits for memory (`filter::memory::WAIT`).
const WAIT: Duration = Duration::from_secs(2);
const SLACK: Duration = Duration::from_millis(1500);

fn message(subject: &str, body_bytes: usize) -> Vec<u8> {
    let line = "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstu\r\n";
    let body = line.repeat(body_bytes / line.len() + 1);
    format!(
        "From: Alice <alice@example.com>\r\nTo: support@inbox.example.com\r\nSubject: {subject}\r\n\
         Date: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{subject}@example.com>\r\n\r\n{body}"
    )
    .into_bytes()
}

/// Sends `raw` on a new connection; the answer and how long the end of
/// message took.
async fn deliver(milter: &Milter, raw: Vec<u8>) -> (Status, Duration) {
    let mut conn = milter.connect().await;
    conn.mail(["<alice@example.com>"]).await.unwrap();
    assert_eq!(
        conn.rcpt(["<support@inbox.example.com>"]).await.unwrap(),
        Status::Continue
    );
    let started = Instant::now();
    let (_, status) = send_raw(&mut conn, &raw).await;
    let took = started.elapsed();
    conn.close().await.unwrap();
    (status, took)
}

fn stored_subjects(milter: &Milter) -> Vec<String> {
    let mut subjects: Vec<String> = milter
        .store
        .inbound()
        .list(100)
        .unwrap()
        .iter()
        .map(|m| {
            let raw = milter.store.inbound().raw_message(m.id).unwrap().unwrap();
            let text = String::from_utf8_lossy(&raw).into_owned();
            let subject = text.split("\r\nSubject: ").nth(1).unwrap();
            subject.split("\r\n").next().unwrap().to_owned()
        })
        .collect();
    subjects.sort();
    subjects
}

both_databases! {
    async fn a_message_finding_the_memory_taken_is_tempfailed_then_stored_when_retried(db: TestDatabase) {
        let silent = SilentDns::start();
        let milter = Milter::start_configured(
            db,
            silent.nameserver(),
            Box::new(silent),
            "max_memory = \"1MiB\"\nmax_message_size = \"1MiB\"",
            &format!("check_timeout = \"{}s\"\non_dns_error = \"accept\"", CHECK_TIMEOUT.as_secs()),
        )
        .await;
        milter.channel("support@inbox.example.com");

        // 600 KiB, counted once per copy the database write makes: the
        // whole budget.
        let large = deliver(&milter, message("large", 600 * 1024));
        let small = async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let answered = deliver(&milter, message("small", 100)).await;
            (answered, stored_subjects(&milter))
        };
        let ((large, large_took), ((small, small_took), stored_meanwhile)) = tokio::join!(large, small);
        assert_eq!(
            reply(&small),
            "451 4.3.2 Too many large messages being received at once; try again later"
        );
        assert!(small_took >= WAIT && small_took < WAIT + SLACK, "answered after {small_took:?}");
        assert!(stored_meanwhile.is_empty(), "{stored_meanwhile:?}");
        assert_eq!(large, Status::Discard, "{}", reply(&large));
        assert!(large_took >= CHECK_TIMEOUT, "answered after {large_took:?}");

        // The memory is free again: the client's retry is stored.
        let (status, _) = deliver(&milter, message("small", 100)).await;
        assert_eq!(status, Status::Discard, "{}", reply(&status));
        assert_eq!(stored_subjects(&milter), ["large", "small"]);
    }
}
