//! The processor: stored messages become contacts, conversations, tickets
//! and assignments, each with its reasons, on both databases.

use teaminbox_processor::{Processor, MAX_ATTEMPTS};
use teaminbox_store::address::ForwardingAddress;
use teaminbox_store::{
    inbound::{NewInboundMessage, Verdicts},
    settings::{ChannelUpdate, NewChannel},
    Store,
};
use teaminbox_testkit::both_databases;
use teaminbox_testkit::{inbound_message, TestDatabase};

const SUPPORT: &str = "support@inbox.example.com";

struct Inbox {
    db: TestDatabase,
    store: Store,
    processor: Processor,
    channel: i64,
}

impl Inbox {
    fn new(db: TestDatabase) -> Self {
        let store = db.store();
        let channel = store
            .settings()
            .create_channel(&NewChannel {
                name: "Support",
                company: "Acme",
                forwarding_address: &ForwardingAddress::parse(SUPPORT).unwrap(),
            })
            .unwrap()
            .id;
        let processor = Processor::new(store.clone(), "teaminbox@inbox.example.com".into());
        Self {
            db,
            store,
            processor,
            channel,
        }
    }

    /// Stores a message as the milter would and processes the queue.
    fn receive(&self, raw: &str, spam: bool) {
        self.receive_with_dmarc(raw, spam, "pass");
    }

    fn receive_with_dmarc(&self, raw: &str, spam: bool, dmarc: &str) {
        self.store
            .inbound()
            .enqueue(NewInboundMessage {
                spam_check: None,
                verdicts: Some(Verdicts {
                    spf: "pass".into(),
                    dkim: "pass".into(),
                    arc: "none".into(),
                    dmarc: dmarc.into(),
                    spam,
                    header_from: None,
                    arc_trusted: false,
                }),
                ..inbound_message(SUPPORT, self.channel, raw.replace('\n', "\r\n"))
            })
            .unwrap();
        while self.processor.process_next("test-worker") {}
    }

    fn sql(&self, sql: &str) {
        self.db.execute(sql);
    }

    /// (a, b, c) text columns of a query.
    fn rows(&self, sql: &str) -> Vec<(Option<String>, Option<String>, Option<String>)> {
        self.db.rows(sql)
    }

    fn count(&self, table: &str) -> usize {
        self.rows(&format!("SELECT CAST(COUNT(*) AS TEXT) AS a, CAST(NULL AS TEXT) AS b, CAST(NULL AS TEXT) AS c FROM {table}"))[0]
            .0
            .as_deref()
            .unwrap()
            .parse()
            .unwrap()
    }

    fn add_user(&self, id: i64, email: &str, available: bool) {
        self.sql(&format!(
            "INSERT INTO users (id, email, first_name, last_name, username, available, created_at) \
             VALUES ({id}, '{email}', 'First{id}', 'Last', 'u{id}', {available}, CURRENT_TIMESTAMP)"
        ));
    }

    /// Assignee email of each conversation, in order.
    fn assignees(&self) -> Vec<Option<String>> {
        self.rows(
            "SELECT u.email AS a, CAST(NULL AS TEXT) AS b, CAST(NULL AS TEXT) AS c FROM conversations c \
             LEFT JOIN users u ON u.id = c.assignee_user_id ORDER BY c.id",
        )
        .into_iter()
        .map(|r| r.0)
        .collect()
    }

    fn decisions(&self) -> String {
        self.rows("SELECT decisions AS a, CAST(NULL AS TEXT) AS b, CAST(NULL AS TEXT) AS c FROM messages ORDER BY id DESC")
            .into_iter()
            .next()
            .and_then(|r| r.0)
            .unwrap_or_default()
    }
}

fn mail(from: &str, subject: &str, message_id: &str, extra: &str) -> String {
    format!(
        "From: {from}\nTo: {SUPPORT}\nSubject: {subject}\nMessage-ID: <{message_id}>\n\
         Date: Fri, 27 Nov 2026 10:00:00 +0000\n{extra}\nHello, the printer is on fire.\n"
    )
}

