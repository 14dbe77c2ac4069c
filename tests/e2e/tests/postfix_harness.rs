//! The harness itself against the real Postfix container: relaying to the
//! capture sink, hosted-domain mail held back, milter failure codes, size
//! limits and large messages.  Needs tests/run (Docker + image).

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use teaminbox_e2e::{send_message, swaks, Postfix, PostfixOptions, SmtpSession};

fn message(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Sender <sender@example.net>\r\n\
         To: someone@outside.example.net\r\n\
         Subject: {subject}\r\n\
         Message-ID: <{subject}@example.net>\r\n\
         \r\n\
         {body}"
    )
    .into_bytes()
}

#[test]
fn outside_recipient_is_relayed_to_the_capture_sink() {
    let postfix = Postfix::start(PostfixOptions::default());
    let msg = message(
        "relay-test",
        "line one\n.starts with a dot\n..two dots\nlast line\n",
    );
    let t = send_message(
        postfix.smtp_addr(),
        "sender@example.net",
        &["someone@outside.example.net"],
        &msg,
    );
    assert!(t.accepted(), "{t}");
    assert_eq!(t.codes(), vec![220, 250, 250, 250, 354, 250, 221], "{t}");

    let captured = postfix.wait_captured_full(1, Duration::from_secs(30));
    assert_eq!(captured.len(), 1);
    let c = &captured[0];
    assert_eq!(c.sender(), "sender@example.net");
    assert_eq!(c.recipients(), vec!["someone@outside.example.net"]);
    let text = c.text();
    // Postfix prepends its Received: header; the message itself arrives
    // intact, dot-unstuffed, with LF line endings (smtp-sink drops CRs).
    assert!(
        text.starts_with("Received: from client.teaminbox.test"),
        "{text}"
    );
    assert!(text.contains("\nSubject: relay-test\n"), "{text}");
    assert!(
        text.ends_with("\n\nline one\n.starts with a dot\n..two dots\nlast line\n"),
        "{text:?}"
    );
    assert!(
        postfix.wait_queue_empty(Duration::from_secs(10)),
        "{}",
        postfix.queue()
    );
}

#[test]
fn hosted_domain_mail_without_milter_stays_queued() {
    // No milter: nothing takes the hosted recipient, so Postfix must keep the
    // message (deferred), never deliver it anywhere.
    let postfix = Postfix::start(PostfixOptions::default());
    let t = send_message(
        postfix.smtp_addr(),
        "sender@example.net",
        &["team@inbox.example.com"],
        &message("hosted", "hello\n"),
    );
    assert!(t.accepted(), "{t}");
    postfix.wait_for_log("relay=teaminbox-defer", Duration::from_secs(30));
    assert!(
        postfix.queue().contains("team@inbox.example.com"),
        "{}",
        postfix.queue()
    );
    postfix.flush_queue();
    std::thread::sleep(Duration::from_secs(1));
    assert!(postfix.captured().is_empty());
    assert!(!postfix.queue_is_empty());
}

