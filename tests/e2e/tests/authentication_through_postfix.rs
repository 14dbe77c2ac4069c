//! Through a real Postfix: the SMTP-time checks' answers reach the client,
//! on messages signed and sealed by dkimpy, against a real DNS server.
//! Postfix connects from 127.0.0.1, so that is the address SPF judges.

mod common;

use common::{message, Milter, HOSTED};
use std::time::Duration;
use teaminbox_e2e::send_message;
use teaminbox_testkit::both_databases;
use teaminbox_testkit::{
    dkim::{dkim_sign, senders, DkimKey},
    TestDatabase,
};

/// example.com and quarantine.example do not send from 127.0.0.1;
/// forwarder.example does.
fn start(db: TestDatabase) -> Milter {
    let milter = Milter::start_with(db, senders().dns("127.0.0.1").start());
    milter.channel(&format!("support@{HOSTED}"));
    milter
}

fn from(author: &str, subject: &str) -> Vec<u8> {
    let text = String::from_utf8(message(subject)).unwrap();
    text.replace("alice@example.org", author).into_bytes()
}

fn list_message(sealer: &DkimKey) -> Vec<u8> {
    senders().through_a_list(&from("alice@example.com", "via-list"), sealer)
}

fn to() -> String {
    format!("support@{HOSTED}")
}

both_databases! {
    fn the_client_sees_each_decision(db: TestDatabase) {
        let milter = start(db);
        let postfix = milter.postfix();
        let send = |mail_from: &str, raw: &[u8]| send_message(postfix.smtp_addr(), mail_from, &[&to()], raw);

        // Aligned DKIM from a server SPF does not list: DMARC passes.
        let t = send("alice@example.com", &dkim_sign(&from("alice@example.com", "signed"), &senders().example));
        assert_eq!(t.outcome().code, 250, "{:?}", t.all);

        // A Gmail-style forward: original signature, forwarder's envelope.
        let forwarded = dkim_sign(&from("alice@example.com", "forwarded"), &senders().example);
        let t = send("alice+caf_=support@forwarder.example", &forwarded);
        assert_eq!(t.outcome().code, 250, "{:?}", t.all);

        // A spoof of a p=reject domain.
        let t = send("alice@example.com", &from("alice@example.com", "spoof"));
        let o = t.outcome();
        assert_eq!((o.code, o.enhanced_code()), (550, Some("5.7.1")), "{:?}", t.all);
        assert!(o.text.contains("DMARC policy of example.com rejects this message"), "{}", o.text);

        // The same spoof of a p=quarantine domain is taken, as spam.
        let t = send("bob@quarantine.example", &from("bob@quarantine.example", "quarantined"));
        assert_eq!(t.outcome().code, 250, "{:?}", t.all);

        // A list that broke the signature, sealed by a trusted forwarder...
        let t = send("support-group@forwarder.example", &list_message(&senders().google));
        assert_eq!(t.outcome().code, 250, "{:?}", t.all);
        // ... and by one nobody trusts.
        let t = send("list-bounces@forwarder.example", &list_message(&senders().untrusted));
        assert_eq!(t.outcome().code, 550, "{:?}", t.all);

        // DNS failing for the author's domain: try again later.
        let t = send("dave@servfail.example", &from("dave@servfail.example", "servfail"));
        let o = t.outcome();
        assert_eq!((o.code, o.enhanced_code()), (451, Some("4.7.24")), "{:?}", t.all);

        let stored = milter.stored();
        let subjects_spam: Vec<(bool, Option<String>)> = stored.iter().rev().map(|m| (m.spam, m.dmarc.clone())).collect();
        assert_eq!(
            subjects_spam,
            [
                (false, Some("pass".into())),
                (false, Some("pass".into())),
                (true, Some("fail".into())),
                (false, Some("fail".into())),
            ]
        );
        let rejections = milter.store.rejections().list(None, 10).unwrap();
        let codes: Vec<&str> = rejections.iter().rev().map(|r| r.enhanced_code.as_str()).collect();
        assert_eq!(codes, ["5.7.1", "5.7.1", "4.7.24"]);
        assert!(rejections.iter().all(|r| r.client_address.as_deref() == Some("127.0.0.1")));
    }
}

