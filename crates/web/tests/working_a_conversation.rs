//! An agent works a conversation in the web inbox, through the real router
//! on SQLite and PostgreSQL: replies (From line and signature as the
//! contact sees them, the collision notice), assignment, spam, the
//! verdicts, attachments as downloads, a provider's confirmation code, and
//! the admin-only pages.

mod common;

use axum::http::{header, StatusCode};
use common::{form, one_conversation, Inbox};
use teaminbox_processor::Processor;
use teaminbox_store::both_databases;
use teaminbox_store::config::WebConfig;
use teaminbox_store::inbound::Verdicts;
use teaminbox_store::model::UserRole;
use teaminbox_store::settings::ChannelUpdate;
use teaminbox_store::testing::{channel, conversation, inbound_message};
use teaminbox_store::Store;

const SIGNATURE: &str = "<p>Kind regards,<br>{{sender.full_name}}</p>";

/// Files `raw` as the processor would, arriving at `address` with `verdicts`.
fn filed(store: &Store, address: &str, raw: &str, verdicts: Option<Verdicts>) -> i64 {
    let channel_id = store
        .settings()
        .channels()
        .unwrap()
        .into_iter()
        .find(|c| c.forwarding_address == address)
        .map_or_else(|| channel(store, address), |c| c.id);
    store
        .inbound()
        .enqueue(teaminbox_store::inbound::NewInboundMessage {
            verdicts,
            ..inbound_message(address, channel_id, raw)
        })
        .unwrap();
    let processor = Processor::new(store.clone(), "teaminbox@inbox.example.com".into());
    assert!(processor.process_next("test"));
    store.views().conversations(&Default::default()).unwrap()[0].id
}

fn passed(header_from: &str) -> Verdicts {
    Verdicts {
        spf: "pass".into(),
        dkim: "pass".into(),
        arc: "none".into(),
        dmarc: "pass".into(),
        spam: false,
        header_from: Some(header_from.into()),
        arc_trusted: false,
    }
}

both_databases! {
    async fn a_reply_shows_and_sends_the_from_line_and_signature(db: TestDatabase) {
        let inbox = Inbox::new(&db, &WebConfig::default());
        let id = one_conversation(&inbox.store, None);
        let channel_id = inbox.store.views().conversation(id).unwrap().channel_id;
        inbox.store.settings().update_channel(channel_id, &ChannelUpdate {
            signature_html: Some(Some(SIGNATURE.into())),
            ..ChannelUpdate::default()
        }).unwrap();
        let (alice, csrf) = inbox.signed_in("alice@example.com").await;

        let page = inbox.get(&format!("/conversations/{id}"), Some(&alice)).await;
        assert_eq!(page.status, StatusCode::OK);
        let shown = page.text();
        assert!(shown.contains("From: \"Test User at Acme\" <alice@inbox.example.com>"), "{shown}");
        assert!(shown.contains("To: customer@example.org"), "{shown}");
        assert!(shown.contains("Kind regards,<br>Test User"), "{shown}");

        let sent = inbox.post(&format!("/conversations/{id}/reply"), Some(&alice), &form(&[
            ("csrf", &csrf), ("seen", &page.field("seen")), ("body", "Unplug it.\nThen water."),
        ])).await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
        assert_eq!(sent.location(), format!("/conversations/{id}#message-sent"));

        let detail = inbox.store.views().conversation(id).unwrap();
        let reply = detail.messages.last().unwrap();
        assert_eq!(reply.direction, "out");
        assert_eq!(reply.from, "alice@inbox.example.com");
        assert_eq!(reply.from_name.as_deref(), Some("Test User at Acme"));
        assert_eq!(reply.subject, "Re: Printer on fire");
        assert_eq!(reply.text, "Unplug it.\nThen water.\n\n-- \nKind regards,\nTest User\n");
        assert_eq!(reply.delivery.as_ref().unwrap().state, "pending");
        assert_eq!(inbox.store.outbound().counts_by_state().unwrap(), vec![("pending".to_owned(), 1)]);

        let after = inbox.get(&format!("/conversations/{id}"), Some(&alice)).await;
        assert!(after.text().contains("Delivery: pending"), "{}", after.body);
    }
}

