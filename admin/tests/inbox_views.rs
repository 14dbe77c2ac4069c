//! The real `teaminbox-admin` binary's views of the inbox (`conversation`,
//! `ticket`, `contact`) and its operations on conversations (assign,
//! close, reopen), on SQLite and PostgreSQL. The inbox is seeded through
//! the processor's own store API (`Inbox::apply`), as the processor fills
//! it.

mod common;

use chrono::{NaiveDate, NaiveDateTime};
use common::{keys, Setup};
use serde_json::{json, Value};
use teaminbox_store::address::ForwardingAddress;
use teaminbox_store::{
    inbound::NewInboundMessage,
    inbox::{NewAttachment, NewConversation, NewMessage, NewTicket},
    settings::{NewChannel, NewUser},
    Store,
};
use teaminbox_testkit::both_databases;
use teaminbox_testkit::inbound_message;

/// 2026-11-20 at `hour`:`minute`, UTC.
fn at(hour: u32, minute: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, 20)
        .unwrap()
        .and_hms_opt(hour, minute, 0)
        .unwrap()
}

fn enqueue(store: &Store, channel_id: i64, address: &str) -> i64 {
    store
        .inbound()
        .enqueue({
            let base = inbound_message(address, channel_id, b"Subject: seeded\r\n\r\nseeded\r\n");
            NewInboundMessage {
                spam_check: None,
                received_at: at(7, 0),
                session: teaminbox_store::model::SmtpSession {
                    queue_id: Some("4dK2xY0l3z".into()),
                    mail_from: "customer@example.org".into(),
                    ..base.session
                },
                ..base
            }
        })
        .unwrap()
}

/// A message as the processor would file it; `decisions` as sentences.
fn message<'a>(
    conversation_id: i64,
    channel_id: i64,
    key: &'a str,
    from: (&'a str, Option<&'a str>),
    subject: &'a str,
    text: &'a str,
    decisions: &'a str,
) -> NewMessage<'a> {
    NewMessage {
        conversation_id,
        channel_id,
        inbound_message_id: None,
        direction: "in",
        dedupe_key: key,
        message_id_header: Some(key),
        from_address: from.0,
        from_name: from.1,
        forwarded_by: None,
        subject,
        text_body: text,
        html_body: None,
        sent_at: None,
        automated: false,
        decisions,
        user_id: None,
        detail: None,
    }
}

