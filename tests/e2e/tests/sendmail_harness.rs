//! The harness itself against the real Sendmail container: relaying to the
//! capture sink, hosted-domain mail held back by the deferring mailer of
//! sendmail/sendmail.mc, and what clients see when the milter is not there.
//! Needs tests/run (Docker and both images).

use std::time::Duration;

use teaminbox_e2e::{send_message, Sendmail, SendmailOptions};

fn message(subject: &str) -> Vec<u8> {
    format!(
        "From: Sender <sender@example.net>\r\nTo: someone@outside.example.net\r\n\
         Subject: {subject}\r\nMessage-ID: <{subject}@example.net>\r\n\r\n\
         line one\r\n.starts with a dot\r\nlast line\r\n"
    )
    .into_bytes()
}

#[test]
fn outside_recipient_is_relayed_to_the_capture_sink() {
    let sendmail = Sendmail::start(SendmailOptions::default());
    let t = send_message(
        sendmail.smtp_addr(),
        "sender@example.net",
        &["someone@outside.example.net"],
        &message("relay-test"),
    );
    assert_eq!(t.codes(), vec![220, 250, 250, 250, 354, 250, 221], "{t}");
    let captured = sendmail.wait_captured_full(1, Duration::from_secs(30));
    let c = &captured[0];
    assert_eq!(c.sender(), "sender@example.net");
    assert_eq!(c.recipients(), vec!["someone@outside.example.net"]);
    let text = c.text();
    assert!(text.starts_with("Received: from "), "{text}");
    assert!(text.contains("by sendmail.teaminbox.test"), "{text}");
    assert!(
        text.ends_with("\n\nline one\n.starts with a dot\nlast line\n"),
        "{text:?}"
    );
    assert!(
        sendmail.wait_queue_empty(Duration::from_secs(10)),
        "{}",
        sendmail.queue()
    );
}

#[test]
fn hosted_domain_mail_without_milter_stays_queued() {
    // No milter: nothing takes the hosted recipient, so the mailertable's
    // teaminbox_defer mailer must keep it queued, never deliver it.
    let sendmail = Sendmail::start(SendmailOptions::default());
    let t = send_message(
        sendmail.smtp_addr(),
        "sender@example.net",
        &["team@inbox.example.com"],
        &message("hosted"),
    );
    assert!(t.accepted(), "{t}");
    sendmail.wait_for_log("mailer=teaminbox_defer, pri=", Duration::from_secs(30));
    // A queue run (every 2 s) tries again and defers again.
    let log = sendmail.wait_for_log(
        "stat=Deferred: teaminbox_defer mailer",
        Duration::from_secs(30),
    );
    assert!(!log.contains("stat=Sent"), "{log}");
    assert!(
        sendmail.queue().contains("team@inbox.example.com"),
        "{}",
        sendmail.queue()
    );
    assert!(!sendmail.queue_is_empty());
    assert!(sendmail.captured_full().is_empty());
}

#[test]
fn unreachable_milter_gives_451_4_3_2_at_mail_from() {
    let dir = tempfile_dir();
    let sendmail = Sendmail::start(SendmailOptions {
        milter: Some(format!("unix:{}/milter.sock", dir.display())), // never created
        socket_dir: Some(dir.clone()),
        ..Default::default()
    });
    for rcpt in ["team@inbox.example.com", "someone@outside.example.net"] {
        let t = send_message(
            sendmail.smtp_addr(),
            "sender@example.net",
            &[rcpt],
            &message("x"),
        );
        // F=T: Sendmail greets and answers EHLO, then refuses MAIL FROM.
        assert_eq!(t.greeting.code, 220, "{t}");
        let mail = t.mail.as_ref().unwrap();
        assert_eq!(
            (mail.code, mail.text.as_str()),
            (451, "4.3.2 Please try again later"),
            "{t}"
        );
        assert!(t.rcpts.is_empty() && !t.accepted(), "{t}");
    }
    assert!(sendmail
        .logs()
        .contains("Milter: initialization failed, temp failing commands"));
    assert!(sendmail.queue_is_empty());
    drop(sendmail);
    let _ = std::fs::remove_dir_all(dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "teaminbox-e2e-sendmail-nomilter-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
