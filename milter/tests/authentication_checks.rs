//! SPF, DKIM, ARC and DMARC at end of message, against a real DNS server
//! with generated zones, on messages signed and sealed by a third-party
//! signer (dkimpy).

mod common;

use common::{reply, send_raw, Milter};
use indymilter_test::{MacroStage, SocketInfo, Status, TestConnection};
use teaminbox_store::settings::list_entry::FilterValue;
use teaminbox_store::{inbound::InboundMessage, model::FilterList};
use teaminbox_testkit::both_databases;
use teaminbox_testkit::{
    dkim::{dkim_sign, senders, DkimKey},
    dns::TestDns,
    TestDatabase,
};

/// The sending server of example.com, allowed by its SPF record.
const GOOD_IP: [u8; 4] = [192, 0, 2, 7];
/// An address no SPF record allows.
const STRANGER_IP: [u8; 4] = [198, 51, 100, 66];

fn dns() -> TestDns {
    senders().dns("198.51.100.66").start()
}

async fn start(db: TestDatabase) -> Milter {
    let milter = Milter::start_with(db, dns(), "").await;
    milter.channel("support@inbox.example.com");
    milter
}

fn message(from: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: Alice <{from}>\r\nTo: support@inbox.example.com\r\nSubject: {subject}\r\n\
         Date: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{subject}@example.com>\r\n\r\n\
         The printer is on fire.\r\n"
    )
    .into_bytes()
}

/// Sends `raw` from `ip` with `mail_from`; returns the status and what was stored.
async fn deliver(
    milter: &Milter,
    ip: [u8; 4],
    mail_from: &str,
    raw: &[u8],
) -> (Status, Option<InboundMessage>) {
    let conn = milter.connect_from(ip, "mail.sender.example").await;
    deliver_on(milter, conn, mail_from, raw).await
}

/// [`deliver`] on a connection already past HELO.
async fn deliver_on(
    milter: &Milter,
    mut conn: TestConnection,
    mail_from: &str,
    raw: &[u8],
) -> (Status, Option<InboundMessage>) {
    conn.mail([format!("<{mail_from}>")]).await.unwrap();
    assert_eq!(
        conn.rcpt(["<support@inbox.example.com>"]).await.unwrap(),
        Status::Continue
    );
    let (_, status) = send_raw(&mut conn, raw).await;
    conn.close().await.unwrap();
    let stored = milter.store.inbound().list(1).unwrap().into_iter().next();
    (status, stored)
}

fn stored_text(milter: &Milter, m: &InboundMessage) -> String {
    String::from_utf8(milter.store.inbound().raw_message(m.id).unwrap().unwrap()).unwrap()
}

both_databases! {
    async fn aligned_dkim_passes_dmarc_from_any_server(db: TestDatabase) {
        let milter = start(db).await;
        let signed = dkim_sign(&message("alice@example.com", "signed"), &senders().example);
        let (status, stored) = deliver(&milter, STRANGER_IP, "alice@example.com", &signed).await;
        assert_eq!(status, Status::Discard);
        let m = stored.expect("stored");
        assert_eq!((m.spf.as_deref(), m.dkim.as_deref(), m.dmarc.as_deref()), (Some("fail"), Some("pass"), Some("pass")));
        assert!(!m.spam);
        assert_eq!(m.header_from.as_deref(), Some("alice@example.com"));
        let text = stored_text(&milter, &m);
        assert!(text.starts_with("Authentication-Results: mx.inbox.example.com;"), "{text}");
        assert!(text.contains("dkim=pass"), "{text}");
        assert!(text.contains("dmarc=pass"), "{text}");
    }
}

both_databases! {
    async fn spf_pass_alone_passes_dmarc(db: TestDatabase) {
        let milter = start(db).await;
        let (status, stored) = deliver(&milter, GOOD_IP, "alice@example.com", &message("alice@example.com", "spf")).await;
        assert_eq!(status, Status::Discard);
        let m = stored.expect("stored");
        assert_eq!((m.spf.as_deref(), m.dkim.as_deref(), m.dmarc.as_deref()), (Some("pass"), Some("none"), Some("pass")));
    }
}