/// Channels 1 (Support) and 2 (Sales); users alice (1) and bob (2); the
/// contact customer@example.org owned by alice; and five conversations:
///
/// | id | channel | contact | status | kind | assignee | last message | messages | ticket |
/// |---|---|---|---|---|---|---|---|---|
/// | 1 | 1 | customer@example.org | open | normal | alice | 11:00 | 2 | 1 |
/// | 2 | 2 | dave@example.net | open | normal | - | 10:00 | 1 | - |
/// | 3 | 1 | spam@example.biz | spam | normal | - | 08:00 | 1 | - |
/// | 4 | 1 | forwarding-noreply@google.com | open | verification | - | 12:00 | 1 | - |
/// | 5 | 2 | dave@example.net | closed | normal | bob | 10:00 | 1 | 2 |
///
/// Newest first, that is 4, 1, 5, 2, 3 (5 before 2: same time, higher id).
fn seed(setup: &Setup) {
    let store = &setup.store;
    let support = ForwardingAddress::parse("support@inbox.example.com").unwrap();
    let sales = ForwardingAddress::parse("sales@inbox.example.com").unwrap();
    // A company's From name belongs to one channel only.
    for (name, company, address) in [
        ("Support", "Acme", &support),
        ("Sales", "Acme Sales", &sales),
    ] {
        store
            .settings()
            .create_channel(&NewChannel {
                name,
                company,
                forwarding_address: address,
            })
            .unwrap();
    }
    for (email, first, last) in [
        ("alice@example.com", "Alice", "Smith"),
        ("bob@example.com", "Bob", "Jones"),
    ] {
        store
            .settings()
            .add_user(&NewUser {
                email,
                first_name: first,
                last_name: last,
                username: first,
            })
            .unwrap();
    }
    store
        .settings()
        .set_contact_owner("customer@example.org", "alice@example.com")
        .unwrap();

    // Conversation 1: a new message with two attachments and a ticket...
    let inbound = enqueue(store, 1, "support@inbox.example.com");
    store
        .inbox()
        .apply(inbound, |tx| {
            let (contact, _) =
                tx.contact("customer@example.org", Some("Carol Customer"), at(9, 0))?;
            let id = tx.create_conversation(&NewConversation {
                channel_id: 1,
                contact_id: contact.id,
                subject: "Printer on fire",
                status: teaminbox_store::model::ConversationStatus::Open,
                kind: teaminbox_store::model::ConversationKind::Normal,
                assignee_user_id: Some(1),
                at: at(9, 0),
            })?;
            let decisions = json!([
                "Contact customer@example.org: the From header.",
                "Thread: new conversation (no In-Reply-To or References).",
                "Assigned to alice@example.com by round robin."
            ])
            .to_string();
            let mut m = message(
                id,
                1,
                "m1@example.org",
                ("customer@example.org", Some("Carol Customer")),
                "Printer on fire",
                "It is on fire.\nPlease help.\n",
                &decisions,
            );
            m.inbound_message_id = Some(inbound);
            m.sent_at = Some(at(8, 55));
            tx.insert_message(
                &m,
                &[
                    NewAttachment {
                        filename: "report.pdf",
                        content_type: "application/pdf",
                        content_id: None,
                        inline: false,
                        content: b"%PDF-1.4 twelve",
                    },
                    NewAttachment {
                        filename: "logo.png",
                        content_type: "image/png",
                        content_id: Some("logo@example.org"),
                        inline: true,
                        content: b"\x89PNG",
                    },
                ],
            )?;
            tx.create_ticket(&NewTicket {
                conversation_id: id,
                name: "Printer on fire",
                pipeline: Some("Support"),
                stage: None,
                priority: Some("high"),
                properties: r#"{"team":"emea"}"#,
                owner_user_id: Some(1),
            })?;
            Ok(())
        })
        .unwrap();

    // Conversation 2, unassigned, on Sales.
    let inbound = enqueue(store, 2, "sales@inbox.example.com");
    store
        .inbox()
        .apply(inbound, |tx| {
            let (contact, _) = tx.contact("dave@example.net", None, at(10, 0))?;
            let id = tx.create_conversation(&NewConversation {
                channel_id: 2,
                contact_id: contact.id,
                subject: "Quote",
                status: teaminbox_store::model::ConversationStatus::Open,
                kind: teaminbox_store::model::ConversationKind::Normal,
                assignee_user_id: None,
                at: at(10, 0),
            })?;
            tx.insert_message(
                &message(
                    id,
                    2,
                    "m2@example.net",
                    ("dave@example.net", None),
                    "Quote",
                    "How much?",
                    "[]",
                ),
                &[],
            )?;
            Ok(())
        })
        .unwrap();

    // Conversation 3: spam, with a hostile subject and body.
    let inbound = enqueue(store, 1, "support@inbox.example.com");
    store
        .inbox()
        .apply(inbound, |tx| {
            let (contact, _) = tx.contact("spam@example.biz", Some("Win\u{1b}[2J"), at(8, 0))?;
            let id = tx.create_conversation(&NewConversation {
                channel_id: 1,
                contact_id: contact.id,
                subject: "Win \u{1b}[31mbig",
                status: teaminbox_store::model::ConversationStatus::Spam,
                kind: teaminbox_store::model::ConversationKind::Normal,
                assignee_user_id: None,
                at: at(8, 0),
            })?;
            let mut m = message(
                id,
                1,
                "m3@example.biz",
                ("spam@example.biz", Some("Win\u{1b}[2J")),
                "Win \u{1b}[31mbig",
                "Click\u{1b}]0;pwned\u{7} here\r\nnow",
                "not JSON",
            );
            m.automated = true;
            tx.insert_message(&m, &[])?;
            Ok(())
        })
        .unwrap();

    // Conversation 4: a forwarding confirmation.
    let inbound = enqueue(store, 1, "support@inbox.example.com");
    store
        .inbox()
        .apply(inbound, |tx| {
            let (contact, _) = tx.contact("forwarding-noreply@google.com", None, at(12, 0))?;
            let id = tx.create_conversation(&NewConversation {
                channel_id: 1,
                contact_id: contact.id,
                subject: "Gmail Forwarding Confirmation",
                status: teaminbox_store::model::ConversationStatus::Open,
                kind: teaminbox_store::model::ConversationKind::Verification,
                assignee_user_id: None,
                at: at(12, 0),
            })?;
            tx.insert_message(
                &message(
                    id,
                    1,
                    "m4@google.com",
                    ("forwarding-noreply@google.com", None),
                    "Gmail Forwarding Confirmation",
                    "Confirmation code: 123456789",
                    "[]",
                ),
                &[],
            )?;
            Ok(())
        })
        .unwrap();

    // Conversation 5: closed, assigned to bob, same time as 2.
    let inbound = enqueue(store, 2, "sales@inbox.example.com");
    store
        .inbox()
        .apply(inbound, |tx| {
            let (contact, _) = tx.contact("dave@example.net", Some("Dave"), at(10, 0))?;
            let id = tx.create_conversation(&NewConversation {
                channel_id: 2,
                contact_id: contact.id,
                subject: "Second quote",
                status: teaminbox_store::model::ConversationStatus::Closed,
                kind: teaminbox_store::model::ConversationKind::Normal,
                assignee_user_id: Some(2),
                at: at(10, 0),
            })?;
            tx.insert_message(
                &message(
                    id,
                    2,
                    "m5@example.net",
                    ("dave@example.net", Some("Dave")),
                    "Second quote",
                    "And now?",
                    "[]",
                ),
                &[],
            )?;
            tx.create_ticket(&NewTicket {
                conversation_id: id,
                name: "Quote for Dave",
                pipeline: None,
                stage: Some("New"),
                priority: None,
                properties: "{}",
                owner_user_id: Some(2),
            })?;
            Ok(())
        })
        .unwrap();

    // ...and conversation 1's second message, forwarded by bob.
    let inbound = enqueue(store, 1, "support@inbox.example.com");
    store
        .inbox()
        .apply(inbound, |tx| {
            let decisions = json!([
                "Contact customer@example.org: the original sender of bob@example.com's forward.",
                "Thread: conversation 1 because the message refers to <m1@example.org>."
            ])
            .to_string();
            let mut m = message(
                1,
                1,
                "m6@example.com",
                ("customer@example.org", Some("Carol Customer")),
                "Re: Printer on fire",
                "Still burning.",
                &decisions,
            );
            m.forwarded_by = Some("bob@example.com");
            tx.insert_message(&m, &[])?;
            tx.touch_conversation(1, at(11, 0), true)
        })
        .unwrap();

    // Filing times, fixed so that the output can be compared exactly.
    setup
        .db
        .execute("UPDATE messages SET created_at = '2026-11-20 09:00:01' WHERE id = 1");
    setup
        .db
        .execute("UPDATE messages SET created_at = '2026-11-20 11:00:01' WHERE id = 6");
}

fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect()
}

both_databases! {
    fn conversations_are_listed_newest_first(db: TestDatabase) {
        let setup = Setup::new(db);
        assert_eq!(
            setup.run(&["conversation", "list"]).ok(),
            "ID  LAST MESSAGE (UTC)  CHANNEL  STATUS  CONTACT  ASSIGNEE  TICKET  MESSAGES  SUBJECT\n"
        );
        assert_eq!(setup.json(&["conversation", "list"]), json!([]));
        seed(&setup);

        let list = setup.json(&["conversation", "list"]);
        assert_eq!(ids(&list), [4, 1, 5, 2, 3]);
        assert_eq!(
            list[1],
            json!({
                "id": 1,
                "channel_id": 1,
                "channel_name": "Support",
                "status": "open",
                "kind": "normal",
                "subject": "Printer on fire",
                "contact_address": "customer@example.org",
                "contact_name": "Carol Customer",
                "assignee_email": "alice@example.com",
                "ticket_id": 1,
                "message_count": 2,
                "created_at": "2026-11-20T09:00:00Z",
                "last_message_at": "2026-11-20T11:00:00Z"
            })
        );
        assert_eq!(list[0]["kind"], "verification");
        // The contact's name as it is now (conversation 5 brought it).
        assert_eq!(list[3]["contact_name"], "Dave");
        assert_eq!(list[0]["contact_name"], Value::Null);
        assert_eq!(list[3]["assignee_email"], Value::Null);
        assert_eq!(list[3]["ticket_id"], Value::Null);
        assert_eq!(
            list,
            serde_json::to_value(setup.store.views().conversations(&Default::default()).unwrap()).unwrap()
        );

        // Control characters from the mail are escaped in the table.
        assert_eq!(
            setup.run(&["conversation", "list"]).ok(),
            "ID  LAST MESSAGE (UTC)   CHANNEL  STATUS              CONTACT                        ASSIGNEE           TICKET  MESSAGES  SUBJECT\n\
             4   2026-11-20 12:00:00  Support  open, verification  forwarding-noreply@google.com  -                  -       1         Gmail Forwarding Confirmation\n\
             1   2026-11-20 11:00:00  Support  open                customer@example.org           alice@example.com  1       2         Printer on fire\n\
             5   2026-11-20 10:00:00  Sales    closed              dave@example.net               bob@example.com    2       1         Second quote\n\
             2   2026-11-20 10:00:00  Sales    open                dave@example.net               -                  -       1         Quote\n\
             3   2026-11-20 08:00:00  Support  spam                spam@example.biz               -                  -       1         Win \\u{1b}[31mbig\n"
        );
    }
}

