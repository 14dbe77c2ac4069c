//! Reading one stored message: who wrote it, who forwarded it, whether a
//! machine sent it, whether it is a provider's forwarding confirmation, and
//! its text, HTML and attachments.
//!
//! Pure: bytes and a [`Context`] in, a [`Reading`] out; no database, no I/O.
//! [`read`] never panics, whatever the bytes.
//!
//! The MIME tree is walked here with mail-parser's building blocks (its
//! header, address, date and content-type parsers, its decoders and
//! charsets) rather than with `MessageParser::parse`, so that the limits
//! hold while reading, not after: at most [`MAX_PARTS`] parts,
//! [`MAX_DEPTH`] levels and [`MAX_DECODED`] bytes of decoded content are
//! ever produced. (`MessageParser::parse` builds every part first, and it
//! builds nested messages recursively: a message nested in itself 50,000
//! times overflows the stack when the parsed result is dropped.)

use chrono::{NaiveDateTime, TimeDelta};
use mail_parser::{
    decoders::{base64::base64_decode, charsets::map::charset_decoder, html::text_to_html},
    parsers::MessageStream,
    Addr, Address, ContentType, DateTime, Header, HeaderName, HeaderValue, MessageParser,
};
use std::fmt;
use teaminbox_store::html_text::html_to_text;

mod attachments;
mod automated;
mod body;
mod dates;
mod forwarded;
mod headers;
mod list_rewrite;
mod mime;
mod verification;

use self::{
    attachments::*, automated::*, body::*, dates::*, forwarded::*, headers::*, mime::*,
    verification::*,
};
pub use attachments::sanitize_filename;
use list_rewrite::list_rewrite;
pub use list_rewrite::{Author, ListRewrite, ListTrust};

/// At most this many MIME parts (containers, leaves and attached messages)
/// are read; the rest of the message is left unread.
pub const MAX_PARTS: usize = 1000;
/// Multiparts and attached messages nested deeper than this are not opened.
pub const MAX_DEPTH: usize = 10;
/// At most this many bytes of decoded content are produced.
pub const MAX_DECODED: usize = 64 << 20;
/// [`Reading::text`] is cut at this many bytes.
pub const MAX_TEXT: usize = 1 << 20;
/// [`Reading::html`] is cut at this many bytes.
pub const MAX_HTML: usize = 2 << 20;
/// Header lines read per header block (a message's or a MIME part's).
pub const MAX_HEADER_LINES: usize = 2000;
/// Header lines read in all the blocks of a message together.
pub const MAX_TOTAL_HEADER_LINES: usize = 20_000;
/// Subjects, names and other one-line fields are cut at this many bytes.
const MAX_LINE: usize = 2000;
/// In-Reply-To and References keep at most this many ids each.
const MAX_IDS: usize = 100;

/// What [`Reading::parse_problem`] says when reading itself failed; the
/// message is then shown as received.
pub const INTERNAL_ERROR: &str = "internal error while reading the message";

/// What the processor needs to know about the message's SMTP context.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Envelope sender, "" for the null sender.
    pub mail_from: &'a str,
    /// Hosted recipients (lower case).
    pub recipients: &'a [String],
    /// The outer message passed authentication: DMARC pass, or a trusted
    /// ARC chain.
    pub authenticated: bool,
    /// Team members' addresses (lower case): a message From one of them
    /// with a Fwd: subject is a manual forward.
    pub team_addresses: &'a [String],
    /// Our own X-Loop value, e.g. "teaminbox@inbox.example.com".
    pub loop_marker: &'a str,
}