both_databases! {
    async fn a_second_reply_gets_a_collision_notice_and_can_still_be_sent(db: TestDatabase) {
        let inbox = Inbox::new(&db, &WebConfig::default());
        let id = one_conversation(&inbox.store, None);
        let (alice, alice_csrf) = inbox.signed_in("alice@example.com").await;
        let (bob, bob_csrf) = inbox.signed_in("bob@example.com").await;
        let url = format!("/conversations/{id}");
        let seen = inbox.get(&url, Some(&bob)).await.field("seen");

        let first = inbox.post(&format!("{url}/reply"), Some(&alice), &form(&[
            ("csrf", &alice_csrf), ("seen", &seen), ("body", "Alice's answer"),
        ])).await;
        assert_eq!(first.status, StatusCode::SEE_OTHER);
        let reply_path = format!("{url}/reply");
        let bobs = |seen: String| {
            let body = form(&[("csrf", &bob_csrf), ("seen", &seen), ("body", "Bob's answer")]);
            let (inbox, bob, path) = (&inbox, &bob, &reply_path);
            async move { inbox.post(path, Some(bob), &body).await }
        };
        let collided = bobs(seen.clone()).await;
        assert_eq!(collided.status, StatusCode::CONFLICT);
        let shown = collided.text();
        assert!(shown.contains("Test User at Acme <alice@inbox.example.com> sent a reply at"), "{shown}");
        assert!(shown.contains("your reply is not sent yet"), "{shown}");
        assert!(shown.contains(">Bob's answer</textarea>"), "{shown}");
        assert_eq!(inbox.store.views().conversation(id).unwrap().messages.len(), 2);

        let newer = collided.field("seen");
        assert_ne!(newer, seen);
        assert_eq!(bobs(newer).await.status, StatusCode::SEE_OTHER);
        let texts: Vec<String> = inbox.store.views().conversation(id).unwrap().messages
            .into_iter().map(|m| m.text).collect();
        assert_eq!(texts, ["Text of Printer on fire", "Alice's answer", "Bob's answer"]);
    }
}

both_databases! {
    async fn an_empty_reply_is_refused_and_a_forged_one_is_forbidden(db: TestDatabase) {
        let inbox = Inbox::new(&db, &WebConfig::default());
        let id = one_conversation(&inbox.store, None);
        let (alice, csrf) = inbox.signed_in("alice@example.com").await;
        let seen = inbox.get(&format!("/conversations/{id}"), Some(&alice)).await.field("seen");
        let path = format!("/conversations/{id}/reply");

        let empty = inbox.post(&path, Some(&alice), &form(&[("csrf", &csrf), ("seen", &seen), ("body", " \n ")])).await;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(empty.text().contains("The reply is empty."), "{}", empty.body);
        let forged = inbox.post(&path, Some(&alice), &form(&[("seen", &seen), ("body", "hi")])).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let unknown = inbox.post("/conversations/999/reply", Some(&alice), &form(&[("csrf", &csrf), ("seen", "0"), ("body", "hi")])).await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        assert_eq!(inbox.store.views().conversation(id).unwrap().messages.len(), 1);
        assert!(inbox.store.outbound().counts_by_state().unwrap().is_empty());
    }
}

both_databases! {
    async fn assign_unassign_spam_and_not_spam(db: TestDatabase) {
        let inbox = Inbox::new(&db, &WebConfig::default());
        let id = one_conversation(&inbox.store, None);
        let (alice, csrf) = inbox.signed_in("alice@example.com").await;
        let act = |action: &'static str, assignee: &'static str| {
            let body = form(&[("csrf", &csrf), ("assignee", assignee)]);
            let (inbox, alice) = (&inbox, &alice);
            async move { inbox.post(&format!("/conversations/{id}/{action}"), Some(alice), &body).await }
        };
        let assignee = || inbox.store.views().conversation(id).unwrap().assignee.map(|a| a.email);

        assert_eq!(act("assign", "Bob@Example.com").await.status, StatusCode::SEE_OTHER);
        assert_eq!(assignee().as_deref(), Some("bob@example.com"));
        let page = inbox.get(&format!("/conversations/{id}"), Some(&alice)).await;
        assert!(page.body.contains("<option value=\"bob@example.com\" selected>"), "{}", page.body);
        assert_eq!(act("assign", "nobody@example.com").await.status, StatusCode::NOT_FOUND);
        assert_eq!(assignee().as_deref(), Some("bob@example.com"));
        assert_eq!(act("assign", "").await.status, StatusCode::SEE_OTHER);
        assert_eq!(assignee(), None);

        assert_eq!(act("spam", "").await.status, StatusCode::SEE_OTHER);
        assert_eq!(inbox.status_of(id), "spam");
        let page = inbox.get(&format!("/conversations/{id}"), Some(&alice)).await;
        assert!(page.body.contains("<span class=\"badge spam\">Spam</span>"));
        assert!(page.body.contains("id=\"not-spam\""));
        assert_eq!(act("not-spam", "").await.status, StatusCode::SEE_OTHER);
        assert_eq!(inbox.status_of(id), "open");
        let lessons: Vec<String> = inbox.store.spam_lessons().list().unwrap().into_iter().map(|l| l.class).collect();
        // The test conversation's message has no queue row to learn from.
        assert!(lessons.is_empty(), "{lessons:?}");
    }
}

