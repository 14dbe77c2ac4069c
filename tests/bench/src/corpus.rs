//! Generated mail for the benchmarks: deterministic (seeded), CRLF line
//! endings, nothing from outside the machine.
//!
//! * [`smtp_message`]: the ~10 KB plain message of the SMTP benchmarks
//!   (the driver DKIM-signs it with dkimpy).
//! * [`large_message`]: a message of a given size with a base64 attachment
//!   (the memory benchmark).
//! * [`processor_corpus`]: a realistic mix for the processor: new
//!   conversations (text, HTML), replies that thread, replies to old
//!   conversations, Gmail forwards, Google Groups rewrites, team members'
//!   manual forwards, attachments, inline images, auto-replies.

use std::fmt::Write as _;

/// The hosted addresses of the processor benchmark's channels.
pub const CHANNELS: [&str; 3] = [
    "support@inbox.example.com",
    "sales@inbox.example.com",
    "billing@inbox.example.com",
];

/// Team members (users of the inbox); they also send manual forwards.
pub const TEAM: [(&str, &str, &str); 5] = [
    ("ana@acme.example", "Ana", "Silva"),
    ("ben@acme.example", "Ben", "Okafor"),
    ("chen@acme.example", "Chen", "Wei"),
    ("dora@acme.example", "Dora", "Novak"),
    ("eli@acme.example", "Eli", "Haddad"),
];

/// Distinct customers who write in the processor corpus
/// (`customer{N}@example.com`, N below this).
pub const CUSTOMERS: u64 = 3000;

/// A small, fast, seeded generator (xorshift64*): the same seed gives the
/// same corpus on every machine.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below((hi - lo + 1) as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

const WORDS: &[&str] = &[
    "the",
    "printer",
    "invoice",
    "order",
    "shipping",
    "account",
    "please",
    "could",
    "you",
    "help",
    "with",
    "our",
    "last",
    "delivery",
    "arrived",
    "damaged",
    "and",
    "we",
    "would",
    "like",
    "a",
    "replacement",
    "thanks",
    "for",
    "quick",
    "reply",
    "regarding",
    "ticket",
    "support",
    "team",
    "is",
    "not",
    "working",
    "since",
    "update",
    "error",
    "message",
    "shows",
    "when",
    "I",
    "try",
    "to",
    "log",
    "in",
    "password",
    "reset",
    "link",
    "expired",
    "again",
    "refund",
    "credit",
    "card",
    "charged",
    "twice",
    "this",
    "month",
    "kind",
    "regards",
    "meeting",
    "tomorrow",
    "schedule",
    "call",
    "question",
    "about",
    "pricing",
    "plan",
    "upgrade",
    "users",
    "licence",
    "renewal",
    "contract",
    "attached",
    "document",
    "see",
];

/// About `bytes` bytes of text in lines of at most 76 characters, CRLF.
pub fn lorem(rng: &mut Rng, bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 80);
    let mut line = String::with_capacity(80);
    while out.len() + line.len() < bytes {
        let word = rng.pick(WORDS);
        if line.len() + word.len() + 1 > 76 {
            out.push_str(&line);
            out.push_str("\r\n");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&line);
        out.push_str("\r\n");
    }
    out
}

/// Base64 in lines of 76 characters, CRLF, as MIME writes it.
pub fn base64_lines(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len() * 4 / 3 + data.len() / 38 + 8);
    let mut col = 0;
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = [
            ALPHABET[(n >> 18) as usize & 63],
            ALPHABET[(n >> 12) as usize & 63],
            if chunk.len() > 1 {
                ALPHABET[(n >> 6) as usize & 63]
            } else {
                b'='
            },
            if chunk.len() > 2 {
                ALPHABET[n as usize & 63]
            } else {
                b'='
            },
        ];
        for c in chars {
            out.push(c as char);
        }
        col += 4;
        if col == 76 {
            out.push_str("\r\n");
            col = 0;
        }
    }
    if col != 0 {
        out.push_str("\r\n");
    }
    out
}

