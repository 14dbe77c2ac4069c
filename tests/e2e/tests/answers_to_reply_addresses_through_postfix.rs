//! Through a real Postfix: a reply from a channel with the default From
//! address comes From the agent's USERNAME@ the hosted domain, and the
//! customer's answer to that address comes back in: with thread headers
//! into the same conversation; without, into a new conversation of the
//! channel through which the agent last wrote to that customer. And a
//! subaddress (support+billing@) is accepted, filed into its channel, and
//! its detail shown.

mod common;

use common::{
    admin, message,
    replies::{customer_writes, setup, wait_until},
    Milter, HOSTED,
};
use std::time::Duration;
use teaminbox_e2e::{send_message, Postfix};
use teaminbox_testkit::both_databases;

/// Sends `raw` (From `from`) to `to` and expects 250.
fn send(postfix: &Postfix, from: &str, to: &str, raw: &str) {
    let t = send_message(postfix.smtp_addr(), from, &[to], raw.as_bytes());
    assert_eq!(t.outcome().code, 250, "{:?}", t.all);
}

/// A message from `from` with this subject and Message-ID `<SUBJECT@example.org>`,
/// and `headers` after the subject.
fn mail(from: &str, subject: &str, headers: &str) -> String {
    String::from_utf8(message(subject))
        .unwrap()
        .replace("alice@example.org", from)
        .replace(
            &format!("Subject: {subject}"),
            &format!("Subject: {subject}{headers}"),
        )
}

/// One text column of the first row of a query.
fn value(milter: &Milter, sql: &str) -> Option<String> {
    milter
        .db
        .rows(&format!(
            "SELECT CAST(({sql}) AS TEXT) AS a, CAST(NULL AS TEXT) AS b, CAST(NULL AS TEXT) AS c"
        ))
        .into_iter()
        .next()
        .and_then(|r| r.0)
}

/// Jane replies in `conversation`; returns the reply as the customer got it.
fn jane_replies(
    config: &std::path::Path,
    postfix: &Postfix,
    conversation: &str,
    captured: usize,
) -> String {
    let (code, out, err) = admin(
        config,
        &[
            "conversation",
            "reply",
            conversation,
            "--as",
            "jane@acme.example",
            "--body",
            "We are on it.",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    postfix.wait_captured_full(captured, Duration::from_secs(30))[captured - 1].text()
}

fn header<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

both_databases! {
    fn the_answer_to_a_replys_from_address_comes_back_in(db: TestDatabase) {
        let (milter, postfix, config) = setup(db);
        let jane = format!("jane@{HOSTED}");
        // Before Jane has replied, her address is not live.
        let t = send_message(postfix.smtp_addr(), "carol@example.org", &[&jane], mail("carol@example.org", "early", "").as_bytes());
        assert_eq!((t.rcpts[0].code, t.rcpts[0].enhanced_code()), (550, Some("5.1.1")), "{:?}", t.all);

        let carol = customer_writes(&milter, &postfix, "carol@example.org", "printer");
        let reply = jane_replies(&config, &postfix, &carol, 1);
        assert!(header(&reply, "From: ").ends_with(&format!("<{jane}>")), "{reply}");
        let reply_id = header(&reply, "Message-ID: ").trim_matches(['<', '>']).to_owned();

        // Jane then answers dave in the Sales channel: her latest reply.
        let sales = milter.channel(&format!("sales@{HOSTED}"));
        send(&postfix, "dave@example.org", &format!("sales@{HOSTED}"), &mail("dave@example.org", "quote", ""));
        wait_until("dave's message is filed", || milter.store.inbound().counts().unwrap().done == 2);
        let dave = value(&milter, "SELECT conversation_id FROM messages WHERE message_id_header = 'quote@example.org'").unwrap();
        jane_replies(&config, &postfix, &dave, 2);

        // Carol answers Jane's reply, to its From address: same conversation.
        send(&postfix, "carol@example.org", &jane, &mail("carol@example.org", "thanks", &format!("\r\nIn-Reply-To: <{reply_id}>")));
        wait_until("the answer is filed", || milter.store.inbound().counts().unwrap().done == 3);
        assert_eq!(value(&milter, "SELECT conversation_id FROM messages WHERE message_id_header = 'thanks@example.org'"), Some(carol.clone()));
        let (_, shown, _) = admin(&config, &["conversation", "show", &carol]);
        assert!(shown.contains(&format!("{jane} is the reply address of jane@acme.example, and the message answers conversation {carol}")), "{shown}");

        // Carol writes to Jane afresh: a new conversation with Carol, in
        // Support (where Jane wrote to her), not Sales (Jane's latest).
        send(&postfix, "carol@example.org", &jane, &mail("carol@example.org", "toner", ""));
        wait_until("the new message is filed", || milter.store.inbound().counts().unwrap().done == 4);
        let toner = value(&milter, "SELECT conversation_id FROM messages WHERE message_id_header = 'toner@example.org'").unwrap();
        assert_ne!(toner, carol);
        assert_ne!(toner, dave);
        assert_eq!(value(&milter, &format!("SELECT channel_id FROM conversations WHERE id = {toner}")), Some("1".into()));
        assert_ne!(sales, 1);
        assert_eq!(
            value(&milter, &format!("SELECT ct.address FROM conversations c JOIN contacts ct ON ct.id = c.contact_id WHERE c.id = {toner}")),
            Some("carol@example.org".into())
        );
        let (_, shown, _) = admin(&config, &["conversation", "show", &toner]);
        assert!(shown.contains("the channel through which jane@acme.example last wrote to carol@example.org"), "{shown}");
    }
}

both_databases! {
    fn a_subaddress_is_accepted_filed_and_shown(db: TestDatabase) {
        let (milter, postfix, config) = setup(db);
        let billing = format!("support+billing@{HOSTED}");
        send(&postfix, "carol@example.org", &billing, &mail("carol@example.org", "invoice", ""));
        let t = send_message(postfix.smtp_addr(), "carol@example.org", &[&format!("nobody+billing@{HOSTED}")], mail("carol@example.org", "x", "").as_bytes());
        assert_eq!((t.rcpts[0].code, t.rcpts[0].enhanced_code()), (550, Some("5.1.1")), "{:?}", t.all);
        wait_until("the message is filed", || milter.store.inbound().counts().unwrap().done == 1);
        let (code, shown, err) = admin(&config, &["conversation", "show", "1"]);
        assert_eq!(code, 0, "{err}");
        assert!(shown.lines().any(|l| l.starts_with("Subaddress:") && l.ends_with(" billing")), "{shown}");
        assert!(shown.lines().any(|l| l.starts_with("Channel:") && l.ends_with(" 1 (Support)")), "{shown}");
        let (_, json, _) = admin(&config, &["conversation", "show", "1", "--json"]);
        assert!(json.contains(r#""detail": "billing""#), "{json}");
    }
}