both_databases! {
    async fn a_spoof_of_a_reject_domain_is_refused_and_logged(db: TestDatabase) {
        let milter = start(db).await;
        let (status, stored) = deliver(&milter, STRANGER_IP, "alice@example.com", &message("alice@example.com", "spoof")).await;
        let text = reply(&status);
        assert!(text.starts_with("550 5.7.1 DMARC policy of example.com rejects this message: "), "{text}");
        assert!(text.contains("SPF fail for example.com") && text.contains("no DKIM signature"), "{text}");
        assert!(stored.is_none(), "a refused message is never stored");
        let log = milter.store.rejections().list(None, 10).unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!((log[0].smtp_code.as_str(), log[0].enhanced_code.as_str()), ("550", "5.7.1"));
        assert_eq!(log[0].header_from.as_deref(), Some("alice@example.com"));
        assert_eq!(log[0].recipients, ["support@inbox.example.com"]);
        assert_eq!(log[0].client_address.as_deref(), Some("198.51.100.66"));
        assert!(log[0].reason.starts_with("DMARC policy of example.com"));
    }
}

both_databases! {
    async fn a_spoof_of_a_quarantine_domain_is_stored_as_spam(db: TestDatabase) {
        let milter = start(db).await;
        let (status, stored) = deliver(&milter, STRANGER_IP, "bob@quarantine.example", &message("bob@quarantine.example", "q")).await;
        assert_eq!(status, Status::Discard);
        let m = stored.expect("stored");
        assert_eq!(m.dmarc.as_deref(), Some("fail"));
        assert!(m.spam);
    }
}

both_databases! {
    async fn spf_fail_without_dmarc_is_refused_with_5_7_23(db: TestDatabase) {
        let milter = start(db).await;
        let (status, stored) = deliver(&milter, STRANGER_IP, "carol@nodmarc.example", &message("carol@nodmarc.example", "nd")).await;
        assert!(reply(&status).starts_with("550 5.7.23 "), "{status:?}");
        assert!(stored.is_none());
    }
}

both_databases! {
    async fn a_gmail_style_forward_keeps_its_dkim_and_passes(db: TestDatabase) {
        let milter = start(db).await;
        // The forwarder relays the original, signature intact, from its own
        // server and envelope.
        let signed = dkim_sign(&message("alice@example.com", "forwarded"), &senders().example);
        let (status, stored) = deliver(&milter, STRANGER_IP, "alice+caf_=support@forwarder.example", &signed).await;
        assert_eq!(status, Status::Discard);
        let m = stored.expect("stored");
        assert_eq!((m.spf.as_deref(), m.dkim.as_deref(), m.dmarc.as_deref()), (Some("pass"), Some("pass"), Some("pass")));
    }
}

fn through_a_list(sealer: &DkimKey) -> Vec<u8> {
    senders().through_a_list(&message("alice@example.com", "via list"), sealer)
}

both_databases! {
    async fn a_trusted_arc_seal_rescues_a_list_message(db: TestDatabase) {
        let milter = start(db).await;
        let sealed = through_a_list(&senders().google);
        let (status, stored) = deliver(&milter, STRANGER_IP, "support-group+bncBD@forwarder.example", &sealed).await;
        assert_eq!(status, Status::Discard, "{}", reply(&status));
        let m = stored.expect("stored");
        // The footer broke the author's signature (mail-auth reports a body
        // hash mismatch as neutral), so DMARC fails and ARC decides.
        assert_eq!((m.dkim.as_deref(), m.arc.as_deref(), m.dmarc.as_deref()), (Some("neutral"), Some("pass"), Some("fail")));
        assert!(!m.spam);
    }
}

both_databases! {
    async fn an_untrusted_arc_seal_does_not_rescue(db: TestDatabase) {
        let milter = start(db).await;
        let sealed = through_a_list(&senders().untrusted);
        let (status, stored) = deliver(&milter, STRANGER_IP, "list-bounces@forwarder.example", &sealed).await;
        assert!(reply(&status).starts_with("550 5.7.1 DMARC policy of example.com"), "{status:?}");
        assert!(stored.is_none());
    }
}

both_databases! {
    async fn a_dns_failure_is_a_tempfail_never_a_guess(db: TestDatabase) {
        let milter = start(db).await;
        let (status, stored) = deliver(&milter, STRANGER_IP, "dave@servfail.example", &message("dave@servfail.example", "sf")).await;
        let text = reply(&status);
        assert!(text.starts_with("451 4.7.24 "), "{text}");
        assert!(text.contains("servfail.example"), "{text}");
        assert!(stored.is_none());
    }
}

