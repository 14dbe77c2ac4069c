//! The real `teaminbox-admin` binary shows mail in any language as it was
//! written (Polish, German, Japanese), with the tables lined up on the
//! terminal, and escapes only what could steer the terminal or disguise
//! text: control characters, ANSI escape sequences, bidirectional
//! overrides and other invisible formatting characters. Mail is filed by
//! the real processor, on SQLite and PostgreSQL.

mod common;

use common::Setup;
use serde_json::Value;
use teaminbox_processor::Processor;
use teaminbox_store::{
    inbound::NewInboundMessage,
    inbox::{NewAttachment, NewConversation, NewMessage},
};
use teaminbox_testkit::both_databases;
use teaminbox_testkit::inbound_message;

const ADDRESS: &str = "obsluga@inbox.example.com";

/// A Polish customer's order, as a Polish mail client sends it: ISO-8859-2,
/// RFC 2047 headers, a quoted-printable body and an RFC 2231 file name.
const POLISH: &str = "From: =?ISO-8859-2?Q?=A3ukasz_=AF=F3=B3=E6?= <lukasz@example.pl>\r\n\
    To: obsluga@inbox.example.com\r\n\
    Subject: =?ISO-8859-2?Q?Zam=F3wienie_nr_42_=B1=E6=EA=B3=F1=F3=B6=BF=BC?=\r\n\
    Date: Mon, 23 Nov 2026 10:15:00 +0100\r\n\
    Message-ID: <zamowienie-42@example.pl>\r\n\
    MIME-Version: 1.0\r\n\
    Content-Type: multipart/mixed; boundary=\"b\"\r\n\
    \r\n\
    --b\r\n\
    Content-Type: text/plain; charset=ISO-8859-2\r\n\
    Content-Transfer-Encoding: quoted-printable\r\n\
    \r\n\
    Dzie=F1 dobry,\r\n\
    prosz=EA o faktur=EA.\r\n\
    --b\r\n\
    Content-Type: application/pdf\r\n\
    Content-Disposition: attachment; filename*=ISO-8859-2''faktura%20%BF%F3%B3ta.pdf\r\n\
    Content-Transfer-Encoding: base64\r\n\
    \r\n\
    JVBERi0xLjQK\r\n\
    --b--\r\n";

const GERMAN: &str = "From: =?UTF-8?Q?J=C3=BCrgen_Gr=C3=B6=C3=9Fe?= <juergen@example.de>\r\n\
    Subject: =?UTF-8?Q?Gr=C3=B6=C3=9Fe_=C3=A4ndern?=\r\n\
    Date: Mon, 23 Nov 2026 11:00:00 +0100\r\n\
    Message-ID: <groesse@example.de>\r\n\
    Content-Type: text/plain; charset=UTF-8\r\n\
    Content-Transfer-Encoding: 8bit\r\n\
    \r\n\
    Bitte die Größe ändern.\r\n";

const JAPANESE: &str = "From: =?UTF-8?B?5bGx55Sw5aSq6YOO?= <yamada@example.jp>\r\n\
    Subject: =?UTF-8?B?5rOo5paH44Gr44Gk44GE44Gm?=\r\n\
    Date: Mon, 23 Nov 2026 20:00:00 +0900\r\n\
    Message-ID: <chumon@example.jp>\r\n\
    Content-Type: text/plain; charset=UTF-8\r\n\
    Content-Transfer-Encoding: 8bit\r\n\
    \r\n\
    よろしくお願いします。\u{202e}\r\n";

/// A channel with a Polish name, made through the binary.
fn channel(setup: &Setup) {
    setup
        .run(&[
            "channel",
            "create",
            "--name",
            "Obsługa klienta",
            "--company",
            "Sklep Żółw",
            "--forwarding-address",
            ADDRESS,
        ])
        .ok();
}

/// Stores `raw` from `sender` as the milter would and lets the processor
/// file it.
fn receive(setup: &Setup, sender: &str, raw: &str) {
    setup
        .store
        .inbound()
        .enqueue({
            let base = inbound_message(ADDRESS, 1, raw);
            NewInboundMessage {
                spam_check: None,
                session: teaminbox_store::model::SmtpSession {
                    mail_from: sender.into(),
                    ..base.session
                },
                ..base
            }
        })
        .unwrap();
    let processor = Processor::new(setup.store.clone(), "teaminbox@inbox.example.com".into());
    assert!(processor.process_next("test-worker"));
}

