//! Through a real Postfix and the whole daemon (milter and processor): a
//! customer's message becomes a conversation with a ticket, and the reply
//! to it joins the same conversation.

mod common;

use common::{message, Milter, HOSTED};
use std::time::{Duration, Instant};
use teaminbox_e2e::send_message;
use teaminbox_testkit::both_databases;
use teaminbox_testkit::dns::TestDns;

fn wait_done(milter: &Milter, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while milter.store.inbound().counts().unwrap().done < n {
        assert!(
            Instant::now() < deadline,
            "processor did not finish: {:?}",
            milter.store.inbound().counts()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

both_databases! {
    fn a_message_and_its_reply_make_one_conversation(db: TestDatabase) {
        let milter = Milter::start_full(db, TestDns::builder().start(), 2);
        milter.channel(&format!("support@{HOSTED}"));
        let postfix = milter.postfix();
        let to = format!("support@{HOSTED}");

        let t = send_message(postfix.smtp_addr(), "alice@example.org", &[&to], &message("first"));
        assert_eq!(t.outcome().code, 250, "{:?}", t.all);
        wait_done(&milter, 1);
        let reply = String::from_utf8(message("second"))
            .unwrap()
            .replace("Subject: second", "Subject: Re: first\r\nIn-Reply-To: <first@example.org>");
        let t = send_message(postfix.smtp_addr(), "alice@example.org", &[&to], reply.as_bytes());
        assert_eq!(t.outcome().code, 250, "{:?}", t.all);
        wait_done(&milter, 2);

        let conversations = milter.db.rows(
            "SELECT CAST(c.id AS TEXT) AS a, c.subject AS b, ct.address AS c FROM conversations c \
             JOIN contacts ct ON ct.id = c.contact_id",
        );
        assert_eq!(conversations.len(), 1, "{conversations:?}");
        assert_eq!(conversations[0].1.as_deref(), Some("first"));
        assert_eq!(conversations[0].2.as_deref(), Some("alice@example.org"));
        let messages = milter.db.rows(
            "SELECT CAST(conversation_id AS TEXT) AS a, subject AS b, text_body AS c FROM messages ORDER BY id",
        );
        assert_eq!(messages.len(), 2);
        assert!(messages.iter().all(|m| m.0 == conversations[0].0));
        assert!(messages[0].2.as_deref().unwrap().contains("the printer is on fire"));
        let tickets = milter.db.rows("SELECT name AS a, CAST(NULL AS TEXT) AS b, CAST(NULL AS TEXT) AS c FROM tickets");
        assert_eq!(tickets, [(Some("first".to_owned()), None, None)]);
    }
}