both_databases! {
    fn a_first_message_opens_a_conversation_with_a_ticket(db: TestDatabase) {
        let inbox = Inbox::new(db);
        inbox.receive(&mail("Alice Example <Alice@Example.org>", "Printer on fire", "m1@example.org", ""), false);
        assert_eq!(inbox.rows("SELECT address AS a, name AS b, CAST(NULL AS TEXT) AS c FROM contacts"),
            [(Some("alice@example.org".into()), Some("Alice Example".into()), None)]);
        assert_eq!(inbox.rows("SELECT status AS a, subject AS b, kind AS c FROM conversations"),
            [(Some("open".into()), Some("Printer on fire".into()), Some("normal".into()))]);
        assert_eq!(inbox.rows("SELECT name AS a, CAST(owner_user_id AS TEXT) AS b, CAST(NULL AS TEXT) AS c FROM tickets"),
            [(Some("Printer on fire".into()), None, None)]);
        assert_eq!(inbox.assignees(), [None]);
        let decisions = inbox.decisions();
        assert!(decisions.contains("Thread: new conversation"), "{decisions}");
        assert!(decisions.contains("Unassigned: the channel does not assign conversations."), "{decisions}");
        assert!(decisions.contains("Ticket 1"), "{decisions}");
        assert_eq!(inbox.store.inbound().counts().unwrap().done, 1);
    }
}

both_databases! {
    fn replies_thread_and_duplicates_do_not_repeat(db: TestDatabase) {
        let inbox = Inbox::new(db);
        inbox.receive(&mail("alice@example.org", "Printer", "m1@example.org", ""), false);
        inbox.receive(&mail("alice@example.org", "Re: Printer", "m2@example.org", "In-Reply-To: <m1@example.org>\nReferences: <m1@example.org>\n"), false);
        // A client retry or a second forward of the same message.
        inbox.receive(&mail("alice@example.org", "Re: Printer", "m2@example.org", "In-Reply-To: <m1@example.org>\n"), false);
        // No Message-ID: the same content twice is one message.
        let no_id = "From: bob@example.org\nSubject: No id\nDate: Fri, 27 Nov 2026 11:00:00 +0000\n\nSame words.\n";
        inbox.receive(no_id, false);
        inbox.receive(no_id, false);
        assert_eq!(inbox.count("conversations"), 2);
        assert_eq!(inbox.count("messages"), 3);
        assert_eq!(inbox.count("tickets"), 2);
        assert_eq!(inbox.store.inbound().counts().unwrap().done, 5);
        let threaded = inbox.rows("SELECT CAST(conversation_id AS TEXT) AS a, subject AS b, decisions AS c FROM messages ORDER BY id");
        assert_eq!(threaded[0].0, threaded[1].0);
        assert!(threaded[1].2.as_deref().unwrap().contains("refers to <m1@example.org>"));
    }
}

both_databases! {
    fn round_robin_takes_the_longest_waiting_available_user(db: TestDatabase) {
        let inbox = Inbox::new(db);
        inbox.add_user(1, "ann@acme.example", true);
        inbox.add_user(2, "ben@acme.example", true);
        inbox.add_user(3, "cat@acme.example", false);
        inbox.sql("INSERT INTO teams (id, name, created_at) VALUES (1, 'Tier 1', CURRENT_TIMESTAMP)");
        inbox.sql("INSERT INTO team_members (team_id, user_id) VALUES (1, 2), (1, 3)");
        inbox.sql(&format!("INSERT INTO channel_assignees (channel_id, user_id) VALUES ({}, 1)", inbox.channel));
        inbox.sql(&format!("INSERT INTO channel_assignees (channel_id, team_id) VALUES ({}, 1)", inbox.channel));
        inbox.sql("UPDATE channels SET assign_mode = 'users-and-teams'");
        for n in 1..=3 {
            inbox.receive(&mail(&format!("c{n}@example.org"), "Help", &format!("rr{n}@example.org"), ""), false);
        }
        let expected = |e: &str| Some(e.to_owned());
        assert_eq!(inbox.assignees(), [expected("ann@acme.example"), expected("ben@acme.example"), expected("ann@acme.example")]);
        // The ticket follows the assignee.
        assert_eq!(inbox.rows("SELECT CAST(owner_user_id AS TEXT) AS a, CAST(NULL AS TEXT) AS b, CAST(NULL AS TEXT) AS c FROM tickets ORDER BY id")[1].0.as_deref(), Some("2"));
        assert!(inbox.decisions().contains("round robin"));

        // Everyone away: unassigned, unless the channel takes any availability.
        inbox.sql("UPDATE users SET available = FALSE");
        inbox.receive(&mail("c4@example.org", "Help", "rr4@example.org", ""), false);
        assert_eq!(inbox.assignees()[3], None);
        assert!(inbox.decisions().contains("none of the channel's users is available"), "{}", inbox.decisions());
        inbox.sql("UPDATE channels SET assign_any_availability = TRUE");
        inbox.receive(&mail("c5@example.org", "Help", "rr5@example.org", ""), false);
        assert_eq!(inbox.assignees()[4], expected("cat@acme.example"), "never assigned before: first in line");
    }
}