both_databases! {
    fn conversation_list_filters(db: TestDatabase) {
        let setup = Setup::new(db);
        seed(&setup);
        let list = |args: &[&str]| {
            let mut all = vec!["conversation", "list"];
            all.extend_from_slice(args);
            ids(&setup.json(&all))
        };
        assert_eq!(list(&["--channel", "1"]), [4, 1, 3]);
        assert_eq!(list(&["--channel", "2"]), [5, 2]);
        assert_eq!(list(&["--status", "open"]), [4, 1, 2]);
        assert_eq!(list(&["--status", "closed"]), [5]);
        assert_eq!(list(&["--status", "spam"]), [3]);
        assert_eq!(list(&["--assignee", "Alice@Example.com"]), [1]);
        assert_eq!(list(&["--assignee", "bob@example.com", "--status", "open"]), Vec::<i64>::new());
        assert_eq!(list(&["--unassigned"]), [4, 2, 3]);
        assert_eq!(list(&["--unassigned", "--channel", "2", "--status", "open"]), [2]);
        assert_eq!(list(&["--limit", "2"]), [4, 1]);
        assert_eq!(list(&["--limit", "0"]), [4, 1, 5, 2, 3]);

        assert_eq!(
            setup.run(&["conversation", "list", "--channel", "9"]).fails(1),
            "teaminbox-admin: there is no channel 9"
        );
        assert_eq!(
            setup.run(&["conversation", "list", "--assignee", "zed@example.com"]).fails(1),
            "teaminbox-admin: there is no user zed@example.com"
        );
        assert_eq!(
            setup.run(&["conversation", "list", "--limit=-1"]).fails(2),
            "teaminbox-admin: --limit must be 0 or more"
        );
        assert!(setup
            .run(&["conversation", "list", "--assignee", "nobody"])
            .fails(2)
            .starts_with("teaminbox-admin: --assignee: `nobody` is not an email address"));
        let run = setup.run(&["conversation", "list", "--assignee", "alice@example.com", "--unassigned"]);
        assert!(run.usage_error().contains("cannot be used with"), "{run:#?}");
        let run = setup.run(&["conversation", "list", "--status", "pending"]);
        assert!(run.usage_error().contains("invalid value 'pending'"), "{run:#?}");
    }
}

