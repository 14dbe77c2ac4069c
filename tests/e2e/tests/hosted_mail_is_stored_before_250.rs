//! Through a real Postfix and a real Sendmail: mail to a hosted address is
//! committed, then the client sees 250, and the MTA delivers nothing (the
//! message is discarded from its queue, not deferred).

mod common;

use common::{message, Milter, HOSTED};
use std::time::Duration;
use teaminbox_e2e::{send_message, swaks};
use teaminbox_testkit::both_databases;

each_mta! {
    fn hosted_mail_is_stored_and_discarded_from_delivery(db: TestDatabase, kind: MtaKind) {
        let milter = Milter::start(db);
        let channel = milter.channel(&format!("support@{HOSTED}"));
        let mta = milter.mta(kind);

        let t = send_message(
            mta.smtp_addr(),
            "alice@example.org",
            &[&format!("Support@{HOSTED}")],
            &message("stored"),
        );
        assert!(t.accepted(), "{:?}", t.all);
        assert_eq!(t.outcome().code, 250);

        let stored = milter.stored();
        assert_eq!(stored.len(), 1, "stored before the 250");
        let m = &stored[0];
        assert_eq!(m.mail_from, "alice@example.org");
        assert_eq!(m.client_address.as_deref(), Some("127.0.0.1"));
        let queue_id = m.queue_id.clone().expect("the MTA's queue id");
        assert!(t.outcome().text.contains(&queue_id), "{} vs {queue_id}", t.outcome().text);
        let recipients = milter.store.inbound().recipients(m.id).unwrap();
        assert_eq!(recipients[0].address, format!("support@{HOSTED}"));
        assert_eq!(recipients[0].owner, teaminbox_store::inbound::Owner::Channel(channel));
        let raw = milter.store.inbound().raw_message(m.id).unwrap().unwrap();
        let raw = String::from_utf8(raw).unwrap();
        assert!(raw.contains("\r\nSubject: stored\r\n"), "{raw}");
        assert!(raw.contains("\r\n\r\nHello,\r\nthe printer is on fire.\r\n.\r\nA line with a dot.\r\n"), "{raw}");
        // Our Authentication-Results on top of the message as the client
        // sent it (neither MTA passes its own Received: header to milters).
        assert!(raw.starts_with(&format!("Authentication-Results: mx.{HOSTED};")), "{raw}");
        let sent = &raw[raw.find("\r\nFrom: ").expect("the client's headers") + 2..];
        assert!(sent.starts_with("From: Alice <alice@example.org>\r\nTo: "), "{raw}");

        assert!(mta.wait_queue_empty(Duration::from_secs(10)), "{}", mta.queue());
        assert!(mta.discarded(&queue_id), "{}", mta.logs());
    }
}

both_databases! {
    fn swaks_as_a_second_client_is_stored_too(db: TestDatabase) {
        let milter = Milter::start(db);
        milter.channel(&format!("support@{HOSTED}"));
        let postfix = milter.postfix();
        let server = postfix.smtp_addr().to_string();
        let to = format!("support@{HOSTED}");
        let output = swaks(&[
            "--server", &server, "--from", "bob@example.org", "--to", &to,
            "--header", "Subject: via swaks",
        ]);
        let transcript = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{transcript}");
        assert!(transcript.contains("<-  250 2.0.0 Ok: queued"), "{transcript}");
        let stored = milter.stored();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].mail_from, "bob@example.org");
    }
}