/// An RFC 5322 date for `unix` seconds, UTC.
pub fn rfc5322_date(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let month_name = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1) as usize];
    format!(
        "{weekday}, {day:02} {month_name} {year} {:02}:{:02}:{:02} +0000",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// 2026-11-27 00:00:00 UTC: the corpus's clock starts here.
const EPOCH: i64 = 1_795_737_600;

/// The plain text message of the SMTP benchmarks, about `size` bytes with
/// its headers, from [`crate::SENDER`] to [`crate::RECIPIENT`]. Unsigned:
/// the driver has dkimpy sign it (From, To, Subject, Date). No Message-ID:
/// the benchmark's Postfix adds a unique one to each copy it receives
/// (`always_add_missing_headers`), as each real message has its own.
pub fn smtp_message(size: usize) -> Vec<u8> {
    let mut rng = Rng::new(10_240);
    let headers = format!(
        "From: Alice Example <{}>\r\nTo: Support <{}>\r\nSubject: The printer is on fire again\r\n\
         Date: {}\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n",
        crate::SENDER,
        crate::RECIPIENT,
        rfc5322_date(EPOCH),
    );
    let mut message = headers.into_bytes();
    let body = lorem(&mut rng, size.saturating_sub(message.len()));
    message.extend_from_slice(body.as_bytes());
    message
}

/// A message of about `size` bytes (within a few hundred), most of it a
/// base64 attachment of random bytes: what a large real message is.
pub fn large_message(size: usize, tag: &str) -> Vec<u8> {
    let mut rng = Rng::new(size as u64);
    let mut message = format!(
        "From: Alice Example <{}>\r\nTo: Support <{}>\r\nSubject: Scans of the contract ({tag})\r\n\
         Date: {}\r\nMessage-ID: <bench-{tag}@{}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"=b1\"\r\n\r\n\
         --=b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
        crate::SENDER,
        crate::RECIPIENT,
        rfc5322_date(EPOCH),
        crate::SENDER_DOMAIN,
    )
    .into_bytes();
    message.extend_from_slice(lorem(&mut rng, 2000).as_bytes());
    message.extend_from_slice(
        b"\r\n--=b1\r\nContent-Type: application/pdf; name=\"scan.pdf\"\r\n\
          Content-Disposition: attachment; filename=\"scan.pdf\"\r\n\
          Content-Transfer-Encoding: base64\r\n\r\n",
    );
    let trailer = b"\r\n--=b1--\r\n";
    // 76 base64 characters + CRLF per 57 bytes.
    let room = size.saturating_sub(message.len() + trailer.len());
    let raw = room / 78 * 57;
    message.extend_from_slice(base64_lines(&rng.bytes(raw)).as_bytes());
    message.extend_from_slice(trailer);
    message
}

/// What kind of mail a [`QueuedMessage`] is, and how often it occurs (per
/// cent of the processor corpus).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A customer starts a conversation, text only.
    New,
    /// ... with text and HTML alternatives.
    NewHtml,
    /// A reply that threads into an earlier message of the corpus.
    Reply,
    /// A reply to a conversation that exists only in the "old inbox" (the
    /// 1,000,000 background conversations); a new conversation otherwise.
    ReplyToOld,
    /// Gmail automatic forward (X-Forwarded-For, +caf_ envelope).
    GmailForward,
    /// Google Groups: From rewritten to "'Name' via Support", the author
    /// in X-Original-From.
    GroupRewrite,
    /// A team member's "Fwd:" with Gmail's forwarded block.
    ManualForward,
    /// A PDF attachment of 20 to 150 KB.
    Attachment,
    /// HTML with an inline image (Content-ID).
    InlineImage,
    /// An out-of-office auto-reply.
    Automated,
}

impl Kind {
    pub const MIX: [(Kind, u64); 10] = [
        (Kind::New, 30),
        (Kind::NewHtml, 10),
        (Kind::Reply, 22),
        (Kind::ReplyToOld, 3),
        (Kind::GmailForward, 7),
        (Kind::GroupRewrite, 4),
        (Kind::ManualForward, 5),
        (Kind::Attachment, 11),
        (Kind::InlineImage, 4),
        (Kind::Automated, 4),
    ];