both_databases! {
    fn conversation_show_has_messages_attachments_and_decisions(db: TestDatabase) {
        let setup = Setup::new(db);
        seed(&setup);
        let shown = setup.json(&["conversation", "show", "1"]);
        assert_eq!(
            shown,
            json!({
                "id": 1,
                "channel_id": 1,
                "channel_name": "Support",
                "status": "open",
                "kind": "normal",
                "subject": "Printer on fire",
                "contact": {
                    "id": 1,
                    "address": "customer@example.org",
                    "name": "Carol Customer",
                    "owner_email": "alice@example.com"
                },
                "assignee": {
                    "email": "alice@example.com",
                    "first_name": "Alice",
                    "last_name": "Smith",
                    "available": true
                },
                "ticket": {
                    "id": 1,
                    "conversation_id": 1,
                    "channel_id": 1,
                    "conversation_status": "open",
                    "name": "Printer on fire",
                    "pipeline": "Support",
                    "stage": null,
                    "priority": "high",
                    "properties": {"team": "emea"},
                    "owner_email": "alice@example.com",
                    "created_at": shown["ticket"]["created_at"]
                },
                "created_at": "2026-11-20T09:00:00Z",
                "last_message_at": "2026-11-20T11:00:00Z",
                "messages": [
                    {
                        "id": 1,
                        "direction": "in",
                        "from": "customer@example.org",
                        "from_name": "Carol Customer",
                        "forwarded_by": null,
                        "subject": "Printer on fire",
                        "text": "It is on fire.\nPlease help.\n",
                        "message_id": "m1@example.org",
                        "inbound_message_id": 1,
                        "detail": null,
                        "sent_at": "2026-11-20T08:55:00Z",
                        "created_at": "2026-11-20T09:00:01Z",
                        "automated": false,
                        "decisions": [
                            "Contact customer@example.org: the From header.",
                            "Thread: new conversation (no In-Reply-To or References).",
                            "Assigned to alice@example.com by round robin."
                        ],
                        "attachments": [
                            {
                                "id": 1,
                                "filename": "report.pdf",
                                "content_type": "application/pdf",
                                "size": 15,
                                "content_id": null,
                                "inline": false
                            },
                            {
                                "id": 2,
                                "filename": "logo.png",
                                "content_type": "image/png",
                                "size": 4,
                                "content_id": "logo@example.org",
                                "inline": true
                            }
                        ],
                        "delivery": null,
                        "spam_check": null,
                        "authentication": null
                    },
                    {
                        "id": 6,
                        "direction": "in",
                        "from": "customer@example.org",
                        "from_name": "Carol Customer",
                        "forwarded_by": "bob@example.com",
                        "subject": "Re: Printer on fire",
                        "text": "Still burning.",
                        "message_id": "m6@example.com",
                        "inbound_message_id": null,
                        "detail": null,
                        "sent_at": null,
                        "created_at": "2026-11-20T11:00:01Z",
                        "automated": false,
                        "decisions": [
                            "Contact customer@example.org: the original sender of bob@example.com's forward.",
                            "Thread: conversation 1 because the message refers to <m1@example.org>."
                        ],
                        "attachments": [],
                        "delivery": null,
                        "spam_check": null,
                        "authentication": null
                    }
                ]
            })
        );
        common::assert_rfc3339_utc(&shown["ticket"]["created_at"]);
        assert_eq!(shown, serde_json::to_value(setup.store.views().conversation(1).unwrap()).unwrap());

        assert_eq!(
            setup.run(&["conversation", "show", "1"]).ok(),
            "Conversation 1: Printer on fire\n\
             Channel:       1 (Support)\n\
             Status:        open\n\
             Contact:       Carol Customer <customer@example.org> (contact 1, owner alice@example.com)\n\
             Assignee:      alice@example.com (Alice Smith, available)\n\
             Ticket:        1 \"Printer on fire\", pipeline Support, priority high, team=emea\n\
             Started:       2026-11-20 09:00:00 UTC\n\
             Last message:  2026-11-20 11:00:00 UTC\n\
             \n\
             --- Message 1 (received), filed 2026-11-20 09:00:01 UTC\n\
             From:         Carol Customer <customer@example.org>\n\
             Subject:      Printer on fire\n\
             Sent:         2026-11-20 08:55:00 UTC\n\
             Attachments:  report.pdf (application/pdf, 15 bytes); logo.png (image/png, 4 bytes, inline, cid logo@example.org)\n\
             \n\
             It is on fire.\n\
             Please help.\n\
             \n\
             Decisions:\n\
             \x20 - Contact customer@example.org: the From header.\n\
             \x20 - Thread: new conversation (no In-Reply-To or References).\n\
             \x20 - Assigned to alice@example.com by round robin.\n\
             \n\
             --- Message 6 (received), filed 2026-11-20 11:00:01 UTC\n\
             From:          Carol Customer <customer@example.org>\n\
             Forwarded by:  bob@example.com\n\
             Subject:       Re: Printer on fire\n\
             \n\
             Still burning.\n\
             \n\
             Decisions:\n\
             \x20 - Contact customer@example.org: the original sender of bob@example.com's forward.\n\
             \x20 - Thread: conversation 1 because the message refers to <m1@example.org>.\n"
        );

        assert_eq!(
            setup.run(&["conversation", "show", "99"]).fails(1),
            "teaminbox-admin: there is no conversation 99"
        );
        assert_eq!(
            setup.run(&["conversation", "show", "99", "--json"]).fails(1),
            "teaminbox-admin: there is no conversation 99"
        );
    }
}

