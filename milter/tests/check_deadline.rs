//! The checks of a message have a deadline (`[security] check_timeout`)
//! and verify at most the first 5 DKIM signatures, so that a silent name
//! server or a message with a flood of signatures cannot hold an SMTP
//! session for minutes.

mod common;

use common::{reply, send_raw, Milter};
use indymilter_test::Status;
use std::time::{Duration, Instant};
use teaminbox_store::inbound::InboundMessage;
use teaminbox_testkit::both_databases;
use teaminbox_testkit::{
    dkim::{dkim_sign, senders},
    dns::SilentDns,
    TestDatabase,
};

/// An address no SPF record allows.
const STRANGER_IP: [u8; 4] = [198, 51, 100, 66];
/// The deadline of these tests, and how much later the answer may come.
const DEADLINE: Duration = Duration::from_secs(2);
const SLACK: Duration = Duration::from_millis(1500);

fn message(subject: &str) -> Vec<u8> {
    format!(
        "From: Alice <alice@example.com>\r\nTo: support@inbox.example.com\r\nSubject: {subject}\r\n\
         Date: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{subject}@example.com>\r\n\r\n\
         The printer is on fire.\r\n"
    )
    .into_bytes()
}

/// Sends `raw` from a stranger; the status, how long the end of message
/// took to be answered, and what was stored.
async fn deliver(milter: &Milter, raw: &[u8]) -> (Status, Duration, Option<InboundMessage>) {
    let mut conn = milter
        .connect_from(STRANGER_IP, "mail.sender.example")
        .await;
    conn.mail(["<alice@example.com>"]).await.unwrap();
    assert_eq!(
        conn.rcpt(["<support@inbox.example.com>"]).await.unwrap(),
        Status::Continue
    );
    let started = Instant::now();
    let (_, status) = send_raw(&mut conn, raw).await;
    let took = started.elapsed();
    conn.close().await.unwrap();
    let stored = milter.store.inbound().list(1).unwrap().into_iter().next();
    (status, took, stored)
}

async fn start_silent(db: TestDatabase, security: &str) -> Milter {
    let silent = SilentDns::start();
    let milter = Milter::start_on(db, silent.nameserver(), Box::new(silent), security).await;
    milter.channel("support@inbox.example.com");
    milter
}

both_databases! {
    async fn a_silent_name_server_is_a_tempfail_at_the_deadline(db: TestDatabase) {
        let milter = start_silent(db, "check_timeout = \"2s\"").await;
        let (status, took, stored) = deliver(&milter, &message("silent")).await;
        assert_eq!(
            reply(&status),
            "451 4.7.24 SPF, DKIM, ARC and DMARC checks did not finish within 2s; try again later"
        );
        assert!(took >= DEADLINE && took < DEADLINE + SLACK, "answered after {took:?}");
        assert!(stored.is_none());
    }
}

both_databases! {
    async fn a_silent_name_server_can_be_set_to_accept_at_the_deadline(db: TestDatabase) {
        let milter = start_silent(db, "check_timeout = \"2s\"\non_dns_error = \"accept\"").await;
        let (status, took, stored) = deliver(&milter, &message("accepted")).await;
        assert_eq!(status, Status::Discard);
        assert!(took >= DEADLINE && took < DEADLINE + SLACK, "answered after {took:?}");
        let m = stored.expect("stored");
        assert_eq!((m.spf.as_deref(), m.dkim.as_deref(), m.dmarc.as_deref()), (Some("temperror"), Some("temperror"), Some("temperror")));
        let raw = String::from_utf8(milter.store.inbound().raw_message(m.id).unwrap().unwrap()).unwrap();
        assert!(raw.starts_with("Authentication-Results: mx.inbox.example.com;"), "{raw}");
        assert!(raw.contains("dmarc=temperror (the checks did not finish within 2s)"), "{raw}");
    }
}

both_databases! {
    async fn only_the_first_five_dkim_signatures_are_verified(db: TestDatabase) {
        let milter = Milter::start_with(db, senders().dns("198.51.100.66").start(), "").await;
        milter.channel("support@inbox.example.com");
        let signed = dkim_sign(&message("many"), &senders().example);
        let text = String::from_utf8(signed).unwrap();
        let body_at = text.find("\r\nFrom: ").unwrap() + 2;
        let (signature, rest) = text.split_at(body_at);
        let fifty = format!("{}{rest}", signature.repeat(50));
        let (status, _, stored) = deliver(&milter, fifty.as_bytes()).await;
        assert_eq!(status, Status::Discard);
        let m = stored.expect("stored");
        assert_eq!((m.dkim.as_deref(), m.dmarc.as_deref()), (Some("pass"), Some("pass")));
        let raw = String::from_utf8(milter.store.inbound().raw_message(m.id).unwrap().unwrap()).unwrap();
        let results = raw.split("\r\nFrom: ").next().unwrap();
        assert_eq!(results.matches("dkim=pass").count(), 5, "{results}");
        assert_eq!(raw.matches("DKIM-Signature:").count(), 50, "all kept in the message");
    }
}