    pub fn describe(self) -> &'static str {
        match self {
            Kind::New => "new conversation, plain text",
            Kind::NewHtml => "new conversation, text and HTML",
            Kind::Reply => "reply threading into an earlier message",
            Kind::ReplyToOld => "reply to an old conversation (background data)",
            Kind::GmailForward => "Gmail automatic forward",
            Kind::GroupRewrite => "Google Groups (From rewritten)",
            Kind::ManualForward => "team member's manual Fwd:",
            Kind::Attachment => "PDF attachment, 20-150 KB",
            Kind::InlineImage => "HTML with inline image",
            Kind::Automated => "auto-reply (no ticket)",
        }
    }

    fn choose(rng: &mut Rng) -> Kind {
        let mut n = rng.below(100);
        for (kind, share) in Self::MIX {
            if n < share {
                return kind;
            }
            n -= share;
        }
        Kind::New
    }
}

/// One message for the processor benchmark, as the milter would have
/// stored it.
#[derive(Clone, Debug)]
pub struct QueuedMessage {
    pub kind: Kind,
    pub mail_from: String,
    /// Index into [`CHANNELS`].
    pub channel: usize,
    pub raw: Vec<u8>,
    pub dmarc: &'static str,
    pub spam: bool,
    pub header_from: String,
}

/// How many contacts the driver's background of `background`
/// conversations has: conversation k's contact is customer k % this.
pub fn background_contacts(background: u64) -> u64 {
    (background / 5).clamp(CUSTOMERS, 200_000)
}

/// `n` messages; replies refer to earlier ones, [`Kind::ReplyToOld`] to
/// `bg-{k}@example.net` with k below `background` (the ids of the driver's
/// background conversations).
pub fn processor_corpus(n: usize, seed: u64, background: u64) -> Vec<QueuedMessage> {
    let mut rng = Rng::new(seed);
    let mut out: Vec<QueuedMessage> = Vec::with_capacity(n);
    // (message id, subject, customer, channel) of every message so far.
    let mut sent: Vec<(String, String, u64, usize)> = Vec::with_capacity(n);
    for i in 0..n {
        let kind = Kind::choose(&mut rng);
        let channel = match rng.below(100) {
            0..=59 => 0,
            60..=84 => 1,
            _ => 2,
        };
        let mut customer = rng.below(CUSTOMERS);
        let mut channel = channel;
        // A reply comes from the conversation's contact, to its channel:
        // anyone else's starts a conversation of its own (the processor
        // threads only a participant's mail).
        let refers = match kind {
            Kind::Reply if !sent.is_empty() => {
                // Mostly a recent conversation.
                let earlier = sent.len() - 1 - rng.below(sent.len().min(2000) as u64) as usize;
                let (id, subject, who, to) = &sent[earlier];
                (customer, channel) = (*who, *to);
                Some((id.clone(), subject.clone()))
            }
            Kind::ReplyToOld => {
                // Background conversation k is in channel k % 3.
                let k = match 3 * rng.below((background / 3).max(1)) + channel as u64 {
                    0 => 3,
                    k => k,
                };
                customer = k % background_contacts(background);
                Some((
                    format!("bg-{k}@example.net"),
                    format!("Background conversation {k}"),
                ))
            }
            _ => None,
        };
        let date = rfc5322_date(EPOCH + i as i64 * 7);
        let message_id = format!("m{i}.{seed}@mail.example.com");
        let subject = format!(
            "{} {} #{}",
            capitalised(rng.pick::<&str>(WORDS)),
            rng.pick(WORDS),
            rng.below(100_000)
        );
        let mut q = build(
            kind,
            &mut rng,
            refers.as_ref(),
            customer,
            channel,
            &date,
            &message_id,
            &subject,
        );
        q.channel = channel;
        // Mostly authenticated mail; some without DMARC, a little spam.
        let (dmarc, spam) = match rng.below(100) {
            0..=93 => ("pass", false),
            94..=97 => ("none", false),
            _ => ("fail", true),
        };
        q.dmarc = dmarc;
        q.spam = spam;
        sent.push((message_id, subject, customer, channel));
        out.push(q);
    }
    out
}