/// Filing times fixed, so that tables can be compared exactly.
fn fix_times(setup: &Setup) {
    for sql in [
        "UPDATE conversations SET last_message_at = '2026-11-23 12:00:00', created_at = '2026-11-23 12:00:00'",
        "UPDATE messages SET created_at = '2026-11-23 12:00:01'",
    ] {
        setup.db.execute(sql);
    }
}

both_databases! {
    fn polish_mail_is_shown_as_written(db: TestDatabase) {
        let setup = Setup::new(db);
        channel(&setup);
        receive(&setup, "lukasz@example.pl", POLISH);
        fix_times(&setup);

        assert_eq!(
            setup.run(&["conversation", "list"]).ok(),
            "ID  LAST MESSAGE (UTC)   CHANNEL          STATUS  CONTACT            ASSIGNEE  TICKET  MESSAGES  SUBJECT\n\
             1   2026-11-23 12:00:00  Obsługa klienta  open    lukasz@example.pl  -         1       1         Zamówienie nr 42 ąćęłńóśżź\n"
        );
        let show = setup.run(&["conversation", "show", "1"]).ok().to_owned();
        assert!(
            show.starts_with(
                "Conversation 1: Zamówienie nr 42 ąćęłńóśżź\n\
                 Channel:       1 (Obsługa klienta)\n\
                 Status:        open\n\
                 Contact:       Łukasz Żółć <lukasz@example.pl> (contact 1)\n"
            ),
            "{show}"
        );
        assert!(
            show.contains(
                "From:         Łukasz Żółć <lukasz@example.pl>\n\
                 Subject:      Zamówienie nr 42 ąćęłńóśżź\n\
                 Sent:         2026-11-23 09:15:00 UTC\n\
                 Attachments:  faktura żółta.pdf (application/pdf, 9 bytes)\n\
                 \n\
                 Dzień dobry,\n\
                 proszę o fakturę.\n"
            ),
            "{show}"
        );
        assert!(!show.contains("\\u{"), "{show}");
        assert_eq!(
            setup.run(&["contact", "list"]).ok(),
            "ID  ADDRESS            NAME         OWNER  CONVERSATIONS\n\
             1   lukasz@example.pl  Łukasz Żółć  -      1\n"
        );
        assert_eq!(
            setup.run(&["ticket", "list"]).ok(),
            "ID  CONVERSATION  STATUS  PIPELINE  STAGE  PRIORITY  OWNER  NAME\n\
             1   1             open    -         -      -         -      Zamówienie nr 42 ąćęłńóśżź\n"
        );
        assert!(setup
            .run(&["ticket", "show", "1"])
            .ok()
            .contains("Name:          Zamówienie nr 42 ąćęłńóśżź\n"));
        assert!(setup
            .run(&["contact", "show", "lukasz@example.pl"])
            .ok()
            .contains("Name:           Łukasz Żółć\n"));

        // JSON carries the same text, and the channel's name beside its id.
        let list = setup.json(&["conversation", "list"]);
        assert_eq!(list[0]["subject"], "Zamówienie nr 42 ąćęłńóśżź");
        assert_eq!(list[0]["contact_name"], "Łukasz Żółć");
        assert_eq!(list[0]["channel_id"], 1);
        assert_eq!(list[0]["channel_name"], "Obsługa klienta");
        let shown = setup.json(&["conversation", "show", "1"]);
        assert_eq!(shown["messages"][0]["attachments"][0]["filename"], "faktura żółta.pdf");
    }
}

both_databases! {
    fn german_and_japanese_line_up_in_the_tables(db: TestDatabase) {
        let setup = Setup::new(db);
        channel(&setup);
        receive(&setup, "juergen@example.de", GERMAN);
        receive(&setup, "yamada@example.jp", JAPANESE);
        fix_times(&setup);

        // A Japanese character takes two columns of the terminal.
        assert_eq!(
            setup.run(&["contact", "list"]).ok(),
            "ID  ADDRESS             NAME          OWNER  CONVERSATIONS\n\
             1   juergen@example.de  Jürgen Größe  -      1\n\
             2   yamada@example.jp   山田太郎      -      1\n"
        );
        assert_eq!(
            setup.run(&["ticket", "list"]).ok(),
            "ID  CONVERSATION  STATUS  PIPELINE  STAGE  PRIORITY  OWNER  NAME\n\
             2   2             open    -         -      -         -      注文について\n\
             1   1             open    -         -      -         -      Größe ändern\n"
        );
        let show = setup.run(&["conversation", "show", "2"]).ok().to_owned();
        assert!(show.starts_with("Conversation 2: 注文について\n"), "{show}");
        assert!(show.contains("Contact:       山田太郎 <yamada@example.jp>"), "{show}");
        // The body's right-to-left override is shown, not obeyed.
        assert!(show.contains("\nよろしくお願いします。\\u{202e}\n"), "{show}");
        assert!(!show.contains('\u{202e}'), "{show}");
        assert!(setup
            .run(&["conversation", "show", "1"])
            .ok()
            .contains("\nBitte die Größe ändern.\n"));
    }
}

