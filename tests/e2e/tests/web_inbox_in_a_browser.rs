//! The web inbox in a real browser (headless chromium over WebDriver): a
//! message that came in through Postfix shows in the list; the agent signs
//! in through the form, reads it, sees the From line and signature the
//! customer will see, replies (the reply reaches the customer through
//! Postfix with that From, the signature and the thread's headers), closes
//! it, and finds it under "closed" and no longer under "open". A one-time
//! sign-in link signs in once, and asks for a password that then works.
//! New mail shows in an open list without a reload, and the keys work.

mod common;

use common::admin;
use common::browser::{self, find, open, sign_in, text, web_inbox, AGENT, PASSWORD};
use common::message;
use common::replies::{customer_sends, customer_writes};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, Locator};
use std::time::Duration;
use teaminbox_e2e::Postfix;
use teaminbox_store::settings::ChannelUpdate;
use teaminbox_testkit::both_databases;

/// The subjects the list at `url` shows.
async fn listed_subjects(client: &Client, url: &str) -> Vec<String> {
    open(client, url, "ul.filters").await;
    let mut subjects = Vec::new();
    for link in client
        .find_all(Locator::Css("table.conversations td a"))
        .await
        .unwrap()
    {
        subjects.push(link.text().await.unwrap());
    }
    subjects
}

/// The signature of the test channel's replies.
const SIGNATURE: &str = "<p>Best,<br>{{sender.full_name}}</p>";

both_databases! {
    fn an_agent_reads_replies_and_closes_a_conversation(db: TestDatabase) {
        let (mut milter, base, _config) = web_inbox(db);
        let postfix: Postfix = milter.postfix();
        milter.send_through(postfix.smtp_addr(), 1);
        let channel = milter.store.settings().channels().unwrap()[0].id;
        let signature = ChannelUpdate { signature_html: Some(Some(SIGNATURE.into())), ..Default::default() };
        milter.store.settings().update_channel(channel, &signature).unwrap();
        let raw = String::from_utf8(message("Printer on fire")).unwrap()
            .replace("<Printer on fire@example.org>", "<fire-1@example.org>");
        let id = customer_sends(&milter, &postfix, "alice@example.org", raw.as_bytes());
        let page = format!("/conversations/{id}");
        browser::run(|client| async move {
            // Signed out, the inbox sends the browser to the sign-in form.
            client.goto(&format!("{base}/")).await.unwrap();
            find(&client, "form.sign-in").await;
            sign_in(&client, &base, AGENT, PASSWORD).await;

            let row = text(&client, "table.conversations tbody tr").await;
            assert!(row.contains("Alice <alice@example.org>"), "{row}");
            assert!(row.contains("Printer on fire"), "{row}");
            find(&client, "table.conversations td a").await.click().await.unwrap();
            find(&client, "article.message").await;
            let url = client.current_url().await.unwrap();
            assert_eq!(url.path(), page);
            assert_eq!(text(&client, "h1").await, "Printer on fire");
            assert_eq!(text(&client, "article.message .from").await, "Alice <alice@example.org>");
            assert_eq!(text(&client, "article.message .subject").await, "Printer on fire");
            let body = text(&client, "article.message pre").await;
            assert!(body.contains("the printer is on fire."), "{body}");

            // What the customer will see, before sending.
            assert_eq!(text(&client, ".reply-from").await, "From: \"Jane Doe at Acme\" <jane@inbox.example.com>");
            assert_eq!(text(&client, ".reply-to").await, "To: Alice <alice@example.org>");
            assert_eq!(text(&client, ".signature-preview").await, "--\nBest,\nJane Doe");
            find(&client, "#reply-body").await.send_keys("Unplug it first.").await.unwrap();
            find(&client, "#send").await.click().await.unwrap();
            find(&client, "article.message.out").await;
            assert!(text(&client, "article.message.out .delivery").await.starts_with("Delivery: "));

            find(&client, "form[action$='/close'] button").await.click().await.unwrap();
            find(&client, "form[action$='/reopen'] button").await;
            assert!(text(&client, "p.facts").await.contains("closed"));

            let closed = listed_subjects(&client, &format!("{base}/?status=closed")).await;
            assert_eq!(closed, ["Printer on fire"]);
            let open_now = listed_subjects(&client, &format!("{base}/?status=open")).await;
            assert!(open_now.is_empty(), "{open_now:?}");
            assert_eq!(text(&client, "#rows > p").await, "No conversations here.");
        });

        let captured = postfix.wait_captured_full(1, Duration::from_secs(30));
        let reply = &captured[0];
        assert_eq!(reply.recipients(), ["alice@example.org"]);
        let sent = reply.text().replace("\r\n", "\n");
        assert!(sent.contains("From: \"Jane Doe at Acme\" <jane@inbox.example.com>"), "{sent}");
        assert!(sent.contains("Subject: Re: Printer on fire"), "{sent}");
        assert!(sent.contains("In-Reply-To: <fire-1@example.org>"), "{sent}");
        assert!(sent.contains("References: <fire-1@example.org>"), "{sent}");
        assert!(sent.contains("<p>Unplug it first.</p>\n<div class=\"signature\"><p>Best,<br>Jane Doe</p></div>"), "{sent}");
        // The text part, quoted-printable: the signature under "-- ".
        assert!(sent.contains("Unplug it first.\n\n--=20\nBest,\nJane Doe"), "{sent}");
        let status = milter.db.rows(&format!(
            "SELECT status AS a, CAST(NULL AS TEXT) AS b, CAST(NULL AS TEXT) AS c \
             FROM conversations WHERE id = {id}"
        ));
        assert_eq!(status, [(Some("closed".to_owned()), None, None)]);
    }
}