both_databases! {
    async fn verdicts_show_and_attachments_only_download(db: TestDatabase) {
        let inbox = Inbox::new(&db, &WebConfig::default());
        let raw = "From: Carol <carol@example.org>\r\nTo: support@inbox.example.com\r\n\
            Subject: Invoice\r\nMessage-ID: <inv-1@example.org>\r\nMIME-Version: 1.0\r\n\
            Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
            --b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n\
            --b\r\nContent-Type: text/html\r\n\
            Content-Disposition: attachment; filename=\"../../etc/\\\"x\\\";y=z.html\"\r\n\r\n\
            <script>alert(1)</script>\r\n--b--\r\n";
        let id = filed(&inbox.store, "support@inbox.example.com", raw, Some(passed("example.org")));
        let (alice, _) = inbox.signed_in("alice@example.com").await;

        let page = inbox.get(&format!("/conversations/{id}"), Some(&alice)).await;
        assert!(page.text().contains("SPF pass · DKIM pass · ARC none · DMARC pass"), "{}", page.body);
        let file = inbox.store.views().conversation(id).unwrap().messages[0].attachments[0].clone();
        assert!(page.body.contains(&format!("href=\"/attachments/{}\" download", file.id)));

        let download = inbox.get(&format!("/attachments/{}", file.id), Some(&alice)).await;
        assert_eq!(download.status, StatusCode::OK);
        let disposition = download.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
        assert!(disposition.starts_with("attachment; filename=\""), "{disposition}");
        let ascii = disposition.split('"').nth(1).unwrap();
        assert!(!ascii.contains('/') && !ascii.contains(';') && !ascii.contains('\\'), "{disposition}");
        assert_eq!(disposition.matches(';').count(), 2, "{disposition}");
        assert_eq!(download.headers[header::CONTENT_SECURITY_POLICY], "sandbox; default-src 'none'");
        assert_eq!(download.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(download.body.trim_end(), "<script>alert(1)</script>");

        assert_eq!(inbox.get("/attachments/999", Some(&alice)).await.status, StatusCode::NOT_FOUND);
        let signed_out = inbox.get(&format!("/attachments/{}", file.id), None).await;
        assert_eq!(signed_out.status, StatusCode::SEE_OTHER);
    }
}

both_databases! {
    async fn a_providers_confirmation_shows_its_code_and_link(db: TestDatabase) {
        let inbox = Inbox::new(&db, &WebConfig::default());
        let raw = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../milter/tests/corpus/gmail_forwarding_confirmation.eml"
        )).unwrap();
        let id = filed(&inbox.store, "support-k3x9q@inbox.example.com", &raw, Some(passed("google.com")));
        let (alice, _) = inbox.signed_in("alice@example.com").await;

        let page = inbox.get(&format!("/conversations/{id}"), Some(&alice)).await;
        assert!(page.body.contains("<p class=\"code\">123456789</p>"), "{}", page.body);
        assert!(page.body.contains("<a href=\"https://mail-settings.google.com/mail/vf-"), "{}", page.body);
    }
}

both_databases! {
    async fn admin_pages_are_for_admins_only(db: TestDatabase) {
        let inbox = Inbox::new(&db, &WebConfig::default());
        let (alice, _) = inbox.signed_in("alice@example.com").await;
        let agent = inbox.get("/admin/users", Some(&alice)).await;
        assert_eq!(agent.status, StatusCode::FORBIDDEN);
        assert!(!inbox.get("/", Some(&alice)).await.body.contains("href=\"/admin/users\""));

        inbox.store.accounts().set_role("bob@example.com", UserRole::Admin).unwrap();
        let (bob, _) = inbox.signed_in("bob@example.com").await;
        let admin = inbox.get("/admin/users", Some(&bob)).await;
        assert_eq!(admin.status, StatusCode::OK);
        assert!(admin.body.contains("<td>alice@example.com</td>") && admin.body.contains("<option value=\"admin\" selected>"), "{}", admin.body);
        assert!(inbox.get("/", Some(&bob)).await.body.contains("href=\"/admin/users\""));
        assert_eq!(inbox.get("/admin/users", None).await.status, StatusCode::SEE_OTHER);
    }
}