both_databases! {
    fn what_could_steer_the_terminal_or_disguise_text_is_escaped(db: TestDatabase) {
        let setup = Setup::new(db);
        channel(&setup);
        // The processor drops bidirectional controls from subjects, names
        // and file names; the admin escapes them all the same, whatever
        // the database holds.
        let subject = "Invoice \u{202e}fdp.exe\u{200b}";
        let inbound = setup
            .store
            .inbound()
            .enqueue(inbound_message(ADDRESS, 1, "Subject: seeded\r\n\r\nseeded\r\n"))
            .unwrap();
        setup
            .store
            .inbox()
            .apply(inbound, |tx| {
                let at = teaminbox_store::now();
                let (contact, _) =
                    tx.contact("mallory@example.com", Some("\u{1b}[31mYour bank\u{1b}[0m"), at)?;
                let id = tx.create_conversation(&NewConversation {
                    channel_id: 1,
                    contact_id: contact.id,
                    subject,
                    status: teaminbox_store::model::ConversationStatus::Open,
                    kind: teaminbox_store::model::ConversationKind::Normal,
                    assignee_user_id: None,
                    at,
                })?;
                tx.insert_message(
                    &NewMessage {
                        conversation_id: id,
                        channel_id: 1,
                        inbound_message_id: None,
                        direction: "in",
                        dedupe_key: "attack@example.com",
                        message_id_header: None,
                        from_address: "mallory@example.com",
                        from_name: Some("\u{1b}[31mYour bank\u{1b}[0m"),
                        forwarded_by: None,
                        subject,
                        text_body: "Pay \u{2066}now\u{2069}\u{1b}]0;title\u{7}\r\nor else\u{9b}",
                        html_body: None,
                        sent_at: None,
                        automated: false,
                        decisions: "[]",
                        user_id: None,
                        detail: None,
                    },
                    &[NewAttachment {
                        filename: "invoice\u{202e}gpj.exe",
                        content_type: "application/octet-stream",
                        content_id: None,
                        inline: false,
                        content: b"MZ",
                    }],
                )?;
                Ok(())
            })
            .unwrap();

        let mut printed = String::new();
        for args in [
            &["conversation", "list"][..],
            &["conversation", "show", "1"],
            &["contact", "list"],
            &["contact", "show", "mallory@example.com"],
        ] {
            let out = setup.run(args).ok().to_owned();
            for raw in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}', '\u{200b}', '\u{2066}', '\r'] {
                assert!(!out.contains(raw), "{args:?} printed {raw:?}: {out}");
            }
            printed.push_str(&out);
        }
        assert!(printed.contains("Invoice \\u{202e}fdp.exe\\u{200b}"), "{printed}");
        assert!(printed.contains("\\u{1b}[31mYour bank\\u{1b}[0m <mallory@example.com>"), "{printed}");
        assert!(printed.contains("Attachments:  invoice\\u{202e}gpj.exe (application/octet-stream, 2 bytes)"), "{printed}");
        assert!(printed.contains("\nPay \\u{2066}now\\u{2069}\\u{1b}]0;title\\u{7}\nor else\\u{9b}\n"), "{printed}");

        // JSON stays valid JSON and carries the text as stored.
        let shown = setup.json(&["conversation", "show", "1"]);
        assert_eq!(shown["subject"], subject);
        assert_eq!(shown["contact"]["name"], "\u{1b}[31mYour bank\u{1b}[0m");
        assert_eq!(shown["messages"][0]["attachments"][0]["filename"], "invoice\u{202e}gpj.exe");
        assert_ne!(setup.json(&["contact", "list"]), Value::Null);
    }
}
