//! Through a real Postfix and the whole daemon, on mail signed by dkimpy:
//! an outsider whose own domain passes SPF, DKIM and DMARC cannot make the
//! inbox file his mail under someone else's name. A list rewrite is
//! believed only from one of the channel's sources; thread headers join a
//! conversation (and reopen it) only for its participants.

mod common;

use common::{admin, Milter, HOSTED};
use std::{
    sync::OnceLock,
    time::{Duration, Instant},
};
use teaminbox_e2e::{send_message, Postfix};
use teaminbox_testkit::both_databases;
use teaminbox_testkit::{
    dkim::{dkim_sign, senders, DkimKey},
    dns::TestDns,
};

/// attacker.example and customer.example, each with a DKIM key; their
/// SPF allows Postfix (127.0.0.1), their DMARC is `p=reject`.
fn keys() -> &'static [DkimKey; 2] {
    static KEYS: OnceLock<[DkimKey; 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        [
            DkimKey::generate("attacker.example", "s1"),
            DkimKey::generate("customer.example", "s1"),
        ]
    })
}

fn attacker() -> &'static DkimKey {
    &keys()[0]
}

fn customer() -> &'static DkimKey {
    &keys()[1]
}

fn to() -> String {
    format!("support@{HOSTED}")
}

/// The whole daemon with one processor worker, a channel, and Postfix.
fn start(db: teaminbox_testkit::TestDatabase) -> (Milter, Postfix, i64) {
    let mut dns = TestDns::builder();
    for key in keys() {
        dns = dns
            .txt(&key.domain, "v=spf1 ip4:127.0.0.1 -all")
            .txt(&format!("_dmarc.{}", key.domain), "v=DMARC1; p=reject")
            .txt(&key.record_name(), &key.dns_txt);
    }
    // Google signs its forwarding confirmations; p=none lets an unsigned
    // one through, unauthenticated.
    let google = &senders().google;
    dns = dns
        .txt(&google.record_name(), &google.dns_txt)
        .txt("_dmarc.google.com", "v=DMARC1; p=none");
    let milter = Milter::start_full(db, dns.start(), 1);
    let channel = milter.channel(&to());
    let postfix = milter.postfix();
    (milter, postfix, channel)
}

