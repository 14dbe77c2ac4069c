//! SPF, DKIM, ARC and DMARC at end of message, against a real DNS server
//! with generated zones, on messages signed and sealed by a third-party
//! signer (dkimpy).

mod common;

use common::{reply, send_raw, Milter};
use indymilter_test::{MacroStage, Status};
use teaminbox_milter::{
    both_databases,
    filter::lists::FilterValue,
    store::{inbound::InboundMessage, settings::FilterList},
    testing::{
        dkim::{dkim_sign, senders, DkimKey},
        dns::TestDns,
        TestDatabase,
    },
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
    let mut conn = milter.connect_from(ip, "mail.sender.example").await;
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
        let mut forged = b"Authentication-Results: mx.inbox.example.com; dmarc=pass header.from=example.com\r\n\
            Authentication-Results: other.example; spf=pass\r\n".to_vec();
        forged.extend_from_slice(&message("alice@example.com", "forged"));
        let (status, stored) = deliver(&milter, GOOD_IP, "alice@example.com", &forged).await;
        assert_eq!(status, Status::Discard);
        let text = stored_text(&milter, &stored.unwrap());
        assert_eq!(text.matches("mx.inbox.example.com;").count(), 1, "{text}");
        assert!(text.contains("Authentication-Results: other.example; spf=pass\r\n"), "{text}");
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
