//! Through a real Postfix and a real Sendmail: the milter's refusals are what the SMTP client
//! sees, and nothing refused is stored.

mod common;

use common::{message, Milter, HOSTED};
use teaminbox_e2e::{send_message, SmtpSession};
use teaminbox_testkit::dkim::senders;

const LIMIT: usize = 31_457_280;

each_mta! {
    fn unknown_hosted_address_gets_550_5_1_1(db: TestDatabase, kind: MtaKind) {
        let milter = Milter::start(db);
        milter.channel(&format!("support@{HOSTED}"));
        let mta = milter.mta(kind);
        let t = send_message(mta.smtp_addr(), "alice@example.org", &[&format!("nobody@{HOSTED}")], &message("unknown"));
        let rcpt = &t.rcpts[0];
        assert_eq!((rcpt.code, rcpt.enhanced_code()), (550, Some("5.1.1")), "{:?}", t.all);
        assert!(rcpt.text.contains(&format!("<nobody@{HOSTED}>")), "{}", rcpt.text);
        assert!(milter.stored().is_empty());
    }
}

each_mta! {
    fn a_percent_sign_in_a_refused_address_reaches_the_client_intact(db: TestDatabase, kind: MtaKind) {
        // Postfix (and Sendmail) read `%` in a milter's reply as an escape.
        let milter = Milter::start(db);
        let mta = milter.mta(kind);
        let mut s = SmtpSession::connect(mta.smtp_addr()).unwrap();
        assert_eq!(s.ehlo("client.example.org").code, 250);
        assert_eq!(s.mail_from("alice@example.org", &[]).code, 250);
        let rcpt = s.rcpt_to(&format!("50%off%%@{HOSTED}"));
        assert_eq!((rcpt.code, rcpt.enhanced_code()), (550, Some("5.1.1")), "{rcpt:?}");
        assert!(rcpt.text.contains(&format!("<50%off%%@{HOSTED}>")), "{}", rcpt.text);
        s.quit();
        let logged = milter.store.rejections().list(None, 10).unwrap();
        assert!(logged[0].reason.contains(&format!("<50%off%%@{HOSTED}>")), "{}", logged[0].reason);
    }
}

each_mta! {
    fn disabled_channel_gets_550_5_2_1(db: TestDatabase, kind: MtaKind) {
        let milter = Milter::start(db);
        let id = milter.channel(&format!("support@{HOSTED}"));
        milter.store.settings().set_enabled(id, false).unwrap();
        let mta = milter.mta(kind);
        let t = send_message(mta.smtp_addr(), "alice@example.org", &[&format!("support@{HOSTED}")], &message("disabled"));
        assert_eq!((t.rcpts[0].code, t.rcpts[0].enhanced_code()), (550, Some("5.2.1")), "{:?}", t.all);
        assert!(milter.stored().is_empty());
    }
}

each_mta! {
    fn declared_oversize_gets_552_5_3_4_at_rcpt(db: TestDatabase, kind: MtaKind) {
        let milter = Milter::start(db);
        milter.channel(&format!("support@{HOSTED}"));
        let mta = milter.mta(kind);
        let mut s = SmtpSession::connect(mta.smtp_addr()).unwrap();
        assert_eq!(s.ehlo("client.example.org").code, 250);
        let size = format!("SIZE={}", LIMIT + 1);
        assert_eq!(s.mail_from("alice@example.org", &[&size]).code, 250);
        let rcpt = s.rcpt_to(&format!("support@{HOSTED}"));
        assert_eq!((rcpt.code, rcpt.enhanced_code()), (552, Some("5.3.4")), "{rcpt:?}");
        assert!(rcpt.text.contains("31457280 bytes"), "{}", rcpt.text);
        s.quit();
        assert!(milter.stored().is_empty());
    }
}

each_mta! {
    fn undeclared_oversize_gets_552_5_3_4_after_data(db: TestDatabase, kind: MtaKind) {
        let milter = Milter::start(db);
        milter.channel(&format!("support@{HOSTED}"));
        let mta = milter.mta(kind);
        // 32 MiB, not declared: both MTAs take up to 40 MiB, so the milter
        // is what refuses it.
        let size = 32 * 1024 * 1024;
        let mut body = message("too big");
        body.reserve(size);
        while body.len() <= size {
            body.extend_from_slice(&[b'x'; 998]);
            body.extend_from_slice(b"\r\n");
        }
        let t = send_message(mta.smtp_addr(), "alice@example.org", &[&format!("support@{HOSTED}")], &body);
        let outcome = t.outcome();
        assert_eq!((outcome.code, outcome.enhanced_code()), (552, Some("5.3.4")), "{:?}", t.all);
        assert!(milter.stored().is_empty());
    }
}

each_mta! {
    fn a_dmarc_refusal_reaches_the_client_intact_percent_and_all(db: TestDatabase, kind: MtaKind) {
        // example.com publishes p=reject and does not send from 127.0.0.1.
        // The message carries a signature of a domain with a `%` in its
        // name (which cannot verify), so the refusal text names it.
        let milter = Milter::start_with(db, senders().dns("127.0.0.1").start());
        milter.channel(&format!("support@{HOSTED}"));
        let mta = milter.mta(kind);
        let text = String::from_utf8(message("spoof")).unwrap();
        let spoof = format!(
            "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=50%off.example; s=s1;\r\n\
             \th=from:subject; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\n{}",
            text.replace("alice@example.org", "alice@example.com")
        );
        let t = send_message(mta.smtp_addr(), "alice@example.com", &[&format!("support@{HOSTED}")], spoof.as_bytes());
        let o = t.outcome();
        assert_eq!((o.code, o.enhanced_code()), (550, Some("5.7.1")), "{:?}", t.all);
        let logged = milter.store.rejections().list(None, 10).unwrap();
        assert_eq!(logged.len(), 1);
        assert!(logged[0].reason.contains("DMARC policy of example.com rejects this message"), "{}", logged[0].reason);
        assert!(logged[0].reason.contains("50%off.example"), "{}", logged[0].reason);
        // The client reads exactly what the log says, after the enhanced code.
        assert_eq!(o.text, format!("5.7.1 {}", logged[0].reason), "{:?}", t.all);
        assert!(milter.stored().is_empty());
    }
}