both_databases! {
    fn what_a_message_carries_cannot_reach_the_terminal_raw(db: TestDatabase) {
        let setup = Setup::new(db);
        seed(&setup);
        let out = setup.run(&["conversation", "show", "3"]).ok().to_owned();
        assert!(!out.contains('\u{1b}') && !out.contains('\u{7}') && !out.contains('\r'), "{out:?}");
        assert!(out.starts_with("Conversation 3: Win \\u{1b}[31mbig\n"), "{out}");
        assert!(out.contains("Status:        spam\n"), "{out}");
        assert!(out.contains("Contact:       Win\\u{1b}[2J <spam@example.biz>"), "{out}");
        assert!(out.contains("\nAutomated:  yes\n"), "{out}");
        // The body keeps its lines.
        assert!(out.contains("\nClick\\u{1b}]0;pwned\\u{7} here\nnow\n"), "{out}");
        // A decisions column that is not a JSON array is shown as it is.
        assert!(out.ends_with("Decisions:\n  - not JSON\n"), "{out}");
        let json = setup.json(&["conversation", "show", "3"]);
        assert_eq!(json["messages"][0]["decisions"], json!(["not JSON"]));
        assert_eq!(json["messages"][0]["text"], "Click\u{1b}]0;pwned\u{7} here\r\nnow");
        assert_eq!(json["assignee"], Value::Null);
        assert_eq!(json["ticket"], Value::Null);
        assert_eq!(json["contact"]["owner_email"], Value::Null);

        let verification = setup.json(&["conversation", "show", "4"]);
        assert_eq!(verification["kind"], "verification");
        assert!(setup
            .run(&["conversation", "show", "4"])
            .ok()
            .contains("Status:        open, verification\n"));
    }
}