both_databases! {
    async fn dns_failures_can_be_set_to_accept(db: TestDatabase) {
        let milter = Milter::start_with(db, dns(), "on_dns_error = \"accept\"").await;
        milter.channel("support@inbox.example.com");
        let (status, stored) = deliver(&milter, STRANGER_IP, "dave@servfail.example", &message("dave@servfail.example", "sf")).await;
        assert_eq!(status, Status::Discard);
        assert_eq!(stored.unwrap().dmarc.as_deref(), Some("temperror"));
    }
}

both_databases! {
    async fn deny_and_allow_lists_decide_before_the_policy(db: TestDatabase) {
        let milter = start(db).await;
        filter(&milter, "deny", "example.com", true);
        let signed = dkim_sign(&message("alice@example.com", "denied"), &senders().example);
        let (status, stored) = deliver(&milter, GOOD_IP, "alice@example.com", &signed).await;
        let text = reply(&status);
        assert!(text.starts_with("550 5.7.1 ") && text.contains("deny list"), "{text}");
        assert!(stored.is_none());

        filter(&milter, "deny", "example.com", false);
        filter(&milter, "allow", "198.51.100.0/24", true);
        // The lists are cached for a moment.
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        let (status, stored) = deliver(&milter, STRANGER_IP, "alice@example.com", &message("alice@example.com", "allowed")).await;
        assert_eq!(status, Status::Discard, "{}", reply(&status));
        assert_eq!(stored.unwrap().dmarc.as_deref(), Some("fail"), "results are still recorded");
    }
}

/// Adds (or removes) a list entry the way the admin does.
fn filter(milter: &Milter, list: &str, value: &str, add: bool) {
    let value = FilterValue::parse(value).unwrap();
    let list: FilterList = list.parse().unwrap();
    let settings = milter.store.settings();
    if add {
        settings
            .add_filter(list, value.kind(), &value.to_string())
            .unwrap();
    } else {
        settings
            .remove_filter(list, value.kind(), &value.to_string())
            .unwrap();
    }
}

both_databases! {
    async fn forged_authentication_results_are_removed(db: TestDatabase) {
        let milter = start(db).await;
        // Our authserv-id as RFC 8601 lets it be written: plain, behind a
        // comment, quoted, in other case, with a version.
        let mut forged = b"Authentication-Results: mx.inbox.example.com; dmarc=pass header.from=example.com\r\n\
            Authentication-Results: (trust me) MX.Inbox.Example.COM 1; dkim=pass header.d=example.com\r\n\
            Authentication-Results: \"mx.inbox.example.com\";\r\n\tspf=pass smtp.mailfrom=example.com\r\n\
            Authentication-Results: other.example; spf=pass\r\n\
            Authentication-Results: (mx.inbox.example.com) other.example; dkim=pass\r\n".to_vec();
        forged.extend_from_slice(&message("alice@example.com", "forged"));
        let (status, stored) = deliver(&milter, GOOD_IP, "alice@example.com", &forged).await;
        assert_eq!(status, Status::Discard);
        let text = stored_text(&milter, &stored.unwrap());
        assert_eq!(text.matches("Authentication-Results:").count(), 3, "ours and two others: {text}");
        assert!(text.starts_with("Authentication-Results: mx.inbox.example.com;"), "{text}");
        assert!(!text.contains("header.d=example.com") && !text.contains("smtp.mailfrom=example.com"), "{text}");
        assert!(text.contains("Authentication-Results: other.example; spf=pass\r\n"), "{text}");
        assert!(text.contains("Authentication-Results: (mx.inbox.example.com) other.example; dkim=pass\r\n"), "{text}");
        assert!(!text.contains("trust me") && !text.contains("\"mx.inbox"), "{text}");
    }
}

/// `message`, with its From header replaced by `from_lines` (none, one or
/// several header lines).
fn with_from(from_lines: &str, subject: &str) -> Vec<u8> {
    let text = String::from_utf8(message("alice@example.com", subject)).unwrap();
    text.replace("From: Alice <alice@example.com>\r\n", from_lines)
        .into_bytes()
}

