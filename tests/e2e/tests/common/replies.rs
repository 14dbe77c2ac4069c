//! A daemon that sends its replies through a real Postfix (relaying them
//! to an smtp-sink), one agent, and customers who write in.

use super::{admin, message, Milter, HOSTED};
use std::time::{Duration, Instant};
use teaminbox_e2e::{send_message, Postfix, PostfixOptions};
use teaminbox_outbound::dkim::generate_key;
use teaminbox_testkit::{dns::TestDns, TestDatabase};

pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The daemon with a DKIM key for the hosted domain published in DNS, a
/// Postfix whose smtpd refuses two test recipients, and one agent.
pub fn setup(db: TestDatabase) -> (Milter, Postfix, std::path::PathBuf) {
    let key = generate_key().unwrap();
    let dns = TestDns::builder()
        .txt(&format!("teaminbox._domainkey.{HOSTED}"), &key.dns_txt)
        .start();
    let mut milter = Milter::start_full(db, dns, 1);
    milter.channel(&format!("support@{HOSTED}"));
    let postfix = Postfix::start(PostfixOptions {
        milter: Some(format!("unix:{}", milter.socket().display())),
        socket_dir: Some(milter.socket().parent().unwrap().to_owned()),
        hosted_domains: vec![HOSTED.into()],
        extra_main_cf: vec![
            "smtpd_recipient_restrictions = check_recipient_access inline:{ { gone@example.net = 550 5.1.1 no such user }, { later@example.net = 450 4.2.0 try again later } }, permit_mynetworks, reject_unauth_destination".into(),
        ],
        ..Default::default()
    });
    milter.send_through(postfix.smtp_addr(), 1);
    milter
        .store
        .outbound()
        .add_sending_domain(HOSTED, "teaminbox", &key.private_key_pem, &key.dns_txt)
        .unwrap();
    let config = milter.admin_config();
    let (code, _, err) = admin(
        &config,
        &[
            "user",
            "add",
            "jane@acme.example",
            "--first-name",
            "Jane",
            "--last-name",
            "Doe",
        ],
    );
    assert_eq!(code, 0, "{err}");
    (milter, postfix, config)
}

/// A customer writes in; returns the conversation id.
pub fn customer_writes(milter: &Milter, postfix: &Postfix, from: &str, subject: &str) -> String {
    let raw = String::from_utf8(message(subject))
        .unwrap()
        .replace("alice@example.org", from);
    customer_sends(milter, postfix, from, raw.as_bytes())
}

/// A customer sends `raw` (from `from`, through Postfix); returns the id of
/// the conversation the processor files it into.
pub fn customer_sends(milter: &Milter, postfix: &Postfix, from: &str, raw: &[u8]) -> String {
    let t = send_message(
        postfix.smtp_addr(),
        from,
        &[&format!("support@{HOSTED}")],
        raw,
    );
    assert_eq!(t.outcome().code, 250, "{:?}", t.all);
    let mut id = None;
    wait_until("the processor files the message", || {
        id = milter
            .db
            .rows(&format!(
                "SELECT CAST(c.id AS TEXT) AS a, CAST(NULL AS TEXT) AS b, CAST(NULL AS TEXT) AS c FROM conversations c \
                 JOIN contacts ct ON ct.id = c.contact_id WHERE ct.address = '{from}'"
            ))
            .into_iter()
            .next()
            .and_then(|r| r.0);
        id.is_some()
    });
    id.unwrap()
}

pub fn outbound_state(milter: &Milter) -> Vec<(Option<String>, Option<String>, Option<String>)> {
    milter.db.rows(
        "SELECT to_address AS a, state AS b, last_error AS c FROM outbound_messages ORDER BY id",
    )
}