both_databases! {
    fn conversations_are_assigned_closed_and_reopened(db: TestDatabase) {
        let setup = Setup::new(db);
        seed(&setup);

        assert_eq!(
            setup.run(&["conversation", "assign", "2", "Bob@Example.com"]).ok(),
            "Assigned conversation 2 to bob@example.com.\n"
        );
        let assigned = setup.json(&["conversation", "assign", "1", "bob@example.com"]);
        assert_eq!(assigned["assignee_email"], "bob@example.com");
        assert_eq!(assigned["id"], 1);
        assert_eq!(
            keys(&assigned),
            [
                "assignee_email", "channel_id", "channel_name", "contact_address", "contact_name",
                "created_at", "id", "kind", "last_message_at", "message_count", "status",
                "subject", "ticket_id",
            ]
        );
        // The ticket follows the conversation.
        assert_eq!(setup.json(&["ticket", "show", "1"])["owner_email"], "bob@example.com");
        assert_eq!(
            setup.run(&["conversation", "assign", "1", "alice@example.com"]).ok(),
            "Assigned conversation 1 to alice@example.com. Its ticket 1 is theirs too.\n"
        );
        assert_eq!(ids(&setup.json(&["conversation", "list", "--assignee", "bob@example.com"])), [5, 2]);
        assert_eq!(ids(&setup.json(&["conversation", "list", "--unassigned"])), [4, 3]);

        assert_eq!(
            setup.run(&["conversation", "assign", "99", "bob@example.com"]).fails(1),
            "teaminbox-admin: there is no conversation 99"
        );
        assert_eq!(
            setup.run(&["conversation", "assign", "1", "zed@example.com"]).fails(1),
            "teaminbox-admin: there is no user zed@example.com"
        );
        assert!(setup
            .run(&["conversation", "assign", "1", "bob"])
            .fails(2)
            .starts_with("teaminbox-admin: USER_EMAIL: `bob` is not an email address"));
        assert_eq!(setup.json(&["conversation", "show", "1"])["assignee"]["email"], "alice@example.com");

        assert_eq!(setup.run(&["conversation", "close", "1"]).ok(), "Closed conversation 1.\n");
        assert_eq!(setup.run(&["conversation", "close", "1"]).ok(), "Conversation 1 was already closed.\n");
        let closed = setup.json(&["conversation", "close", "1"]);
        assert_eq!(closed["status"], "closed");
        assert_eq!(setup.json(&["ticket", "show", "1"])["conversation_status"], "closed");
        assert_eq!(ids(&setup.json(&["conversation", "list", "--status", "closed"])), [1, 5]);

        assert_eq!(setup.run(&["conversation", "reopen", "1"]).ok(), "Reopened conversation 1.\n");
        assert_eq!(setup.run(&["conversation", "reopen", "1"]).ok(), "Conversation 1 is already open.\n");
        // Spam that is not: reopened.
        assert_eq!(setup.json(&["conversation", "reopen", "3"])["status"], "open");
        assert_eq!(ids(&setup.json(&["conversation", "list", "--status", "spam"])), Vec::<i64>::new());
        // Nothing but the status changed.
        let after = setup.json(&["conversation", "show", "1"]);
        assert_eq!(after["status"], "open");
        assert_eq!(after["last_message_at"], "2026-11-20T11:00:00Z");
        assert_eq!(after["messages"].as_array().unwrap().len(), 2);

        for command in ["close", "reopen"] {
            assert_eq!(
                setup.run(&["conversation", command, "42"]).fails(1),
                "teaminbox-admin: there is no conversation 42",
                "{command}"
            );
        }
        let run = setup.run(&["conversation", "close", "first"]);
        assert!(run.usage_error().contains("invalid value 'first'"), "{run:#?}");
    }
}