both_databases! {
    async fn a_message_without_exactly_one_author_is_refused_and_logged(db: TestDatabase) {
        let milter = start(db).await;
        // From the server SPF allows for example.com: everything else passes.
        for (from_lines, problem) in [
            ("From: alice@example.com, mallory@example.com\r\n", "message has 2 From addresses"),
            ("From: alice@example.com\r\nFrom: ceo@example.com\r\n", "message has 2 From header fields"),
            ("", "message has no From header field"),
        ] {
            let (status, stored) = deliver(&milter, GOOD_IP, "alice@example.com", &with_from(from_lines, "authors")).await;
            assert_eq!(reply(&status), format!("550 5.7.1 {problem}; DMARC needs exactly one author"));
            assert!(stored.is_none(), "{problem}: never stored");
        }
        let log = milter.store.rejections().list(None, 10).unwrap();
        assert_eq!(log.len(), 3);
        assert!(log.iter().all(|r| r.enhanced_code == "5.7.1" && r.reason.ends_with("DMARC needs exactly one author")), "{log:?}");
        assert!(log.iter().all(|r| r.header_from.is_none()), "no one author to log");
        // The checks run for authenticated submission no more than before.
        let mut conn = milter.connect_from(STRANGER_IP, "laptop").await;
        conn.macros(MacroStage::Mail, [("{auth_authen}", "jane")]).await.unwrap();
        let (status, stored) = deliver_on(&milter, conn, "alice@example.com", &with_from("", "submitted")).await;
        assert_eq!(status, Status::Discard);
        assert!(stored.is_some());
    }
}

/// A list message whose first hop an attacker sealed (recording a pass
/// for example.com), then sealed by Google, recording `google_saw`.
fn attacker_then_google(google_saw: &str) -> Vec<u8> {
    let message = message("alice@example.com", "via two hops");
    senders().through_a_list_then_google(&message, &senders().untrusted, google_saw)
}

both_databases! {
    async fn only_the_trusted_sealers_own_results_rescue_a_failing_dmarc(db: TestDatabase) {
        let milter = start(db).await;
        // Google sealed last and saw DMARC fail: the attacker's earlier
        // "pass" decides nothing.
        let forged = attacker_then_google("dkim=neutral header.d=example.com; dmarc=fail header.from=example.com");
        let (status, stored) = deliver(&milter, STRANGER_IP, "list@forwarder.example", &forged).await;
        assert!(reply(&status).starts_with("550 5.7.1 DMARC policy of example.com"), "{}", reply(&status));
        assert!(stored.is_none());
        // Google saw a pass, but for another author.
        let elsewhere = attacker_then_google("dmarc=pass header.from=forwarder.example");
        let (status, _) = deliver(&milter, STRANGER_IP, "list@forwarder.example", &elsewhere).await;
        assert!(reply(&status).starts_with("550 5.7.1 "), "{}", reply(&status));
        // Google itself recorded the pass: rescued, whoever sealed before.
        let honest = attacker_then_google("dkim=pass header.d=example.com; dmarc=pass (p=REJECT) header.from=example.com");
        let (status, stored) = deliver(&milter, STRANGER_IP, "list@forwarder.example", &honest).await;
        assert_eq!(status, Status::Discard, "{}", reply(&status));
        let m = stored.expect("stored");
        assert_eq!((m.arc.as_deref(), m.dmarc.as_deref(), m.spam), (Some("pass"), Some("fail"), false));
    }
}

both_databases! {
    async fn an_allow_entry_never_rescues_a_spoof_of_the_allowed_domain(db: TestDatabase) {
        // The attacker's own domain passes SPF, DKIM and DMARC.
        let attacker = &senders().untrusted;
        let dns = senders()
            .dns("198.51.100.66")
            .txt("_dmarc.forwarder.example", "v=DMARC1; p=reject")
            .txt("_dmarc.lists.untrusted.example", "v=DMARC1; p=reject")
            .start();
        let milter = Milter::start_with(db, dns, "").await;
        milter.channel("support@inbox.example.com");
        filter(&milter, "allow", "example.com", true);
        filter(&milter, "allow", "ceo@example.com", true);
        let spoof = dkim_sign(&message("ceo@example.com", "wire transfer"), attacker);
        let (status, stored) = deliver(&milter, STRANGER_IP, "ceo@forwarder.example", &spoof).await;
        let text = reply(&status);
        assert!(text.starts_with("550 5.7.1 DMARC policy of example.com rejects this message"), "{text}");
        assert!(stored.is_none());

        // An entry for what the checks did authenticate (the attacker's
        // DKIM domain) lifts a refusal by SPF, not DMARC for another domain.
        filter(&milter, "allow", "lists.untrusted.example", true);
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        let (status, _) = deliver(&milter, STRANGER_IP, "ceo@forwarder.example", &spoof).await;
        assert!(reply(&status).starts_with("550 5.7.1 DMARC policy of example.com"), "{}", reply(&status));
        let signed = dkim_sign(&message("carol@nodmarc.example", "signed by a partner"), attacker);
        let (status, stored) = deliver(&milter, STRANGER_IP, "carol@nodmarc.example", &signed).await;
        assert_eq!(status, Status::Discard, "{}", reply(&status));
        assert_eq!(stored.unwrap().spf.as_deref(), Some("fail"));
        // The claimed sender alone matches nothing.
        filter(&milter, "allow", "nodmarc.example", true);
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        let unsigned = message("carol@nodmarc.example", "claimed");
        let (status, _) = deliver(&milter, STRANGER_IP, "carol@nodmarc.example", &unsigned).await;
        assert!(reply(&status).starts_with("550 5.7.23 "), "{}", reply(&status));
    }
}