/// What a message says about itself, as far as the inbox cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// The contact: the original sender, not the forwarder. For a list
    /// rewrite, the outer From: whether the channel believes the rewrite is
    /// decided per channel ([`Reading::author_in`]).
    pub author: Person,
    /// The forwarder, if any: a team member's manual forward, the list
    /// that rewrote From, or the mailbox that forwarded automatically.
    pub forwarded_by: Option<Person>,
    /// Why this author, in words for the decision log.
    pub author_reason: String,
    /// A list that rewrote From (Google Groups and the like), and the
    /// author it names: a claim, believed only by a channel that knows the
    /// list ([`Reading::author_in`]).
    pub list_rewrite: Option<ListRewrite>,
    /// For manual forwards the original's subject; otherwise the message's.
    pub subject: String,
    /// UTC; for manual forwards the original's date when parseable.
    pub date: Option<NaiveDateTime>,
    /// Without <>.
    pub message_id: Option<String>,
    /// Without <>.
    pub in_reply_to: Vec<String>,
    /// Without <>.
    pub references: Vec<String>,
    /// The best plain-text body (text/plain, else the HTML as text), cut at
    /// [`MAX_TEXT`].
    pub text: String,
    /// The HTML body, cut at [`MAX_HTML`].
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    /// Why the message was sent by a machine, if it was.
    pub automated: Option<String>,
    pub verification: Option<Verification>,
    /// Set when the message could not be fully read (malformed, or over the
    /// limits); the message is still kept and shown as received.
    pub parse_problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Lower case.
    pub address: String,
    pub name: Option<String>,
}

#[derive(Clone, PartialEq, Eq)]
pub struct Attachment {
    /// A plain file name: never a path, no control characters, no leading
    /// dots, at most 200 characters.
    pub filename: String,
    /// "type/subtype", lower case.
    pub content_type: String,
    /// Without <>.
    pub content_id: Option<String>,
    pub inline: bool,
    pub content: Vec<u8>,
}

impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attachment")
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("content_id", &self.content_id)
            .field("inline", &self.inline)
            .field("content", &format_args!("{} bytes", self.content.len()))
            .finish()
    }
}

/// A provider's forwarding confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// "gmail".
    pub provider: String,
    /// 9 digits.
    pub code: String,
    pub link: Option<String>,
    /// The address that asked to forward its mail to us (lower case; empty
    /// when the message does not say).
    pub requested_by: String,
}

/// Reads a raw message. Never panics: what cannot be read is reported in
/// [`Reading::parse_problem`].
pub fn read(raw: &[u8], context: &Context<'_>) -> Reading {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_message(raw, context)))
        .unwrap_or_else(|_| unreadable(raw, context, INTERNAL_ERROR))
}