both_databases! {
    fn tickets_are_listed_and_shown(db: TestDatabase) {
        let setup = Setup::new(db);
        assert_eq!(
            setup.run(&["ticket", "list"]).ok(),
            "ID  CONVERSATION  STATUS  PIPELINE  STAGE  PRIORITY  OWNER  NAME\n"
        );
        seed(&setup);
        let list = setup.json(&["ticket", "list"]);
        assert_eq!(ids(&list), [2, 1]);
        let second = &list[0];
        assert_eq!(
            keys(second),
            [
                "channel_id", "conversation_id", "conversation_status", "created_at", "id", "name",
                "owner_email", "pipeline", "priority", "properties", "stage",
            ]
        );
        assert_eq!(
            *second,
            json!({
                "id": 2,
                "conversation_id": 5,
                "channel_id": 2,
                "conversation_status": "closed",
                "name": "Quote for Dave",
                "pipeline": null,
                "stage": "New",
                "priority": null,
                "properties": {},
                "owner_email": "bob@example.com",
                "created_at": second["created_at"]
            })
        );
        common::assert_rfc3339_utc(&second["created_at"]);
        assert_eq!(setup.json(&["ticket", "show", "1"]), list[1]);
        assert_eq!(list, serde_json::to_value(setup.store.views().tickets().unwrap()).unwrap());

        assert_eq!(
            setup.run(&["ticket", "list"]).ok(),
            "ID  CONVERSATION  STATUS  PIPELINE  STAGE  PRIORITY  OWNER              NAME\n\
             2   5             closed  -         New    -         bob@example.com    Quote for Dave\n\
             1   1             open    Support   -      high      alice@example.com  Printer on fire\n"
        );
        let out = setup.run(&["ticket", "show", "1"]).ok().to_owned();
        let created = list[1]["created_at"].as_str().unwrap().replace('T', " ").replace('Z', "");
        assert_eq!(
            out,
            format!(
                "Ticket:        1\n\
                 Name:          Printer on fire\n\
                 Conversation:  1 (open, channel 1)\n\
                 Pipeline:      Support\n\
                 Stage:         -\n\
                 Priority:      high\n\
                 Properties:    team=emea\n\
                 Owner:         alice@example.com\n\
                 Created:       {created} UTC\n"
            )
        );
        assert_eq!(setup.run(&["ticket", "show", "9"]).fails(1), "teaminbox-admin: there is no ticket 9");

        // An agent's changes: kept fields stay, "" clears one.
        let updated = setup.json(&["ticket", "update", "1", "--stage", "Waiting on contact", "--priority", ""]);
        assert_eq!(
            (&updated["name"], &updated["pipeline"], &updated["stage"], &updated["priority"]),
            (&json!("Printer on fire"), &json!("Support"), &json!("Waiting on contact"), &json!(null))
        );
        assert_eq!(setup.json(&["ticket", "show", "1"]), updated);
        let refused = setup.run(&["ticket", "update", "1", "--name", " "]).fails(2).to_owned();
        assert_eq!(refused, "teaminbox-admin: a ticket's name cannot be empty");
        let refused = setup.run(&["ticket", "update", "1", "--stage", "two\nlines"]).fails(2).to_owned();
        assert_eq!(refused, "teaminbox-admin: the ticket's stage must be one line of text");
        assert_eq!(setup.run(&["ticket", "update", "9", "--stage", "x"]).fails(1), "teaminbox-admin: there is no ticket 9");
    }
}

both_databases! {
    fn contacts_show_their_conversations(db: TestDatabase) {
        let setup = Setup::new(db);
        seed(&setup);
        let list = setup.json(&["contact", "list"]);
        let addresses: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["address"].as_str().unwrap())
            .collect();
        assert_eq!(
            addresses,
            ["customer@example.org", "dave@example.net", "spam@example.biz", "forwarding-noreply@google.com"]
        );
        // The name came with the first message that had one.
        assert_eq!(list[1]["name"], "Dave");
        assert_eq!(list[1]["conversation_ids"], json!([2, 5]));
        assert_eq!(list[0]["conversation_ids"], json!([1]));
        assert_eq!(list[0]["owner_email"], "alice@example.com");
        assert_eq!(setup.json(&["contact", "show", "Dave@Example.net"]), list[1]);
        assert_eq!(setup.json(&["contact", "show", "2"]), list[1]);

        let out = setup.run(&["contact", "show", "dave@example.net"]).ok().to_owned();
        assert!(
            out.starts_with(
                "Contact:        2\n\
                 Address:        dave@example.net\n\
                 Name:           Dave\n\
                 Owner:          -\n\
                 Conversations:  2, 5\n\
                 First seen:     2026-11-20 10:00:00 UTC\n"
            ),
            "{out}"
        );
        assert_eq!(
            setup.run(&["contact", "list"]).ok(),
            "ID  ADDRESS                        NAME            OWNER              CONVERSATIONS\n\
             1   customer@example.org           Carol Customer  alice@example.com  1\n\
             2   dave@example.net               Dave            -                  2\n\
             3   spam@example.biz               Win\\u{1b}[2J    -                  1\n\
             4   forwarding-noreply@google.com  -               -                  1\n"
        );
    }
}
