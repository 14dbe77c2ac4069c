//! A user's reply address (USERNAME@ a hosted domain) is live once they
//! have replied: RCPT takes it like a forwarding address, and the
//! processor files the answer into the conversation it answers, else a new
//! conversation of the channel through which the user last wrote to the
//! contact, else of their latest reply. Subaddresses (LOCAL+DETAIL@) reach
//! their channel or user and keep the detail.

mod common;

use common::{reply, Milter};
use indymilter_test::{MacroStage, Status};
use teaminbox_processor::Processor;
use teaminbox_store::{
    inbound::{HostedRecipient, NewInboundMessage, Owner, Verdicts},
    outbound::NewReply,
    settings::NewUser,
    Store,
};
use teaminbox_testkit::both_databases;
use teaminbox_testkit::{channel, inbound_message, TestDatabase};

const SUPPORT: &str = "support@inbox.example.com";
const SALES: &str = "sales@inbox.example.com";

fn add_jane(store: &Store) -> i64 {
    store
        .settings()
        .add_user(&NewUser {
            email: "jane@acme.example",
            first_name: "Jane",
            last_name: "Doe",
            username: "jane",
        })
        .unwrap()
        .id
}

/// Jane's reply in `conversation`, as `conversation reply` queues it.
fn jane_replies(store: &Store, jane: i64, conversation: i64, message_id: &str) {
    let context = store.outbound().reply_context(conversation).unwrap();
    store
        .outbound()
        .enqueue_reply(&NewReply {
            conversation_id: conversation,
            channel_id: context.channel_id,
            from_name: "Jane Doe at Acme",
            from_address: "jane@inbox.example.com",
            to_address: &context.contact_address,
            subject: "Re: Help",
            text: "On it.",
            html: None,
            message_id,
            raw_message: b"From: jane@inbox.example.com\r\n\r\nOn it.\r\n",
            user_email: "jane@acme.example",
            user_id: jane,
        })
        .unwrap();
}