fn read_message(raw: &[u8], context: &Context<'_>) -> Reading {
    let mut walker = Walker::default();
    let root = walker.entity(raw, 0, false);
    // mail-parser takes any "word:" (or a last line without a colon) for a
    // header; a message has at least one field with a proper name and a
    // value.
    let has_headers = root.headers.iter().any(|h| {
        let name = h.name.as_str();
        !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
            && !matches!(h.value, HeaderValue::Empty)
    });
    if !has_headers {
        return unreadable(
            raw,
            context,
            "no message headers found: the message is shown as received",
        );
    }
    let headers = Headers(&root.headers);
    let content = Content::collect(&root, &mut walker);

    let from = headers.persons("From").into_iter().next();
    let envelope = envelope_address(context.mail_from);
    // Never Sender: it is not what DMARC authenticates, so anyone could put
    // any address there.
    let (outer, outer_reason) = if let Some(from) = &from {
        (from.clone(), "header From".to_string())
    } else if let Some(envelope) = &envelope {
        (
            Person {
                address: envelope.clone(),
                name: None,
            },
            "envelope sender (the message has no From)".into(),
        )
    } else {
        (
            unknown_person(),
            "unknown (no From header and a null envelope sender)".into(),
        )
    };

    let subject = headers
        .text("Subject")
        .map(|s| clean_line(&s))
        .unwrap_or_default();
    let header_date = match headers.first("Date") {
        Some(HeaderValue::DateTime(date)) if date.is_valid() => Some(date),
        _ => None,
    };
    let date = header_date.and_then(naive_utc);
    let local_offset = header_date.map_or(0, utc_offset_seconds);

    let mut reading = Reading {
        author: outer.clone(),
        forwarded_by: None,
        author_reason: outer_reason,
        list_rewrite: None,
        subject: subject.clone(),
        date,
        message_id: ids(headers.first("Message-ID")).into_iter().next(),
        in_reply_to: ids(headers.first("In-Reply-To")),
        references: ids(headers.first("References")),
        text: String::new(),
        html: None,
        attachments: Vec::new(),
        automated: automated(&headers, context, &root),
        verification: None,
        parse_problem: None,
    };

    let team_member = from.as_ref().filter(|from| {
        context
            .team_addresses
            .iter()
            .any(|a| a.trim().eq_ignore_ascii_case(&from.address))
    });
    let (original_subject, forward_prefix) = strip_forward_prefixes(&subject);
    if let (Some(member), true) = (team_member, forward_prefix) {
        let original = forwarded_block(&content.text, context.team_addresses, local_offset)
            .or_else(|| attached_original(&content.messages, local_offset));
        match original {
            Some(original) if context.authenticated => {
                reading.author = original.from;
                reading.forwarded_by = Some(member.clone());
                reading.author_reason = original.source;
                reading.subject = original
                    .subject
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| original_subject.to_string());
                reading.date = original.date.or(date);
            }
            Some(original) => reading.author_reason = untrusted(&original.from),
            None => {
                reading.author_reason = "header From (a team member's forward, but no \
                                         forwarded message was found in it)"
                    .into()
            }
        }
    } else if let Some(rewrite) = from.as_ref().and_then(|from| list_rewrite(&headers, from)) {
        // Believing it depends on the channel's sources: decided in filing.
        reading.list_rewrite = Some(rewrite);
    } else if let Some((forwarder, source)) = forwarder(&headers, from.as_ref(), context) {
        reading.author_reason = format!(
            "{} (forwarded by {}, from {source})",
            reading.author_reason, forwarder.address
        );
        reading.forwarded_by = Some(forwarder);
    }

    reading.verification = gmail_verification(
        from.as_ref(),
        &subject,
        &content.text,
        content.html.as_deref(),
        context,
    );

    reading.text = content.text;
    reading.html = content.html;
    reading.attachments = content.attachments;
    if !walker.problems.is_empty() {
        reading.parse_problem = Some(walker.problems.join("; "));
    }
    reading
}

/// A message without readable headers: the envelope sender and the bytes as
/// text.
fn unreadable(raw: &[u8], context: &Context<'_>, problem: &str) -> Reading {
    let envelope = envelope_address(context.mail_from);
    let (author, reason) = match envelope {
        Some(address) => (
            Person {
                address,
                name: None,
            },
            "envelope sender (the message has no readable headers)",
        ),
        None => (
            unknown_person(),
            "unknown (no readable headers and a null envelope sender)",
        ),
    };
    let automated = is_null_sender(context.mail_from).then(|| "null return path".to_string());
    Reading {
        author,
        forwarded_by: None,
        author_reason: reason.into(),
        list_rewrite: None,
        subject: String::new(),
        date: None,
        message_id: None,
        in_reply_to: Vec::new(),
        references: Vec::new(),
        text: cap(
            String::from_utf8_lossy(&raw[..raw.len().min(MAX_TEXT)]).into_owned(),
            MAX_TEXT,
        ),
        html: None,
        attachments: Vec::new(),
        automated,
        verification: None,
        parse_problem: Some(problem.into()),
    }
}

/// The author's address when nothing names one.
pub const UNKNOWN_AUTHOR: &str = "unknown";

fn unknown_person() -> Person {
    Person {
        address: UNKNOWN_AUTHOR.into(),
        name: None,
    }
}

fn untrusted(candidate: &Person) -> String {
    format!(
        "outer From: forwarded content not trusted because the outer message did not pass \
         authentication (candidate was {})",
        candidate.address
    )
}