both_databases! {
    fn the_contact_owner_gets_it_or_an_email_when_away(db: TestDatabase) {
        let inbox = Inbox::new(db);
        inbox.add_user(1, "owner@acme.example", true);
        inbox.sql("UPDATE channels SET assign_mode = 'contact-owner'");
        inbox.sql("INSERT INTO contacts (address, owner_user_id, created_at) VALUES ('vip@example.org', 1, CURRENT_TIMESTAMP)");
        inbox.receive(&mail("vip@example.org", "Order", "o1@example.org", ""), false);
        assert_eq!(inbox.assignees(), [Some("owner@acme.example".into())]);
        inbox.sql("UPDATE users SET available = FALSE");
        inbox.receive(&mail("vip@example.org", "Another order", "o2@example.org", ""), false);
        assert_eq!(inbox.assignees()[1], None);
        assert_eq!(
            inbox.rows("SELECT to_address AS a, kind AS b, state AS c FROM outbound_messages"),
            [(Some("owner@acme.example".into()), Some("notification".into()), Some("pending".into()))]
        );
        assert!(inbox.decisions().contains("is away: notification 1 queued"), "{}", inbox.decisions());
    }
}

both_databases! {
    fn spam_and_automated_mail_get_no_ticket_and_no_assignee(db: TestDatabase) {
        let inbox = Inbox::new(db);
        inbox.add_user(1, "ann@acme.example", true);
        inbox.sql(&format!("INSERT INTO channel_assignees (channel_id, user_id) VALUES ({}, 1)", inbox.channel));
        inbox.sql("UPDATE channels SET assign_mode = 'users-and-teams'");
        inbox.receive(&mail("spoof@quarantine.example", "Win", "s1@example.org", ""), true);
        inbox.receive(&mail("alice@example.org", "Out of office", "a1@example.org", "Auto-Submitted: auto-replied\n"), false);
        assert_eq!(inbox.count("tickets"), 0);
        assert_eq!(inbox.assignees(), [None, None]);
        assert_eq!(inbox.rows("SELECT status AS a, CAST(NULL AS TEXT) AS b, CAST(NULL AS TEXT) AS c FROM conversations ORDER BY id"),
            [(Some("spam".into()), None, None), (Some("open".into()), None, None)]);
        assert!(inbox.decisions().contains("Automated"), "{}", inbox.decisions());
    }
}

both_databases! {
    fn a_message_that_keeps_failing_is_parked_with_its_error(db: TestDatabase) {
        let inbox = Inbox::new(db);
        inbox.sql("DROP TABLE tickets");
        inbox.receive(&mail("alice@example.org", "Doomed", "d1@example.org", ""), false);
        let counts = inbox.store.inbound().counts().unwrap();
        assert_eq!((counts.failed, counts.pending, counts.done), (1, 0, 0));
        let (attempts, error, _) = inbox.rows("SELECT CAST(attempts AS TEXT) AS a, last_error AS b, CAST(NULL AS TEXT) AS c FROM inbound_messages").remove(0);
        assert_eq!(attempts.as_deref(), Some(MAX_ATTEMPTS.to_string().as_str()));
        assert!(error.unwrap().contains("tickets"));
        // Nothing half-applied: the failed attempts left no rows behind.
        assert_eq!(inbox.count("conversations"), 0);
        assert_eq!(inbox.count("contacts"), 0);
        assert_eq!(inbox.store.queue().retry_failed().unwrap(), 1);
        assert_eq!(inbox.store.inbound().counts().unwrap().pending, 1);
    }
}