both_databases! {
    async fn a_reply_address_is_live_once_its_user_replied(db: TestDatabase) {
        let milter = Milter::start(db).await;
        let support = milter.channel(SUPPORT);
        let jane = add_jane(&milter.store);
        let mut conn = milter.connect().await;
        conn.mail(["<carol@example.org>"]).await.unwrap();
        // Never replied: no live address, like any unknown one.
        let status = conn.rcpt(["<jane@inbox.example.com>"]).await.unwrap();
        assert!(reply(&status).starts_with("550 5.1.1 "), "{status:?}");

        // Jane replies in a conversation of the channel.
        milter.db.execute("INSERT INTO contacts (id, address, created_at) VALUES (1, 'carol@example.org', CURRENT_TIMESTAMP)");
        milter.db.execute(&format!(
            "INSERT INTO conversations (id, channel_id, contact_id, subject, status, created_at, last_message_at) \
             VALUES (1, {support}, 1, 'Help', 'open', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        ));
        jane_replies(&milter.store, jane, 1, "r1@inbox.example.com");

        for (rcpt, code) in [
            ("<Jane@Inbox.Example.com>", None),
            ("<jane+urgent@inbox.example.com>", None),
            ("<support+billing@inbox.example.com>", None),
            ("<nobody@inbox.example.com>", Some("550 5.1.1 ")),
            ("<nobody+billing@inbox.example.com>", Some("550 5.1.1 ")),
            ("<jane-x@inbox.example.com>", Some("550 5.1.1 ")),
        ] {
            let status = conn.rcpt([rcpt]).await.unwrap();
            match code {
                None => assert_eq!(status, Status::Continue, "{rcpt}"),
                Some(code) => assert!(reply(&status).starts_with(code), "{rcpt}: {status:?}"),
            }
        }
        conn.macros(MacroStage::Data, [("i", "4AbCdEf")]).await.unwrap();
        assert_eq!(conn.data().await.unwrap(), Status::Continue);
        conn.header("From", "carol@example.org").await.unwrap();
        conn.eoh().await.unwrap();
        conn.body(&b"Thanks!\r\n"[..]).await.unwrap();
        let (_, status) = conn.eom().await.unwrap();
        assert_eq!(status, Status::Discard);
        conn.close().await.unwrap();

        // Stored like mail to a forwarding address, owner and detail kept.
        let stored = milter.store.inbound().list(10).unwrap();
        assert_eq!(stored.len(), 1);
        let recipients = milter.store.inbound().recipients(stored[0].id).unwrap();
        let expected = |address: &str, owner, detail: Option<&str>| HostedRecipient {
            address: address.into(),
            owner,
            detail: detail.map(Into::into),
        };
        assert_eq!(recipients, [
            expected("jane+urgent@inbox.example.com", Owner::User(jane), Some("urgent")),
            expected("jane@inbox.example.com", Owner::User(jane), None),
            expected("support+billing@inbox.example.com", Owner::Channel(support), Some("billing")),
        ]);
        milter.stop().await;
    }
}

both_databases! {
    fn an_empty_recipient_delimiter_turns_subaddresses_off(db: TestDatabase) {
        let store = db.store();
        let support = channel(&store, SUPPORT);
        let route = |address: &str, delimiters: &str| store.inbound().route(address, delimiters).unwrap();
        assert_eq!(route("support+billing@inbox.example.com", "+").unwrap().owner, Owner::Channel(support));
        assert_eq!(route("support-billing@inbox.example.com", "+-").unwrap().detail.as_deref(), Some("billing"));
        assert!(route("support+billing@inbox.example.com", "").is_none());
        assert!(route("support+billing@inbox.example.com", "-").is_none());
        // An empty detail is no detail.
        assert_eq!(route("support+@inbox.example.com", "+").unwrap().detail, None);
    }
}

/// Two channels, Jane, and conversations: carol in Support (Jane replied,
/// <r1@...>), dave in Sales (Jane replied later, <r2@...>), and erin in
/// Support (nobody replied, her message <e1@...>).
struct Inbox {
    db: TestDatabase,
    store: Store,
    processor: Processor,
    support: i64,
    sales: i64,
    jane: i64,
}

impl Inbox {
    fn new(db: TestDatabase) -> Self {
        let store = db.store();
        let support = channel(&store, SUPPORT);
        let sales = channel(&store, SALES);
        let jane = add_jane(&store);
        let processor = Processor::new(store.clone(), "teaminbox@inbox.example.com".into());
        let inbox = Self {
            db,
            store,
            processor,
            support,
            sales,
            jane,
        };
        inbox.receive(
            &mail("carol@example.org", "c1@example.org", ""),
            SUPPORT,
            Owner::Channel(support),
            None,
        );
        jane_replies(
            &inbox.store,
            jane,
            inbox.conversation_of("c1@example.org"),
            "r1@inbox.example.com",
        );
        inbox.receive(
            &mail("dave@example.org", "d1@example.org", ""),
            SALES,
            Owner::Channel(sales),
            None,
        );
        jane_replies(
            &inbox.store,
            jane,
            inbox.conversation_of("d1@example.org"),
            "r2@inbox.example.com",
        );
        inbox.receive(
            &mail("erin@example.org", "e1@example.org", ""),
            SUPPORT,
            Owner::Channel(support),
            None,
        );
        inbox
    }

    /// Stores a message to `address` as the milter would and processes it.
    fn receive(&self, raw: &str, address: &str, owner: Owner, detail: Option<&str>) {
        self.store
            .inbound()
            .enqueue(NewInboundMessage {
                spam_check: None,
                recipients: vec![HostedRecipient {
                    address: address.into(),
                    owner,
                    detail: detail.map(Into::into),
                }],
                verdicts: Some(Verdicts {
                    spf: "pass".into(),
                    dkim: "pass".into(),
                    arc: "none".into(),
                    dmarc: "pass".into(),
                    ..Verdicts::default()
                }),
                ..inbound_message(address, 0, raw.replace('\n', "\r\n"))
            })
            .unwrap();
        while self.processor.process_next("test-worker") {}
    }

    fn to_jane(&self, raw: &str) {
        self.receive(raw, "jane@inbox.example.com", Owner::User(self.jane), None);
    }

    fn conversation_of(&self, message_id: &str) -> i64 {
        self.filed(message_id).0
    }

    /// (conversation, channel, decisions) of a filed message.
    fn filed(&self, message_id: &str) -> (i64, i64, String) {
        let row = self.db.rows(&format!(
            "SELECT CAST(conversation_id AS TEXT) AS a, CAST(channel_id AS TEXT) AS b, decisions AS c \
             FROM messages WHERE message_id_header = '{message_id}'"
        ));
        assert_eq!(row.len(), 1, "{message_id} filed once: {row:?}");
        let (a, b, c) = row.into_iter().next().unwrap();
        (
            a.unwrap().parse().unwrap(),
            b.unwrap().parse().unwrap(),
            c.unwrap(),
        )
    }
}

fn mail(from: &str, message_id: &str, extra: &str) -> String {
    format!(
        "From: {from}\nSubject: Help\nMessage-ID: <{message_id}>\n\
         Date: Fri, 27 Nov 2026 10:00:00 +0000\n{extra}\nHello.\n"
    )
}

both_databases! {
    fn an_answer_threads_into_the_conversation_it_answers(db: TestDatabase) {
        let inbox = Inbox::new(db);
        let carol = inbox.conversation_of("c1@example.org");
        inbox.to_jane(&mail("carol@example.org", "c2@example.org", "In-Reply-To: <r1@inbox.example.com>\nReferences: <c1@example.org> <r1@inbox.example.com>\n"));
        let (conversation, channel, decisions) = inbox.filed("c2@example.org");
        assert_eq!((conversation, channel), (carol, inbox.support));
        assert!(decisions.contains(&format!("Channel {}: jane@inbox.example.com is the reply address of jane@acme.example, and the message answers conversation {carol}, which jane@acme.example replied in (it refers to <r1@inbox.example.com>)", inbox.support)), "{decisions}");
        assert!(decisions.contains(&format!("Thread: conversation {carol}")), "{decisions}");
    }
}

both_databases! {
    fn without_thread_headers_the_channel_of_the_last_reply_to_the_contact_is_chosen(db: TestDatabase) {
        let inbox = Inbox::new(db);
        // Jane's latest reply is in Sales, but she wrote to carol through Support.
        inbox.to_jane(&mail("Carol <carol@example.org>", "c3@example.org", ""));
        let (conversation, channel, decisions) = inbox.filed("c3@example.org");
        assert_eq!(channel, inbox.support);
        assert_ne!(conversation, inbox.conversation_of("c1@example.org"), "a new conversation");
        assert!(decisions.contains("the channel through which jane@acme.example last wrote to carol@example.org"), "{decisions}");
        assert!(decisions.contains("Thread: new conversation (no In-Reply-To or References)"), "{decisions}");
        let contact = inbox.db.rows(&format!(
            "SELECT ct.address AS a, CAST(NULL AS TEXT) AS b, CAST(NULL AS TEXT) AS c FROM conversations c \
             JOIN contacts ct ON ct.id = c.contact_id WHERE c.id = {conversation}"
        ));
        assert_eq!(contact[0].0.as_deref(), Some("carol@example.org"));
    }
}

both_databases! {
    fn a_new_contact_goes_to_the_channel_of_the_latest_reply(db: TestDatabase) {
        let inbox = Inbox::new(db);
        inbox.to_jane(&mail("frank@example.org", "f1@example.org", ""));
        let (_, channel, decisions) = inbox.filed("f1@example.org");
        assert_eq!(channel, inbox.sales);
        assert!(decisions.contains("jane@acme.example never wrote to frank@example.org; the channel through which jane@acme.example last replied"), "{decisions}");
    }
}

both_databases! {
    fn references_outside_the_users_conversations_do_not_thread(db: TestDatabase) {
        let inbox = Inbox::new(db);
        let erin = inbox.conversation_of("e1@example.org");
        // Erin's conversation is one Jane never replied in.
        inbox.to_jane(&mail("carol@example.org", "c4@example.org", "In-Reply-To: <e1@example.org>\n"));
        let (conversation, channel, decisions) = inbox.filed("c4@example.org");
        assert_ne!(conversation, erin);
        assert_eq!(channel, inbox.support);
        assert!(decisions.contains("Thread: new conversation (its references name no conversation jane@acme.example replied in)"), "{decisions}");
    }
}

both_databases! {
    fn the_subaddress_detail_is_kept_on_the_message(db: TestDatabase) {
        let inbox = Inbox::new(db);
        inbox.receive(&mail("gina@example.org", "g1@example.org", ""), "support+billing@inbox.example.com", Owner::Channel(inbox.support), Some("billing"));
        inbox.receive(&mail("carol@example.org", "c5@example.org", "References: <r1@inbox.example.com>\n"), "jane+urgent@inbox.example.com", Owner::User(inbox.jane), Some("urgent"));
        let details = inbox.db.rows(
            "SELECT message_id_header AS a, detail AS b, CAST(channel_id AS TEXT) AS c FROM messages \
             WHERE detail IS NOT NULL ORDER BY id",
        );
        let support = Some(inbox.support.to_string());
        assert_eq!(details, [
            (Some("g1@example.org".into()), Some("billing".into()), support.clone()),
            (Some("c5@example.org".into()), Some("urgent".into()), support),
        ]);
        let (_, _, decisions) = inbox.filed("g1@example.org");
        assert!(decisions.contains(r#"Subaddress: support+billing@inbox.example.com has the detail \"billing\"."#), "{decisions}");
        assert_eq!(inbox.conversation_of("c5@example.org"), inbox.conversation_of("c1@example.org"));
    }
}