each_mta! {
    fn other_recipients_get_our_authentication_results(db: TestDatabase, kind: MtaKind) {
        let milter = start(db);
        let mta = milter.mta(kind);
        let signed = dkim_sign(&from("alice@example.com", "mixed-signed"), &senders().example);
        // Our authserv-id plain, and as RFC 8601 also lets it be written.
        let forged = [
            b"Authentication-Results: mx.inbox.example.com; dmarc=pass\r\n".as_slice(),
            b"Authentication-Results: (relayed) \"MX.Inbox.Example.COM\" 1; spf=pass smtp.mailfrom=forged.example\r\n",
            &signed,
        ]
        .concat();
        let t = send_message(mta.smtp_addr(), "alice@example.com", &["bob@example.net", &to()], &forged);
        assert_eq!(t.outcome().code, 250, "{:?}", t.all);
        let captured = mta.wait_captured_full(1, Duration::from_secs(30));
        let text = captured[0].text();
        assert_eq!(text.matches("Authentication-Results: mx.inbox.example.com;").count(), 1, "{text}");
        assert!(text.contains("dkim=pass"), "{text}");
        assert!(!text.contains("mx.inbox.example.com; dmarc=pass\n"), "the forged header is gone: {text}");
        assert!(!text.contains("forged.example"), "so is the quoted one: {text}");
    }
}

both_databases! {
    fn authorship_and_arc_refusals_reach_the_client(db: TestDatabase) {
        let milter = start(db);
        let postfix = milter.postfix();
        let send = |mail_from: &str, raw: &[u8]| send_message(postfix.smtp_addr(), mail_from, &[&to()], raw);
        // Otherwise passing (aligned DKIM), but not one author.
        let signed_with = |subject: &str, from_lines: &str| {
            let text = String::from_utf8(from("alice@example.com", subject)).unwrap()
                .replace("From: Alice <alice@example.com>\r\n", from_lines);
            dkim_sign(text.as_bytes(), &senders().example)
        };
        let t = send("alice@example.com", &signed_with("two-authors", "From: Alice <alice@example.com>, ceo@example.com\r\n"));
        let o = t.outcome();
        assert_eq!((o.code, o.enhanced_code()), (550, Some("5.7.1")), "{:?}", t.all);
        assert!(o.text.ends_with("message has 2 From addresses; DMARC needs exactly one author"), "{:?}", t.all);
        let t = send("alice@example.com", &signed_with("two-fields", "From: alice@example.com\r\nFrom: ceo@example.com\r\n"));
        let o = t.outcome();
        assert_eq!((o.code, o.enhanced_code()), (550, Some("5.7.1")), "{:?}", t.all);
        assert!(o.text.ends_with("message has 2 From header fields; DMARC needs exactly one author"), "{:?}", t.all);

        // An attacker sealed the first hop "pass"; Google, the trusted
        // sealer, saw DMARC fail: refused. Google's own pass: taken.
        let via = |google_saw: &str| {
            senders().through_a_list_then_google(&from("alice@example.com", "two-hops"), &senders().untrusted, google_saw)
        };
        let t = send("list@forwarder.example", &via("dkim=neutral header.d=example.com; dmarc=fail header.from=example.com"));
        let o = t.outcome();
        assert_eq!((o.code, o.enhanced_code()), (550, Some("5.7.1")), "{:?}", t.all);
        assert!(o.text.contains("DMARC policy of example.com rejects this message"), "{}", o.text);
        let t = send("list@forwarder.example", &via("dmarc=pass header.from=example.com"));
        assert_eq!(t.outcome().code, 250, "{:?}", t.all);

        let rejections = milter.store.rejections().list(None, 10).unwrap();
        let reasons: Vec<&str> = rejections.iter().rev().map(|r| r.reason.as_str()).collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons[0].starts_with("message has 2 From addresses"), "{reasons:?}");
        assert!(reasons[1].starts_with("message has 2 From header fields"), "{reasons:?}");
        assert!(reasons[2].starts_with("DMARC policy of example.com"), "{reasons:?}");
        assert_eq!(milter.stored().len(), 1);
    }
}