fn capitalised(word: &str) -> String {
    let mut c = word.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[allow(clippy::too_many_arguments)]
fn build(
    kind: Kind,
    rng: &mut Rng,
    refers: Option<&(String, String)>,
    customer: u64,
    channel: usize,
    date: &str,
    message_id: &str,
    subject: &str,
) -> QueuedMessage {
    let to = CHANNELS[channel];
    let address = format!("customer{customer}@example.com");
    let name = format!("Customer {customer}");
    let text_len = rng.between(400, 3000);
    let text = lorem(rng, text_len);
    let mut h = String::with_capacity(1024);
    let mut mail_from = address.clone();
    let mut header_from = address.clone();
    let common = |h: &mut String, from: &str, subject: &str| {
        let _ = write!(
            h,
            "Received: from mail.example.com (mail.example.com [192.0.2.25])\r\n\tby mx.inbox.example.com with ESMTPS id 4dK2xY0l3z; {date}\r\n\
             From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\n\
             Message-ID: <{message_id}>\r\nMIME-Version: 1.0\r\n"
        );
    };
    let body: String = match kind {
        Kind::New | Kind::ReplyToOld | Kind::Reply | Kind::Automated => {
            let (subject, extra) = match kind {
                Kind::Reply | Kind::ReplyToOld if refers.is_some() => {
                    let (id, earlier) = refers.expect("checked");
                    (
                        format!("Re: {earlier}"),
                        format!("In-Reply-To: <{id}>\r\nReferences: <{id}>\r\n"),
                    )
                }
                Kind::Automated => (
                    format!("Automatic reply: {subject}"),
                    "Auto-Submitted: auto-replied\r\nX-Autoreply: yes\r\n".to_string(),
                ),
                _ => (subject.to_string(), String::new()),
            };
            common(&mut h, &format!("{name} <{address}>"), &subject);
            h.push_str(&extra);
            h.push_str("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n");
            let mut b = text.clone();
            if kind == Kind::Reply {
                b.push_str("\r\nOn Fri, 27 Nov 2026, Support wrote:\r\n");
                for line in lorem(rng, 600).lines() {
                    b.push_str("> ");
                    b.push_str(line);
                    b.push_str("\r\n");
                }
            }
            b
        }
        Kind::NewHtml => {
            common(&mut h, &format!("{name} <{address}>"), subject);
            h.push_str("Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n");
            format!(
                "--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--alt\r\n\
                 Content-Type: text/html; charset=utf-8\r\n\r\n<html><body><div dir=\"ltr\"><p>{}</p></div></body></html>\r\n--alt--\r\n",
                text.replace("\r\n", "<br>\r\n")
            )
        }
        Kind::GmailForward => {
            let forwarder = format!("support@acme{channel}.example");
            mail_from = format!(
                "support+caf_={}={}@acme{channel}.example",
                to.split('@').next().unwrap_or("x"),
                crate::HOSTED
            );
            common(&mut h, &format!("{name} <{address}>"), subject);
            let _ = write!(
                h,
                "X-Forwarded-To: {to}\r\nX-Forwarded-For: {forwarder} {to}\r\nDelivered-To: {forwarder}\r\n\
                 Content-Type: text/plain; charset=utf-8\r\n\r\n"
            );
            text.clone()
        }
        Kind::GroupRewrite => {
            let list = format!("support@groups.acme{channel}.example");
            mail_from = format!("support+bncBAABB{customer}@groups.acme{channel}.example");
            header_from = list.clone();
            common(&mut h, &format!("'{name}' via Support <{list}>"), subject);
            let _ = write!(
                h,
                "Reply-To: {name} <{address}>\r\nX-Original-From: {name} <{address}>\r\nX-Original-Sender: {address}\r\n\
                 X-Google-Group-Id: 1234567890\r\nList-Id: <support.acme{channel}.example>\r\n\
                 List-Post: <mailto:{list}>\r\nPrecedence: list\r\nMailing-list: list {list}; contact support+owners@groups.acme{channel}.example\r\n\
                 Content-Type: text/plain; charset=utf-8\r\n\r\n"
            );
            text.clone()
        }
        Kind::ManualForward => {
            let (member, first, last) = *rng.pick(&TEAM);
            mail_from = member.to_string();
            header_from = member.to_string();
            common(
                &mut h,
                &format!("{first} {last} <{member}>"),
                &format!("Fwd: {subject}"),
            );
            h.push_str("Content-Type: text/plain; charset=utf-8\r\n\r\n");
            format!(
                "FYI, this came to my own address.\r\n\r\n---------- Forwarded message ---------\r\n\
                 From: {name} <{address}>\r\nDate: {date}\r\nSubject: {subject}\r\nTo: {first} {last} <{member}>\r\n\r\n{text}"
            )
        }
        Kind::Attachment => {
            common(&mut h, &format!("{name} <{address}>"), subject);
            h.push_str("Content-Type: multipart/mixed; boundary=\"mix\"\r\n\r\n");
            let len = rng.between(20_000, 150_000);
            let file = rng.bytes(len);
            format!(
                "--mix\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--mix\r\n\
                 Content-Type: application/pdf; name=\"invoice-{customer}.pdf\"\r\n\
                 Content-Disposition: attachment; filename=\"invoice-{customer}.pdf\"\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n{}--mix--\r\n",
                base64_lines(&file)
            )
        }
        Kind::InlineImage => {
            common(&mut h, &format!("{name} <{address}>"), subject);
            h.push_str("Content-Type: multipart/related; boundary=\"rel\"\r\n\r\n");
            let len = rng.between(5_000, 40_000);
            let image = rng.bytes(len);
            format!(
                "--rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>{}</p>\
                 <img src=\"cid:shot{customer}@example.com\"></body></html>\r\n--rel\r\n\
                 Content-Type: image/png; name=\"screenshot.png\"\r\nContent-ID: <shot{customer}@example.com>\r\n\
                 Content-Disposition: inline; filename=\"screenshot.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}--rel--\r\n",
                text.replace("\r\n", "<br>\r\n"),
                base64_lines(&image)
            )
        }
    };
    let mut raw = format!(
        "Authentication-Results: mx.{}; spf=pass smtp.mailfrom={mail_from}; dkim=pass header.d=example.com; dmarc=pass header.from=example.com\r\n",
        crate::HOSTED
    )
    .into_bytes();
    raw.extend_from_slice(h.as_bytes());
    raw.extend_from_slice(body.as_bytes());
    QueuedMessage {
        kind,
        mail_from,
        channel,
        raw,
        dmarc: "pass",
        spam: false,
        header_from,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322_date(EPOCH), "Fri, 27 Nov 2026 00:00:00 +0000");
    }

    #[test]
    fn base64_like_the_rfc() {
        assert_eq!(base64_lines(b"foobar"), "Zm9vYmFy\r\n");
        assert_eq!(base64_lines(b"fo"), "Zm8=\r\n");
        assert_eq!(base64_lines(&[0u8; 57]).lines().next().unwrap().len(), 76);
    }

    #[test]
    fn sizes_are_close() {
        let m = smtp_message(10_240);
        assert!((10_100..10_400).contains(&m.len()), "{}", m.len());
        let l = large_message(1 << 20, "t");
        assert!(
            l.len() <= 1 << 20 && l.len() > (1 << 20) - 200,
            "{}",
            l.len()
        );
    }

    #[test]
    fn corpus_is_deterministic_and_mixed() {
        let a = processor_corpus(500, 7, 1000);
        let b = processor_corpus(500, 7, 1000);
        assert_eq!(a.len(), 500);
        assert!(a.iter().zip(&b).all(|(x, y)| x.raw == y.raw));
        for (kind, _) in Kind::MIX {
            assert!(a.iter().any(|q| q.kind == kind), "{kind:?} missing");
        }
    }
}