/// Opens the sign-in link and presses its button.
async fn use_link(client: &Client, link: &str) {
    open(client, link, "main").await;
    find(client, "main form button")
        .await
        .click()
        .await
        .unwrap();
}

both_databases! {
    fn a_sign_in_link_works_once(db: TestDatabase) {
        let (_milter, base, config) = web_inbox(db);
        let (code, out, err) = admin(&config, &["user", "sign-in-link", AGENT]);
        assert_eq!(code, 0, "{err}");
        let link = out.trim().to_owned();
        assert!(link.starts_with(&format!("{base}/sign-in/")), "{link}");
        browser::run(|client| async move {
            use_link(&client, &link).await;
            // A link is how a user gets a password: the page asks for one.
            find(&client, "form[action='/account/password']").await;
            assert_eq!(text(&client, "nav .who").await, AGENT);
            for field in ["password", "again"] {
                let input = find(&client, &format!("input[name='{field}']")).await;
                input.send_keys("a new password, long").await.unwrap();
            }
            find(&client, "form[action='/account/password'] button").await.click().await.unwrap();
            find(&client, "ul.filters").await;

            // A second browser (no cookie) with the same link is refused.
            client.delete_all_cookies().await.unwrap();
            use_link(&client, &link).await;
            find(&client, "p.problem").await;
            assert_eq!(text(&client, "p.problem").await, "This sign-in link is not valid.");
            client.goto(&format!("{base}/")).await.unwrap();
            find(&client, "form.sign-in").await;
            assert_eq!(client.current_url().await.unwrap().path(), "/sign-in");
            // The password set through the link signs in.
            sign_in(&client, &base, AGENT, "a new password, long").await;
            assert_eq!(text(&client, "nav .who").await, AGENT);
        });
    }
}

/// Presses and releases `key` wherever the focus is.
async fn press(client: &Client, key: char) {
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key });
    client.perform_actions(keys).await.unwrap();
}

/// What page script `expression` evaluates to.
async fn evaluate(client: &Client, expression: &str) -> serde_json::Value {
    client
        .execute(&format!("return {expression};"), vec![])
        .await
        .unwrap()
}

both_databases! {
    fn new_mail_shows_without_a_reload_and_the_keys_work(db: TestDatabase) {
        let (milter, base, _config) = web_inbox(db);
        let postfix: Postfix = milter.postfix();
        customer_writes(&milter, &postfix, "alice@example.org", "First");
        let (daemon, mta) = (&milter, &postfix);
        browser::run(|client| async move {
            sign_in(&client, &base, AGENT, PASSWORD).await;
            assert_eq!(listed_subjects(&client, &format!("{base}/")).await, ["First"]);
            // A mark that a reload would wipe out.
            evaluate(&client, "window.notReloaded = true").await;

            let second = customer_writes(daemon, mta, "bob@example.org", "Second");
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            loop {
                let rows = client.find_all(Locator::Css("#rows tbody tr")).await.unwrap();
                if rows.len() == 2 {
                    break;
                }
                assert!(std::time::Instant::now() < deadline, "the new conversation did not appear");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            assert_eq!(evaluate(&client, "window.notReloaded").await, true);
            assert_eq!(text(&client, "#rows tbody tr:first-child td a").await, "Second");
            assert_eq!(text(&client, "ul.filters li:first-child .count").await, "2");

            // j, j, k: the first row again; o opens it.
            for key in ['j', 'j', 'k'] {
                press(&client, key).await;
            }
            assert_eq!(evaluate(&client, "document.querySelector('tr.selected').dataset.id").await, second);
            press(&client, 'o').await;
            find(&client, "#reply-body").await;
            assert_eq!(text(&client, "h1").await, "Second");
            // r goes to the reply; e (outside the reply) closes.
            press(&client, 'r').await;
            assert_eq!(evaluate(&client, "document.activeElement.id").await, "reply-body");
            evaluate(&client, "document.activeElement.blur()").await;
            press(&client, 'e').await;
            find(&client, "#reopen").await;
        });
        let status = milter.db.rows(
            "SELECT status AS a, CAST(NULL AS TEXT) AS b, CAST(NULL AS TEXT) AS c \
             FROM conversations WHERE subject = 'Second'",
        );
        assert_eq!(status, [(Some("closed".to_owned()), None, None)]);
    }
}