both_databases! {
    fn a_claim_whose_worker_died_is_taken_again(db: TestDatabase) {
        let inbox = Inbox::new(db);
        let orphan = mail("alice@example.org", "Orphan", "k1@example.org", "").replace('\n', "\r\n");
        inbox.store.inbound().enqueue(inbound_message(SUPPORT, inbox.channel, orphan)).unwrap();
        // A worker claims it and dies.
        let claimed = inbox.store.queue().claim("dead-worker", std::time::Duration::from_secs(300), teaminbox_processor::MAX_ATTEMPTS).unwrap();
        assert!(claimed.is_some());
        assert!(!inbox.processor.process_next("live-worker"), "a live claim is left alone");
        // Its lease runs out.
        inbox.sql("UPDATE inbound_messages SET claimed_at = '2000-01-01 00:00:00'");
        assert!(inbox.processor.process_next("live-worker"));
        assert_eq!(inbox.count("messages"), 1);
        assert_eq!(inbox.store.inbound().counts().unwrap().done, 1);
    }
}

both_databases! {
    fn a_source_is_trusted_only_when_authenticated_and_takes_part_in_threads(db: TestDatabase) {
        let inbox = Inbox::new(db);
        let group = "support@groups.example.com";
        let source = ChannelUpdate { add_sources: vec![group.into()], ..Default::default() };
        inbox.store.settings().update_channel(inbox.channel, &source).unwrap();
        let rewrite = "X-Original-From: Alice <alice@example.org>\n";
        let from = "\"'Alice' via Support\" <support@groups.example.com>";
        // From a source, but DMARC failed: the group is the contact.
        inbox.receive_with_dmarc(&mail(from, "Printer", "g1@example.org", rewrite), false, "fail");
        assert!(inbox.decisions().contains("ignored: the message did not pass authentication"), "{}", inbox.decisions());
        assert!(!inbox.decisions().contains("--source"), "a source needs no command: {}", inbox.decisions());
        // Authenticated: Alice is.
        inbox.receive(&mail(from, "Printer", "g2@example.org", rewrite), false);
        assert!(inbox.decisions().contains("X-Original-From (the list rewrote From), from source support@groups.example.com"), "{}", inbox.decisions());
        let contacts = inbox.rows("SELECT ct.address AS a, m.forwarded_by AS b, CAST(m.conversation_id AS TEXT) AS c FROM messages m \
             JOIN conversations c ON c.id = m.conversation_id JOIN contacts ct ON ct.id = c.contact_id ORDER BY m.id");
        assert_eq!(contacts[0].0.as_deref(), Some(group));
        assert_eq!(contacts[1].0.as_deref(), Some("alice@example.org"));
        assert_eq!(contacts[1].1.as_deref(), Some(group));
        // The group itself, without rewriting, joins Alice's conversation.
        inbox.receive(&mail(group, "Re: Printer", "g3@example.org", "In-Reply-To: <g2@example.org>\n"), false);
        let last = inbox.rows("SELECT CAST(conversation_id AS TEXT) AS a, CAST(NULL AS TEXT) AS b, CAST(NULL AS TEXT) AS c FROM messages ORDER BY id DESC");
        assert_eq!(last[0].0, contacts[1].2, "{}", inbox.decisions());
        assert!(inbox.decisions().contains("support@groups.example.com is a participant of it"), "{}", inbox.decisions());
        // Removed, it no longer does.
        let removed = ChannelUpdate { remove_sources: vec![group.into()], ..Default::default() };
        assert!(inbox.store.settings().update_channel(inbox.channel, &removed).unwrap().sources.is_empty());
        inbox.receive(&mail(group, "Re: Printer", "g4@example.org", "In-Reply-To: <g2@example.org>\n"), false);
        assert!(inbox.decisions().contains("support@groups.example.com is not a participant of it"), "{}", inbox.decisions());
        assert_eq!(inbox.count("conversations"), 3);
    }
}
