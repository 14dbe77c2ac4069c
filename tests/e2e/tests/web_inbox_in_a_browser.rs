//! The web inbox in a real browser (headless chromium over WebDriver): a
//! message that came in through Postfix shows in the list; the agent signs
//! in through the form, reads it, closes it, and finds it under "closed"
//! and no longer under "open". A one-time sign-in link signs in once.

mod common;

use common::admin;
use common::browser::{self, find, open, sign_in, text, web_inbox, AGENT, PASSWORD};
use common::replies::customer_writes;
use fantoccini::{Client, Locator};
use teaminbox_e2e::Postfix;
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

both_databases! {
    fn an_agent_reads_and_closes_a_conversation(db: TestDatabase) {
        let (milter, base, _config) = web_inbox(db);
        let postfix: Postfix = milter.postfix();
        let id = customer_writes(&milter, &postfix, "alice@example.org", "Printer on fire");
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

            find(&client, "form[action$='/close'] button").await.click().await.unwrap();
            find(&client, "form[action$='/reopen'] button").await;
            assert!(text(&client, "p.facts").await.contains("closed"));

            let closed = listed_subjects(&client, &format!("{base}/?status=closed")).await;
            assert_eq!(closed, ["Printer on fire"]);
            let open_now = listed_subjects(&client, &format!("{base}/?status=open")).await;
            assert!(open_now.is_empty(), "{open_now:?}");
            assert_eq!(text(&client, "main > p").await, "No conversations here.");
        });
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
            find(&client, "ul.filters").await;
            assert_eq!(text(&client, "nav .who").await, AGENT);

            // A second browser (no cookie) with the same link is refused.
            client.delete_all_cookies().await.unwrap();
            use_link(&client, &link).await;
            find(&client, "p.problem").await;
            assert_eq!(text(&client, "p.problem").await, "This sign-in link is not valid.");
            client.goto(&format!("{base}/")).await.unwrap();
            find(&client, "form.sign-in").await;
            assert_eq!(client.current_url().await.unwrap().path(), "/sign-in");
        });
    }
}