both_databases! {
    async fn without_a_client_address_the_checks_still_run(db: TestDatabase) {
        let milter = start(db).await;
        // A spoof: SPF has no address to judge ("none"), no DKIM.
        let conn = milter.connect_socket(SocketInfo::Unknown, "mail.sender.example").await;
        let (status, stored) = deliver_on(&milter, conn, "alice@example.com", &message("alice@example.com", "no address")).await;
        let text = reply(&status);
        assert!(text.starts_with("550 5.7.1 DMARC policy of example.com rejects this message: SPF none for example.com"), "{text}");
        assert!(stored.is_none());
        let log = milter.store.rejections().list(None, 1).unwrap();
        assert_eq!(log[0].client_address, None);
        // Aligned DKIM still passes.
        let signed = dkim_sign(&message("alice@example.com", "signed, no address"), &senders().example);
        let conn = milter.connect_socket(SocketInfo::Unknown, "mail.sender.example").await;
        let (status, stored) = deliver_on(&milter, conn, "alice@example.com", &signed).await;
        assert_eq!(status, Status::Discard, "{}", reply(&status));
        let m = stored.unwrap();
        assert_eq!((m.spf.as_deref(), m.dkim.as_deref(), m.dmarc.as_deref()), (Some("none"), Some("pass"), Some("pass")));
        let text = stored_text(&milter, &m);
        assert!(text.contains("spf=none (no client address from the MTA)"), "{text}");
    }
}

both_databases! {
    async fn names_from_the_session_are_escaped_in_refusals(db: TestDatabase) {
        let milter = start(db).await;
        // The null sender: SPF judges the HELO name, which the DMARC
        // refusal names.
        let conn = milter.connect_from(STRANGER_IP, "evil\x1b[2J.example").await;
        let (status, _) = deliver_on(&milter, conn, "", &message("alice@example.com", "escaped")).await;
        let text = reply(&status);
        assert!(text.starts_with("550 5.7.1 DMARC policy of example.com"), "{text}");
        // (SPF names the HELO name in lower case.)
        assert!(text.contains("SPF permerror for evil\\u{1b}[2j.example"), "{text}");
        assert!(!text.chars().any(|c| c.is_control()), "{text:?}");
    }
}

both_databases! {
    async fn authenticated_submission_skips_the_checks(db: TestDatabase) {
        let milter = start(db).await;
        let mut conn = milter.connect_from(STRANGER_IP, "laptop").await;
        conn.macros(MacroStage::Mail, [("{auth_authen}", "jane")]).await.unwrap();
        conn.mail(["<alice@example.com>"]).await.unwrap();
        conn.rcpt(["<support@inbox.example.com>"]).await.unwrap();
        let (_, status) = send_raw(&mut conn, &message("alice@example.com", "submitted")).await;
        assert_eq!(status, Status::Discard);
        let m = milter.store.inbound().list(1).unwrap().remove(0);
        assert_eq!(m.dmarc, None);
    }
}

both_databases! {
    async fn trusted_networks_skip_the_checks(db: TestDatabase) {
        let milter = Milter::start_with(db, dns(), "trusted_networks = [\"198.51.100.0/24\"]").await;
        milter.channel("support@inbox.example.com");
        // A spoof that would be refused from anywhere else.
        let (status, stored) = deliver(&milter, STRANGER_IP, "alice@example.com", &message("alice@example.com", "inside")).await;
        assert_eq!(status, Status::Discard, "{}", reply(&status));
        assert_eq!(stored.unwrap().dmarc, None);
    }
}