/// A message signed by `key`, sent with the From address as envelope
/// sender; the client must see 250, and the processor must file it.
fn send(
    milter: &Milter,
    postfix: &Postfix,
    key: &DkimKey,
    from: &str,
    headers: &str,
    message_id: &str,
) {
    let raw = format!(
        "From: {from}\r\nTo: {to}\r\nSubject: Order 1\r\nMessage-ID: <{message_id}>\r\n\
         Date: Mon, 30 Nov 2026 10:00:00 +0000\r\n{headers}\r\nPlease see to it.\r\n",
        to = to()
    );
    let envelope = from
        .rsplit('<')
        .next()
        .unwrap()
        .trim_end_matches('>')
        .to_owned();
    let done = milter.store.inbound().counts().unwrap().done;
    let t = send_message(
        postfix.smtp_addr(),
        &envelope,
        &[&to()],
        &dkim_sign(raw.as_bytes(), key),
    );
    assert_eq!(t.outcome().code, 250, "{:?}", t.all);
    let deadline = Instant::now() + Duration::from_secs(20);
    while milter.store.inbound().counts().unwrap().done <= done {
        assert!(
            Instant::now() < deadline,
            "{:?}",
            milter.store.inbound().counts()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// (conversation id, contact address, status) of each conversation.
fn conversations(milter: &Milter) -> Vec<(String, String, String)> {
    milter
        .db
        .rows(
            "SELECT CAST(c.id AS TEXT) AS a, ct.address AS b, c.status AS c FROM conversations c \
             JOIN contacts ct ON ct.id = c.contact_id ORDER BY c.id",
        )
        .into_iter()
        .map(|(a, b, c)| (a.unwrap(), b.unwrap(), c.unwrap()))
        .collect()
}

/// What `conversation show ID` prints, decisions included.
fn shown(milter: &Milter, id: &str) -> String {
    let (code, out, err) = admin(&milter.admin_config(), &["conversation", "show", id]);
    assert_eq!(code, 0, "{err}");
    out
}

/// A Google-Groups-style rewrite naming someone else, from a domain
/// that passes every check.
const REWRITE: &str = "X-Original-From: The CEO <ceo@victim.example>\r\n\
                       Reply-To: The CEO <ceo@victim.example>\r\n\
                       List-ID: <group.attacker.example>\r\n\
                       X-Google-Group-Id: 424242\r\n";
const GROUP: &str = "\"'The CEO' via Group\" <group@attacker.example>";

both_databases! {
    fn a_list_rewrite_is_believed_only_from_a_source(db: TestDatabase) {
        let (milter, postfix, channel) = start(db);
        send(&milter, &postfix, attacker(), GROUP, REWRITE, "wire-1@attacker.example");
        let found = conversations(&milter);
        assert_eq!(found[0].1, "group@attacker.example", "{found:?}");
        let command = format!("`teaminbox-admin channel update {channel} --source group@attacker.example`");
        let trail = shown(&milter, &found[0].0);
        assert!(trail.contains("the list rewrite naming ceo@victim.example"), "{trail}");
        assert!(trail.contains(&format!("group@attacker.example is not a source of channel {channel}")), "{trail}");
        assert!(trail.contains(&command), "{trail}");

        // The admin trusts the group: its next rewrite names the author.
        let (code, out, err) = admin(&milter.admin_config(), &["channel", "update", &channel.to_string(), "--source", "Group@Attacker.example"]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("group@attacker.example (added by the admin)"), "{out}");
        send(&milter, &postfix, attacker(), GROUP, REWRITE, "wire-2@attacker.example");
        let found = conversations(&milter);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[1].1, "ceo@victim.example", "{found:?}");
        let forwarded_by = milter.db.rows(
            "SELECT forwarded_by AS a, CAST(NULL AS TEXT) AS b, CAST(NULL AS TEXT) AS c FROM messages ORDER BY id",
        );
        assert_eq!(forwarded_by[1].0.as_deref(), Some("group@attacker.example"));
        let trail = shown(&milter, &found[1].0);
        assert!(trail.contains("X-Original-From (Google Groups rewrote From), from source group@attacker.example"), "{trail}");
    }
}

both_databases! {
    fn thread_headers_join_a_conversation_only_for_its_participants(db: TestDatabase) {
        let (milter, postfix, _) = start(db);
        let config = milter.admin_config();
        send(&milter, &postfix, customer(), "Alice <alice@customer.example>", "", "order-1@customer.example");
        let refers = "In-Reply-To: <order-1@customer.example>\r\nReferences: <order-1@customer.example>\r\n";

        // An outsider quoting the customer's Message-ID starts his own.
        send(&milter, &postfix, attacker(), "Mallory <mallory@attacker.example>", refers, "hijack-1@attacker.example");
        let found = conversations(&milter);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[1].1, "mallory@attacker.example");
        let trail = shown(&milter, &found[1].0);
        assert!(trail.contains(&format!(
            "refers to <order-1@customer.example> of conversation {}, but mallory@attacker.example is not a participant of it",
            found[0].0
        )), "{trail}");

        // Nor does he reopen it once closed.
        let (code, _, err) = admin(&config, &["conversation", "close", &found[0].0]);
        assert_eq!(code, 0, "{err}");
        send(&milter, &postfix, attacker(), "Mallory <mallory@attacker.example>", refers, "hijack-2@attacker.example");
        let found = conversations(&milter);
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0].2, "closed");

        // The contact answers: the conversation takes it and opens again.
        send(&milter, &postfix, customer(), "Alice <alice@customer.example>", refers, "order-2@customer.example");
        let found = conversations(&milter);
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0].2, "open");
        let trail = shown(&milter, &found[0].0);
        assert!(trail.contains("Reopened: alice@customer.example, a participant, wrote again."), "{trail}");

        // A team member takes part too.
        let (code, _, err) = admin(&config, &["user", "add", "bob@customer.example", "--first-name", "Bob", "--last-name", "Agent"]);
        assert_eq!(code, 0, "{err}");
        send(&milter, &postfix, customer(), "Bob <bob@customer.example>", refers, "order-3@customer.example");
        assert_eq!(conversations(&milter).len(), 3);
        let in_first = milter.db.rows(&format!(
            "SELECT from_address AS a, CAST(NULL AS TEXT) AS b, CAST(NULL AS TEXT) AS c FROM messages \
             WHERE conversation_id = {} ORDER BY id",
            found[0].0
        ));
        let authors: Vec<_> = in_first.into_iter().map(|r| r.0.unwrap()).collect();
        assert_eq!(authors, ["alice@customer.example", "alice@customer.example", "bob@customer.example"]);
    }
}