#[test]
fn unreachable_milter_gives_451_at_mail_from() {
    let dir = std::env::temp_dir().join(format!("teaminbox-e2e-nomilter-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock: PathBuf = dir.join("milter.sock"); // never created
    let postfix = Postfix::start(PostfixOptions {
        milter: Some(format!("unix:{}", sock.display())),
        socket_dir: Some(dir.clone()),
        ..Default::default()
    });
    for rcpt in ["team@inbox.example.com", "someone@outside.example.net"] {
        let t = send_message(
            postfix.smtp_addr(),
            "sender@example.net",
            &[rcpt],
            &message("x", "x\n"),
        );
        // milter_default_action = tempfail: Postfix still greets and answers
        // EHLO, then refuses MAIL FROM with 451 4.7.1.
        assert_eq!(t.greeting.code, 220, "{t}");
        assert_eq!(t.ehlo.as_ref().unwrap().code, 250, "{t}");
        let mail = t.mail.as_ref().unwrap();
        assert_eq!(mail.code, 451, "{t}");
        assert_eq!(mail.enhanced_code(), Some("4.7.1"), "{t}");
        assert_eq!(
            mail.text, "4.7.1 Service unavailable - try again later",
            "{t}"
        );
        assert!(t.rcpts.is_empty() && !t.accepted(), "{t}");
    }
    assert!(postfix.logs().contains("milter-reject: MAIL from"));
    assert!(postfix.queue_is_empty());
    drop(postfix);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn message_over_postfix_size_limit_gets_552() {
    let postfix = Postfix::start(PostfixOptions {
        message_size_limit: 100_000,
        ..Default::default()
    });
    let body = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n".repeat(3000);
    let mut s = SmtpSession::connect(postfix.smtp_addr()).unwrap();
    assert_eq!(s.ehlo("client.teaminbox.test").code, 250);
    assert_eq!(s.mail_from("sender@example.net", &[]).code, 250);
    assert_eq!(s.rcpt_to("someone@outside.example.net").code, 250);
    let reply = s.data(&message("big", &body));
    assert_eq!(reply.code, 552, "{reply}");
    assert_eq!(reply.enhanced_code(), Some("5.3.4"), "{reply}");
    // SIZE declared up front is refused at MAIL FROM.
    assert_eq!(
        s.mail_from("sender@example.net", &["SIZE=200000"]).code,
        552
    );
    assert_eq!(s.quit().code, 221);
}

const LINE: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789\r\n";

/// A message generated on the fly: headers, then at least `size` bytes of
/// body lines, so a 31 MiB message is never in memory.
fn generated_message(size: usize) -> impl Read {
    let headers = message("large", "").into_iter();
    let lines = LINE
        .iter()
        .copied()
        .cycle()
        .take(size.div_ceil(LINE.len()) * LINE.len());
    IterReader(headers.chain(lines))
}

struct IterReader<I>(I);

impl<I: Iterator<Item = u8>> Read for IterReader<I> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        for slot in buf.iter_mut() {
            match self.0.next() {
                Some(b) => *slot = b,
                None => break,
            }
            n += 1;
        }
        Ok(n)
    }
}

/// A 31 MiB message (above the milter's 30 MiB limit, below the harness
/// Postfix's 40 MiB) goes through Postfix to the sink intact.
#[test]
fn large_message_is_streamed_through() {
    let postfix = Postfix::start(PostfixOptions::default());
    let size = 31 * 1024 * 1024;
    let mut s = SmtpSession::connect(postfix.smtp_addr()).unwrap();
    assert_eq!(s.ehlo("client.teaminbox.test").code, 250);
    assert_eq!(s.mail_from("sender@example.net", &[]).code, 250);
    assert_eq!(s.rcpt_to("someone@outside.example.net").code, 250);
    let reply = s.data_from_reader(generated_message(size));
    assert_eq!(reply.code, 250, "{reply}");
    assert_eq!(s.quit().code, 221);
    let captured = postfix.wait_captured(1, Duration::from_secs(120));
    // Stored with LF endings: one byte less per line.
    let body_start = captured[0].windows(2).position(|w| w == b"\n\n").unwrap() + 2;
    let lines = size.div_ceil(LINE.len());
    assert_eq!(captured[0].len() - body_start, lines * (LINE.len() - 1));
}

#[test]
fn swaks_as_a_second_client() {
    let postfix = Postfix::start(PostfixOptions::default());
    let server = postfix.smtp_addr().to_string();
    let out = swaks(&[
        "--server",
        &server,
        "--from",
        "sender@example.net",
        "--to",
        "someone@outside.example.net",
        "--header",
        "Subject: via-swaks",
        "--body",
        "hello from swaks",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("<-  250 2.0.0 Ok: queued as"), "{stdout}");
    let captured = postfix.wait_captured(1, Duration::from_secs(30));
    let text = String::from_utf8_lossy(&captured[0]);
    assert!(
        text.contains("Subject: via-swaks") && text.contains("hello from swaks"),
        "{text}"
    );
}