both_databases! {
    async fn inline_images_show_and_remote_ones_only_on_request(db: TestDatabase) {
        let inbox = Inbox::new(&db, &WebConfig::default());
        let raw = "From: Carol <carol@example.org>\r\nTo: support@inbox.example.com\r\n\
            Subject: Logo\r\nMessage-ID: <logo-1@example.org>\r\nMIME-Version: 1.0\r\n\
            Content-Type: multipart/related; boundary=\"b\"\r\n\r\n\
            --b\r\nContent-Type: text/html\r\n\r\n\
            <p>Our logo<img src=\"cid:logo@example.org\"><img src=\"https://tracker.example/p.gif\"></p>\r\n\
            --b\r\nContent-Type: image/png\r\nContent-ID: <logo@example.org>\r\n\
            Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b--\r\n";
        let id = filed(&inbox.store, "support@inbox.example.com", raw, Some(passed("example.org")));
        let message = inbox.store.views().conversation(id).unwrap().messages[0].id;
        let (alice, _) = inbox.signed_in("alice@example.com").await;

        let frame = inbox.get(&format!("/messages/{message}/html"), Some(&alice)).await;
        let inline = format!("/messages/{message}/inline/logo%40example.org");
        assert!(frame.body.contains(&format!("<img src=\"{inline}\">")), "{}", frame.body);
        assert!(!frame.body.contains("tracker.example"), "{}", frame.body);
        assert!(!frame.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("https:"));

        let image = inbox.get(&inline, Some(&alice)).await;
        assert_eq!(image.status, StatusCode::OK);
        assert_eq!(image.headers[header::CONTENT_TYPE], "image/png");
        assert_eq!(image.bytes, b"\x89PNG\r\n\x1a\n");
        let missing = format!("/messages/{message}/inline/other%40example.org");
        assert_eq!(inbox.get(&missing, Some(&alice)).await.status, StatusCode::NOT_FOUND);
        assert_eq!(inbox.get(&inline, None).await.status, StatusCode::SEE_OTHER);

        let page = inbox.get(&format!("/conversations/{id}"), Some(&alice)).await;
        assert!(page.body.contains(&format!("<a href=\"/messages/{message}/html?images=remote\" target=\"message-{message}\">")), "{}", page.body);
        let remote = inbox.get(&format!("/messages/{message}/html?images=remote"), Some(&alice)).await;
        assert!(remote.body.contains("<img src=\"https://tracker.example/p.gif\">"), "{}", remote.body);
        assert!(remote.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("img-src 'self' data: https: http:"));
    }
}

both_databases! {
    async fn the_ticket_is_edited_with_the_admins_rules(db: TestDatabase) {
        let inbox = Inbox::new(&db, &WebConfig::default());
        let raw = "From: Carol <carol@example.org>\r\nTo: support@inbox.example.com\r\n\
            Subject: Broken printer\r\nMessage-ID: <t-1@example.org>\r\n\r\nIt broke.\r\n";
        let id = filed(&inbox.store, "support@inbox.example.com", raw, Some(passed("example.org")));
        let ticket = inbox.store.views().conversation(id).unwrap().ticket.expect("a ticket").id;
        let (alice, csrf) = inbox.signed_in("alice@example.com").await;
        let page = inbox.get(&format!("/conversations/{id}"), Some(&alice)).await;
        assert!(page.body.contains(&format!("<summary>Ticket {ticket}: Broken printer</summary>")), "{}", page.body);
        let save = |name: &'static str, stage: &'static str| {
            let body = form(&[("csrf", &csrf), ("name", name), ("pipeline", "Support"), ("stage", stage), ("priority", "")]);
            let (inbox, alice) = (&inbox, &alice);
            async move { inbox.post(&format!("/conversations/{id}/ticket"), Some(alice), &body).await }
        };

        assert_eq!(save("Printer repair", "Waiting on contact").await.status, StatusCode::SEE_OTHER);
        let saved = inbox.store.views().ticket(ticket).unwrap();
        assert_eq!(
            (saved.name.as_str(), saved.pipeline.as_deref(), saved.stage.as_deref(), saved.priority.as_deref()),
            ("Printer repair", Some("Support"), Some("Waiting on contact"), None)
        );
        let page = inbox.get(&format!("/conversations/{id}"), Some(&alice)).await;
        assert!(page.body.contains(&format!("<summary>Ticket {ticket}: Printer repair · Support · Waiting on contact</summary>")), "{}", page.body);

        let empty = save(" ", "New").await;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(empty.body, "a ticket's name cannot be empty");
        let two_lines = save("Printer", "two\nlines").await;
        assert_eq!(two_lines.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(inbox.store.views().ticket(ticket).unwrap(), saved);
        let other = channel(&inbox.store, "sales@inbox.example.com");
        let none = conversation(&inbox.store, other, "dave@example.org", "No ticket", None, chrono::Utc::now().naive_utc());
        let body = form(&[("csrf", &csrf), ("name", "x")]);
        assert_eq!(inbox.post(&format!("/conversations/{none}/ticket"), Some(&alice), &body).await.status, StatusCode::NOT_FOUND);
    }
}