/// Gmail's forwarding confirmation from the corpus, without the headers of
/// its original delivery (and its made-up signature), to our channel.
fn gmail_confirmation() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../milter/tests/corpus/gmail_forwarding_confirmation.eml"
    );
    let raw = std::fs::read_to_string(path).unwrap();
    let start = raw.find("MIME-Version:").unwrap();
    raw[start..]
        .replace(
            "Message-ID: <000000000000a1b2c3062f7d1e55@google.com>",
            "Message-ID: <confirm-1@google.com>",
        )
        .replace("support-k3x9q@inbox.example.com", &to())
}

both_databases! {
    fn an_authenticated_forwarding_confirmation_makes_its_requester_a_source(db: TestDatabase) {
        let (milter, postfix, channel) = start(db);
        let google = "forwarding-noreply@google.com";
        // Unsigned: no DMARC pass, so no confirmation and no source.
        let unsigned = gmail_confirmation().replace("confirm-1@", "confirm-0@");
        let t = send_message(postfix.smtp_addr(), google, &[&to()], unsigned.as_bytes());
        assert_eq!(t.outcome().code, 250, "{:?}", t.all);
        let deadline = Instant::now() + Duration::from_secs(20);
        while milter.store.inbound().counts().unwrap().done < 1 {
            assert!(Instant::now() < deadline, "{:?}", milter.store.inbound().counts());
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(milter.store.settings().channel(channel).unwrap().sources, []);

        let t = send_message(postfix.smtp_addr(), google, &[&to()], &dkim_sign(gmail_confirmation().as_bytes(), &senders().google));
        assert_eq!(t.outcome().code, 250, "{:?}", t.all);
        let deadline = Instant::now() + Duration::from_secs(20);
        while milter.store.inbound().counts().unwrap().done < 2 {
            assert!(Instant::now() < deadline, "{:?}", milter.store.inbound().counts());
            std::thread::sleep(Duration::from_millis(50));
        }
        let (code, out, err) = admin(&milter.admin_config(), &["channel", "show", &channel.to_string()]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("support@acme.example (asked for a forwarding confirmation)"), "{out}");
        let found = conversations(&milter);
        let trail = shown(&milter, &found[1].0);
        assert!(trail.contains(&format!(
            "Source: support@acme.example asked for this confirmation, which arrived authenticated while channel {channel} was a draft, so the channel now trusts"
        )), "{trail}");

        // Once connected, a confirmation no longer makes a source: anyone
        // who knows the address could ask Gmail for one.
        let (code, _, err) = admin(&milter.admin_config(), &["channel", "finish", &channel.to_string()]);
        assert_eq!(code, 0, "{err}");
        let late = gmail_confirmation()
            .replace("confirm-1@", "confirm-2@")
            .replace("support@acme.example", "mallory@attacker.example");
        let t = send_message(postfix.smtp_addr(), google, &[&to()], &dkim_sign(late.as_bytes(), &senders().google));
        assert_eq!(t.outcome().code, 250, "{:?}", t.all);
        let deadline = Instant::now() + Duration::from_secs(20);
        while milter.store.inbound().counts().unwrap().done < 3 {
            assert!(Instant::now() < deadline, "{:?}", milter.store.inbound().counts());
            std::thread::sleep(Duration::from_millis(50));
        }
        let sources = milter.store.settings().channel(channel).unwrap().sources;
        assert_eq!(sources.len(), 1, "{sources:?}");
        assert_eq!(sources[0].address, "support@acme.example");
        let found = conversations(&milter);
        let trail = shown(&milter, &found[2].0);
        assert!(trail.contains(&format!(
            "Not a source: channel {channel} is connected, so a confirmation no longer adds mallory@attacker.example"
        )), "{trail}");
    }
}
