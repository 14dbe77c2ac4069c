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

use crate::html_text::html_to_text;
use chrono::{NaiveDateTime, TimeDelta};
use mail_parser::{
    decoders::{base64::base64_decode, charsets::map::charset_decoder, html::text_to_html},
    parsers::MessageStream,
    Addr, Address, ContentType, DateTime, Header, HeaderName, HeaderValue, MessageParser,
};
use std::fmt;

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

// ---------------------------------------------------------------------------
// The MIME walk

/// One MIME entity: a message or a part, with its headers.
struct Entity {
    headers: Vec<Header<'static>>,
    /// Content-Type and Content-Disposition as written, for file names
    /// that the parsed value mangled.
    raw_mime: String,
    /// Lower case; defaulted (text/plain, or message/rfc822 in a digest).
    ctype: String,
    subtype: String,
    body: Body,
}

enum Body {
    Multipart(Vec<Entity>),
    /// An attached message: its bytes (decoded) and what they say.
    Message {
        raw: Vec<u8>,
        message: Box<Entity>,
    },
    /// Decoded content.
    Leaf(Vec<u8>),
    /// Not read: a limit was reached.
    Skipped,
}

#[derive(Default)]
struct Walker {
    parser: MessageParser,
    parts: usize,
    header_lines: usize,
    decoded: usize,
    stopped: bool,
    problems: Vec<String>,
}

impl Walker {
    fn note(&mut self, problem: &str) {
        if self.problems.len() < 8 && !self.problems.iter().any(|p| p == problem) {
            self.problems.push(problem.to_string());
        }
    }

    fn skipped() -> Entity {
        Entity {
            headers: Vec::new(),
            raw_mime: String::new(),
            ctype: String::new(),
            subtype: String::new(),
            body: Body::Skipped,
        }
    }

    /// Reads the entity in `bytes` (headers, blank line, body).
    fn entity(&mut self, bytes: &[u8], depth: usize, in_digest: bool) -> Entity {
        if self.stopped {
            return Self::skipped();
        }
        if self.parts >= MAX_PARTS {
            self.too_many_parts();
            return Self::skipped();
        }
        if self.header_lines >= MAX_TOTAL_HEADER_LINES {
            self.stopped = true;
            self.note("more than 20000 header lines in all: the rest was not read");
            return Self::skipped();
        }
        self.parts += 1;
        let (headers, raw_mime, body_start) = self.headers(bytes);
        let body = bytes.get(body_start..).unwrap_or_default();
        let headers_view = Headers(&headers);
        let content_type = headers_view.content_type("Content-Type");
        let (mut ctype, mut subtype) = match content_type {
            Some(ct) => (
                ct.ctype().trim().to_ascii_lowercase(),
                ct.subtype().unwrap_or("").trim().to_ascii_lowercase(),
            ),
            None if in_digest => ("message".into(), "rfc822".into()),
            None => ("text".into(), "plain".into()),
        };
        let boundary = content_type
            .and_then(|ct| ct.attribute("boundary"))
            .filter(|b| !b.is_empty())
            .map(|b| b.as_bytes().to_vec());
        let encoding = headers_view
            .text("Content-Transfer-Encoding")
            .map(|e| e.trim().to_ascii_lowercase())
            .unwrap_or_default();

        let body = if ctype == "multipart" {
            if depth >= MAX_DEPTH {
                self.note("MIME parts nested deeper than 10 levels were not read");
                Body::Skipped
            } else if let Some(boundary) = boundary {
                let limit = MAX_PARTS.saturating_sub(self.parts) + 1;
                let split = split_multipart(body, &boundary, limit);
                if split.parts.is_empty() && !split.found {
                    self.note("a multipart has no MIME boundary in its body: read as text");
                    ctype = "text".into();
                    subtype = "plain".into();
                    self.leaf(body, &encoding)
                } else {
                    if !split.closed && !split.truncated {
                        self.note("missing closing MIME boundary");
                    }
                    let digest = subtype == "digest";
                    let mut children = Vec::with_capacity(split.parts.len());
                    for part in split.parts {
                        if self.stopped {
                            break;
                        }
                        children.push(self.entity(part, depth + 1, digest));
                    }
                    if split.truncated {
                        self.too_many_parts();
                    }
                    Body::Multipart(children)
                }
            } else {
                self.note("a multipart has no boundary parameter: read as text");
                ctype = "text".into();
                subtype = "plain".into();
                self.leaf(body, &encoding)
            }
        } else if ctype == "message" && (subtype == "rfc822" || subtype == "global") {
            match self.decode(body, &encoding) {
                None => Body::Skipped,
                Some(raw) if depth >= MAX_DEPTH => {
                    self.note("MIME parts nested deeper than 10 levels were not read");
                    Body::Leaf(raw)
                }
                Some(raw) => {
                    let message = self.entity(&raw, depth + 1, false);
                    if message.headers.is_empty() {
                        Body::Leaf(raw)
                    } else {
                        Body::Message {
                            raw,
                            message: Box::new(message),
                        }
                    }
                }
            }
        } else {
            self.leaf(body, &encoding)
        };
        Entity {
            headers,
            raw_mime,
            ctype,
            subtype,
            body,
        }
    }

    fn too_many_parts(&mut self) {
        self.stopped = true;
        self.note("too many MIME parts (more than 1000): the rest were not read");
    }

    fn leaf(&mut self, body: &[u8], encoding: &str) -> Body {
        self.decode(body, encoding)
            .map_or(Body::Skipped, Body::Leaf)
    }

    /// The header block of an entity, its Content-Type and
    /// Content-Disposition as written, and where its body starts. The block
    /// ends at the first empty line; past [`MAX_HEADER_LINES`] lines (or
    /// what is left of [`MAX_TOTAL_HEADER_LINES`]) the rest of it is not
    /// parsed.
    fn headers(&mut self, bytes: &[u8]) -> (Vec<Header<'static>>, String, usize) {
        let allowed =
            MAX_HEADER_LINES.min(MAX_TOTAL_HEADER_LINES.saturating_sub(self.header_lines));
        let mut pos = 0;
        let mut lines = 0;
        let mut cut = None;
        let body_start = loop {
            if pos >= bytes.len() {
                break bytes.len();
            }
            let end = line_end(bytes, pos);
            let line = &bytes[pos..end];
            let next = (end + 1).min(bytes.len());
            if line.is_empty() || line == b"\r" {
                break next;
            }
            lines += 1;
            if lines > allowed && cut.is_none() {
                cut = Some(pos);
            }
            pos = next;
        };
        self.header_lines += lines.min(allowed);
        if cut.is_some() {
            self.note("more than 2000 header lines: the rest were not read");
        }
        let block = &bytes[..cut.unwrap_or(body_start)];
        let mut headers = Vec::new();
        MessageStream::new(block).parse_headers(&self.parser, &mut headers);
        let mut raw_mime = String::new();
        for header in &headers {
            if matches!(
                header.name,
                HeaderName::ContentType | HeaderName::ContentDisposition
            ) {
                let range = header.offset_start as usize..header.offset_end as usize;
                if let Some(value) = block.get(range).filter(|v| v.len() <= 4096) {
                    raw_mime.push_str(&String::from_utf8_lossy(value));
                    raw_mime.push('\n');
                }
            }
        }
        (
            headers.into_iter().map(Header::into_owned).collect(),
            raw_mime,
            body_start,
        )
    }

    /// Decodes a body by its Content-Transfer-Encoding, within the budget.
    fn decode(&mut self, body: &[u8], encoding: &str) -> Option<Vec<u8>> {
        if self.stopped {
            return None;
        }
        // Decoding never grows the content, so the encoded size bounds it.
        if self.decoded.saturating_add(body.len()) > MAX_DECODED {
            self.stopped = true;
            self.note("more than 64 MiB of decoded content: the rest was not read");
            return None;
        }
        let content = match encoding {
            "base64" => base64_decode(body).unwrap_or_else(|| {
                self.note("bad base64 in a MIME part");
                let alphabet: Vec<u8> = body
                    .iter()
                    .copied()
                    .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
                    .collect();
                base64_decode(&alphabet).unwrap_or_default()
            }),
            "quoted-printable" => {
                let (content, clean) = quoted_printable(body);
                if !clean {
                    self.note("bad quoted-printable in a MIME part");
                }
                content
            }
            _ => body.to_vec(),
        };
        self.decoded += content.len();
        Some(content)
    }
}

fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes
        .get(from..)
        .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
        .map_or(bytes.len(), |i| from + i)
}

struct Split<'a> {
    parts: Vec<&'a [u8]>,
    /// A delimiter line was seen.
    found: bool,
    /// The closing delimiter was seen.
    closed: bool,
    /// More than `limit` parts: the rest were not split off.
    truncated: bool,
}

/// Splits a multipart body at its delimiter lines ("--boundary", optionally
/// followed by "--" for the last one, then white space). The preamble and
/// the epilogue are dropped; the line break before a delimiter belongs to
/// the delimiter.
fn split_multipart<'a>(body: &'a [u8], boundary: &[u8], limit: usize) -> Split<'a> {
    let mut split = Split {
        parts: Vec::new(),
        found: false,
        closed: false,
        truncated: false,
    };
    let mut part_start: Option<usize> = None;
    let mut pos = 0;
    while pos < body.len() {
        let end = line_end(body, pos);
        let line = &body[pos..end];
        if let Some(rest) = line
            .strip_prefix(b"--")
            .and_then(|l| l.strip_prefix(boundary))
        {
            let rest = rest.trim_ascii();
            let close = rest.starts_with(b"--");
            if rest.is_empty() || close {
                if let Some(start) = part_start.take() {
                    let mut stop = pos;
                    if stop > start && body[stop - 1] == b'\n' {
                        stop -= 1;
                        if stop > start && body[stop - 1] == b'\r' {
                            stop -= 1;
                        }
                    }
                    split.parts.push(&body[start..stop.max(start)]);
                }
                split.found = true;
                if close {
                    split.closed = true;
                    return split;
                }
                if split.parts.len() >= limit {
                    split.truncated = true;
                    return split;
                }
                part_start = Some((end + 1).min(body.len()));
            }
        }
        pos = end + 1;
    }
    if let Some(start) = part_start {
        split.parts.push(&body[start..]);
    }
    split
}

/// Lenient quoted-printable: a bad escape is kept as it is. Returns the
/// content and whether it was well-formed.
fn quoted_printable(bytes: &[u8]) -> (Vec<u8>, bool) {
    fn hex(b: Option<&u8>) -> Option<u8> {
        match b? {
            b @ b'0'..=b'9' => Some(b - b'0'),
            b @ b'A'..=b'F' => Some(b - b'A' + 10),
            b @ b'a'..=b'f' => Some(b - b'a' + 10),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut clean = true;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b != b'=' {
            out.push(b);
            i += 1;
            continue;
        }
        // A soft line break: "=", optional white space, line break.
        let mut j = i + 1;
        while j < bytes.len() && matches!(bytes[j], b' ' | b'\t') {
            j += 1;
        }
        match bytes.get(j) {
            None => {
                i = j;
                continue;
            }
            Some(b'\n') => {
                i = j + 1;
                continue;
            }
            Some(b'\r') if bytes.get(j + 1) == Some(&b'\n') => {
                i = j + 2;
                continue;
            }
            _ => {}
        }
        if let (Some(high), Some(low)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
            out.push(high << 4 | low);
            i += 3;
        } else {
            clean = false;
            out.push(b'=');
            i += 1;
        }
    }
    (out, clean)
}

// ---------------------------------------------------------------------------
// Bodies and attachments

/// The message's text, HTML, attachments and attached messages.
struct Content<'e> {
    /// At most [`MAX_TEXT`] bytes.
    text: String,
    /// At most [`MAX_HTML`] bytes.
    html: Option<String>,
    attachments: Vec<Attachment>,
    /// Attached messages (message/rfc822) at the top level, in order.
    messages: Vec<&'e Entity>,
}

impl<'e> Content<'e> {
    /// Chooses the text and HTML bodies as JMAP does (RFC 8621, 4.1.4);
    /// every other leaf is an attachment.
    fn collect(root: &'e Entity, walker: &mut Walker) -> Self {
        let mut text_parts = Vec::new();
        let mut html_parts = Vec::new();
        body_structure(
            std::slice::from_ref(root),
            "mixed",
            false,
            Some(&mut text_parts),
            Some(&mut html_parts),
        );

        let mut text = String::new();
        for part in &text_parts {
            let piece = match part.subtype.as_str() {
                _ if part.ctype != "text" => continue,
                "plain" => part_text(part),
                // Only as much HTML as is kept is turned into text.
                "html" => html_to_text(&cap(part_text(part), MAX_HTML)),
                _ => continue,
            };
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&piece);
            if text.len() > MAX_TEXT {
                break;
            }
        }
        let html = if html_parts.iter().any(|p| p.is_type("text", "html")) {
            let mut html = String::new();
            for part in &html_parts {
                if part.is_type("text", "html") {
                    html.push_str(&part_text(part));
                } else if part.is_type("text", "plain") {
                    html.push_str(&text_to_html(&cap(part_text(part), MAX_HTML)));
                }
                if html.len() > MAX_HTML {
                    break;
                }
            }
            Some(html)
        } else {
            None
        };
        let html_cut = html.as_ref().is_some_and(|h| h.len() > MAX_HTML);
        let html = html.map(|h| cap(h, MAX_HTML));
        if text.is_empty() {
            if let Some(html) = &html {
                text = html_to_text(html);
            }
        }
        let text_cut = text.len() > MAX_TEXT;
        let text = cap(text, MAX_TEXT);
        if text_cut {
            walker.note("the text is longer than 1 MiB and was cut");
        }
        if html_cut {
            walker.note("the HTML is longer than 2 MiB and was cut");
        }

        let is_body = |e: &Entity| {
            (e.is_type("text", "plain") || e.is_type("text", "html"))
                && text_parts
                    .iter()
                    .chain(&html_parts)
                    .any(|p| std::ptr::eq(*p, e))
        };
        let in_body = |e: &Entity| {
            text_parts
                .iter()
                .chain(&html_parts)
                .any(|p| std::ptr::eq(*p, e))
        };
        let mut attachments = Vec::new();
        let mut messages = Vec::new();
        let mut leaves = Vec::new();
        collect_leaves(root, &mut leaves);
        for leaf in leaves {
            if is_body(leaf) {
                continue;
            }
            let content = match &leaf.body {
                Body::Leaf(content) => content.clone(),
                Body::Message { raw, .. } => {
                    messages.push(leaf);
                    raw.clone()
                }
                _ => continue,
            };
            attachments.push(attachment(leaf, content, in_body(leaf)));
        }
        if attachments.len() > MAX_PARTS {
            walker.note("too many attachments");
            attachments.truncate(MAX_PARTS);
        }
        Content {
            text,
            html,
            attachments,
            messages,
        }
    }
}

impl Entity {
    fn is_type(&self, ctype: &str, subtype: &str) -> bool {
        self.ctype == ctype && self.subtype == subtype
    }

    fn is_media(&self) -> bool {
        matches!(self.ctype.as_str(), "image" | "audio" | "video")
    }

    fn disposition(&self) -> Option<&ContentType<'static>> {
        Headers(&self.headers).content_type("Content-Disposition")
    }

    fn is_attachment(&self) -> bool {
        self.disposition().is_some_and(|d| d.is_attachment())
    }

    /// The file name as sent, from Content-Disposition or Content-Type.
    fn raw_filename(&self) -> Option<String> {
        let parsed = self
            .disposition()
            .and_then(|d| d.attribute("filename"))
            .or_else(|| {
                Headers(&self.headers)
                    .content_type("Content-Type")
                    .and_then(|ct| ct.attribute("name"))
            })
            .filter(|n| !n.trim().is_empty())?;
        // A Windows path sent unescaped ("C:\Users\x\evil.exe") loses its
        // backslashes as quoted-string escapes; the header as written still
        // has them, and its last component is the name.
        if !parsed.contains('\\') {
            if let Some(tail) = backslash_tail(&self.raw_mime) {
                if !tail.is_empty() && parsed.ends_with(tail) {
                    return Some(tail.to_string());
                }
            }
        }
        Some(parsed.to_string())
    }
}

/// What follows the last backslash of a quoted (file)name= parameter as
/// written.
fn backslash_tail(raw: &str) -> Option<&str> {
    let lower = raw.to_ascii_lowercase();
    let at = lower.find("name=\"")? + "name=\"".len();
    let value = raw[at..].split('"').next()?;
    value.rsplit_once('\\').map(|(_, tail)| tail)
}

/// RFC 8621's parseStructure: which leaves are the text and the HTML body.
fn body_structure<'e>(
    parts: &'e [Entity],
    multipart: &str,
    in_alternative: bool,
    mut text: Option<&mut Vec<&'e Entity>>,
    mut html: Option<&mut Vec<&'e Entity>>,
) {
    let text_len = text.as_ref().map(|t| t.len());
    let html_len = html.as_ref().map(|h| h.len());
    for (i, part) in parts.iter().enumerate() {
        match &part.body {
            Body::Skipped => continue,
            Body::Multipart(children) => {
                let sub = part.subtype.as_str();
                body_structure(
                    children,
                    sub,
                    in_alternative || sub == "alternative",
                    text.as_deref_mut(),
                    html.as_deref_mut(),
                );
                continue;
            }
            Body::Message { .. } => continue,
            Body::Leaf(_) => {}
        }
        let plain = part.is_type("text", "plain");
        let is_html = part.is_type("text", "html");
        let inline = !part.is_attachment()
            && (plain || is_html || part.is_media())
            && (i == 0
                || (multipart != "related" && (part.is_media() || part.raw_filename().is_none())));
        if !inline {
            continue;
        }
        if multipart == "alternative" {
            if plain {
                if let Some(text) = text.as_deref_mut() {
                    text.push(part);
                }
            } else if is_html {
                if let Some(html) = html.as_deref_mut() {
                    html.push(part);
                }
            }
            continue;
        } else if in_alternative {
            if plain {
                html = None;
            }
            if is_html {
                text = None;
            }
        }
        if let Some(text) = text.as_deref_mut() {
            text.push(part);
        }
        if let Some(html) = html.as_deref_mut() {
            html.push(part);
        }
    }
    if multipart == "alternative" {
        if let (Some(text), Some(html), Some(text_len), Some(html_len)) =
            (text, html, text_len, html_len)
        {
            // HTML only: it is the text body too; and the other way round.
            if text.len() == text_len && html.len() != html_len {
                let extra: Vec<_> = html[html_len..].to_vec();
                text.extend(extra);
            } else if html.len() == html_len && text.len() != text_len {
                let extra: Vec<_> = text[text_len..].to_vec();
                html.extend(extra);
            }
        }
    }
}

/// Leaves and attached messages, in order, not descending into messages.
fn collect_leaves<'e>(entity: &'e Entity, out: &mut Vec<&'e Entity>) {
    match &entity.body {
        Body::Multipart(children) => {
            for child in children {
                collect_leaves(child, out);
            }
        }
        Body::Leaf(_) | Body::Message { .. } => out.push(entity),
        Body::Skipped => {}
    }
}

/// A text part as a string, by its charset.
fn part_text(part: &Entity) -> String {
    let Body::Leaf(bytes) = &part.body else {
        return String::new();
    };
    let decoder = Headers(&part.headers)
        .content_type("Content-Type")
        .and_then(|ct| ct.attribute("charset"))
        .and_then(|charset| charset_decoder(charset.trim().as_bytes()));
    match decoder {
        Some(decode) => decode(bytes),
        None => String::from_utf8_lossy(bytes).into_owned(),
    }
}

fn attachment(leaf: &Entity, content: Vec<u8>, in_body: bool) -> Attachment {
    let content_type = media_type(&leaf.ctype, &leaf.subtype);
    let content_id = ids(Headers(&leaf.headers).first("Content-ID"))
        .into_iter()
        .next();
    let inline = match leaf.disposition() {
        Some(d) if d.is_attachment() => false,
        Some(d) if d.is_inline() => true,
        _ => content_id.is_some() || in_body,
    };
    Attachment {
        filename: sanitize_filename(&leaf.raw_filename().unwrap_or_default(), &content_type),
        content_type,
        content_id,
        inline,
        content,
    }
}

fn media_type(ctype: &str, subtype: &str) -> String {
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 127
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    if token(ctype) && token(subtype) {
        format!("{ctype}/{subtype}")
    } else {
        "application/octet-stream".into()
    }
}

/// A file name that is safe to show and to save: the last path component,
/// no control characters, no "..", no leading dots, at most 200
/// characters; "attachment" (with an extension for common types) when
/// nothing is left.
pub fn sanitize_filename(raw: &str, content_type: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let mut name: String = last
        .chars()
        .filter(|&c| !c.is_control() && !is_invisible(c))
        .map(|c| match c {
            ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_whitespace() => ' ',
            c => c,
        })
        .collect();
    while name.contains("..") {
        name = name.replace("..", ".");
    }
    let name = name
        .trim_start_matches(['.', ' '])
        .trim_end_matches(['.', ' '])
        .to_string();
    let name = if name.chars().count() > 200 {
        let (stem, extension) = match name.rfind('.') {
            Some(dot) if name.len() - dot <= 16 && dot > 0 => name.split_at(dot),
            _ => (name.as_str(), ""),
        };
        let keep = 200 - extension.chars().count();
        stem.chars().take(keep).collect::<String>() + extension
    } else {
        name
    };
    if name.is_empty() {
        format!("attachment{}", extension_for(content_type))
    } else {
        name
    }
}

fn extension_for(content_type: &str) -> &'static str {
    match content_type {
        "text/plain" => ".txt",
        "text/html" => ".html",
        "text/calendar" => ".ics",
        "text/csv" => ".csv",
        "image/png" => ".png",
        "image/jpeg" => ".jpg",
        "image/gif" => ".gif",
        "image/webp" => ".webp",
        "application/pdf" => ".pdf",
        "application/zip" => ".zip",
        "message/rfc822" | "message/global" => ".eml",
        _ => "",
    }
}

// ---------------------------------------------------------------------------
// Headers

struct Headers<'h>(&'h [Header<'static>]);

impl<'h> Headers<'h> {
    fn all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'h HeaderValue<'static>> + 's {
        self.0
            .iter()
            .filter(move |h| h.name.as_str().eq_ignore_ascii_case(name))
            .map(|h| &h.value)
    }

    fn first(&self, name: &str) -> Option<&'h HeaderValue<'static>> {
        self.all(name).next()
    }

    fn text(&self, name: &str) -> Option<String> {
        self.first(name).and_then(value_text)
    }

    fn persons(&self, name: &str) -> Vec<Person> {
        self.first(name).map(value_persons).unwrap_or_default()
    }

    fn content_type(&self, name: &str) -> Option<&'h ContentType<'static>> {
        self.first(name).and_then(|v| v.as_content_type())
    }
}

/// A header's value as text; addresses (mail-parser parses List-Id and
/// List-Post as addresses) as "name <address>, ...".
fn value_text(value: &HeaderValue<'_>) -> Option<String> {
    match value {
        HeaderValue::Text(text) => Some(text.to_string()),
        HeaderValue::TextList(list) => Some(list.join(", ")),
        HeaderValue::Address(address) => {
            let addrs: Vec<&Addr<'_>> = match address {
                Address::List(list) => list.iter().collect(),
                Address::Group(groups) => groups.iter().flat_map(|g| &g.addresses).collect(),
            };
            let rendered: Vec<String> = addrs
                .into_iter()
                .map(|a| match (a.name.as_deref(), a.address.as_deref()) {
                    (Some(name), Some(address)) => format!("{name} <{address}>"),
                    (None, Some(address)) => format!("<{address}>"),
                    (Some(name), None) => name.to_string(),
                    (None, None) => String::new(),
                })
                .collect();
            Some(rendered.join(", "))
        }
        _ => None,
    }
}

fn value_persons(value: &HeaderValue<'_>) -> Vec<Person> {
    match value {
        HeaderValue::Address(address) => address_persons(address),
        HeaderValue::Text(text) => parse_persons(text),
        HeaderValue::TextList(list) => parse_persons(&list.join(", ")),
        _ => Vec::new(),
    }
}

fn address_persons(address: &Address<'_>) -> Vec<Person> {
    let addrs: Vec<&Addr<'_>> = match address {
        Address::List(list) => list.iter().collect(),
        Address::Group(groups) => groups.iter().flat_map(|g| g.addresses.iter()).collect(),
    };
    addrs
        .into_iter()
        .filter_map(|a| person(a.address.as_deref()?, a.name.as_deref()))
        .collect()
}

/// Addresses in free text ("Name <addr>, addr"), by mail-parser's address
/// parser.
fn parse_persons(text: &str) -> Vec<Person> {
    let mut line: String = text
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    line.push('\n');
    match MessageStream::new(line.as_bytes()).parse_address() {
        HeaderValue::Address(address) => address_persons(&address),
        _ => Vec::new(),
    }
}

fn person(address: &str, name: Option<&str>) -> Option<Person> {
    let address = clean_address(address);
    if !looks_like_address(&address) {
        return None;
    }
    Some(Person {
        address,
        name: name.map(clean_name).filter(|n| !n.is_empty()),
    })
}

fn clean_address(address: &str) -> String {
    address
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control() && !is_invisible(*c))
        .take(320)
        .collect::<String>()
        .to_lowercase()
}

fn looks_like_address(address: &str) -> bool {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !address.contains(['<', '>', '(', ')', ',', ';', '"', '[', ']'])
        }
        None => false,
    }
}

/// A display name on one line, without surrounding quotes.
fn clean_name(name: &str) -> String {
    let line = clean_line(name);
    for quote in ['"', '\''] {
        if line.len() >= 2 && line.starts_with(quote) && line.ends_with(quote) {
            return line[1..line.len() - 1].trim().to_string();
        }
    }
    line
}

/// One line: control characters and line breaks become spaces, runs of
/// white space one space, bidi controls dropped; at most [`MAX_LINE`] bytes.
fn clean_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_LINE));
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            space = !out.is_empty();
            continue;
        }
        if is_invisible(c) {
            continue;
        }
        if out.len() + c.len_utf8() + 1 > MAX_LINE {
            break;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    out
}

/// Bidi controls and byte order marks: invisible, and used to disguise names.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Message ids without <>, white space or control characters.
fn ids(value: Option<&HeaderValue<'_>>) -> Vec<String> {
    let raw: Vec<&str> = match value {
        Some(HeaderValue::Text(id)) => vec![id.as_ref()],
        Some(HeaderValue::TextList(list)) => list.iter().map(|id| id.as_ref()).collect(),
        _ => Vec::new(),
    };
    let mut ids: Vec<String> = raw
        .into_iter()
        .map(|id| {
            id.chars()
                .filter(|&c| !c.is_whitespace() && !c.is_control() && c != '<' && c != '>')
                .take(998)
                .collect::<String>()
        })
        .filter(|id| !id.is_empty())
        .collect();
    if ids.len() > MAX_IDS {
        // The first (the thread's root) and the most recent ones.
        let tail = ids.split_off(ids.len() - (MAX_IDS - 1));
        ids.truncate(1);
        ids.extend(tail);
    }
    ids
}

fn naive_utc(date: &DateTime) -> Option<NaiveDateTime> {
    if !date.is_valid() {
        return None;
    }
    chrono::DateTime::from_timestamp(date.to_timestamp(), 0).map(|t| t.naive_utc())
}

/// The date's offset from UTC in seconds (east positive).
fn utc_offset_seconds(date: &DateTime) -> i32 {
    let seconds = i32::from(date.tz_hour) * 3600 + i32::from(date.tz_minute) * 60;
    if date.tz_before_gmt {
        -seconds
    } else {
        seconds
    }
}

fn envelope_address(mail_from: &str) -> Option<String> {
    let address = clean_address(mail_from);
    looks_like_address(&address).then_some(address)
}

fn is_null_sender(mail_from: &str) -> bool {
    matches!(mail_from.trim(), "" | "<>")
}

/// At most `max` bytes (on a character boundary), without NUL characters
/// (which PostgreSQL text cannot hold).
fn cap(mut text: String, max: usize) -> String {
    if text.contains('\0') {
        text = text.replace('\0', "");
    }
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

// ---------------------------------------------------------------------------
// Automated mail

fn automated(headers: &Headers<'_>, context: &Context<'_>, root: &Entity) -> Option<String> {
    let marker = context.loop_marker.trim();
    if !marker.is_empty()
        && headers
            .all("X-Loop")
            .filter_map(value_text)
            .any(|v| v.trim().eq_ignore_ascii_case(marker))
    {
        return Some("our own X-Loop".into());
    }
    // Bounces: the local part of From or Sender, however the header is
    // written ("MAILER-DAEMON" alone has no domain).
    let local_parts: Vec<String> = ["From", "Sender"]
        .iter()
        .filter_map(|name| headers.first(name))
        .flat_map(|value| match value {
            HeaderValue::Address(address) => match address {
                Address::List(list) => list.iter().collect::<Vec<_>>(),
                Address::Group(groups) => groups.iter().flat_map(|g| &g.addresses).collect(),
            }
            .into_iter()
            .filter_map(|a| a.address.as_deref().or(a.name.as_deref()))
            .map(|a| {
                a.split('@')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .collect::<Vec<_>>(),
            _ => Vec::new(),
        })
        .collect();
    if local_parts.iter().any(|l| l == "mailer-daemon") {
        return Some("from MAILER-DAEMON".into());
    }
    let report = root.is_type("multipart", "report");
    if local_parts.iter().any(|l| l == "postmaster") {
        let subject = headers.text("Subject").unwrap_or_default().to_lowercase();
        if report
            || [
                "undeliver",
                "delivery status",
                "delivery failure",
                "failure notice",
                "returned mail",
                "not delivered",
            ]
            .iter()
            .any(|s| subject.contains(s))
        {
            return Some("postmaster bounce".into());
        }
    }
    if report {
        return Some("delivery or disposition report (multipart/report)".into());
    }
    let token = |name: &str| {
        headers.text(name).map(|v| {
            clean_line(&v)
                .split([';', '(', ' '])
                .next()
                .unwrap_or("")
                .to_ascii_lowercase()
        })
    };
    if let Some(value) = token("Auto-Submitted") {
        if !value.is_empty() && value != "no" {
            return Some(format!("Auto-Submitted: {value}"));
        }
    }
    if let Some(value) = token("Precedence") {
        if matches!(value.as_str(), "bulk" | "junk" | "auto_reply") {
            return Some(format!("Precedence: {value}"));
        }
    }
    for name in ["X-Autoreply", "X-Autorespond"] {
        if token(name).is_some_and(|v| v != "no" && v != "false") {
            return Some(name.into());
        }
    }
    if let Some(value) = headers.text("X-Auto-Response-Suppress") {
        for item in value.split(',') {
            let item = clean_line(item);
            if ["all", "oof", "autoreply"]
                .iter()
                .any(|s| item.eq_ignore_ascii_case(s))
            {
                return Some(format!("X-Auto-Response-Suppress: {item}"));
            }
        }
    }
    if is_null_sender(context.mail_from) {
        return Some("null return path".into());
    }
    None
}

// ---------------------------------------------------------------------------
// Who wrote it

/// Strips any number of forward prefixes (Fwd:, FW:, WG:, TR:, RV:, I:,
/// Doorst:, PD:); says whether there was one.
fn strip_forward_prefixes(subject: &str) -> (&str, bool) {
    const PREFIXES: [&str; 8] = ["fwd", "fw", "wg", "tr", "rv", "i", "doorst", "pd"];
    let mut rest = subject.trim_start();
    let mut found = false;
    while let Some(colon) = rest.find([':', '：']) {
        let word = rest[..colon].trim();
        if !PREFIXES.iter().any(|p| word.eq_ignore_ascii_case(p)) {
            break;
        }
        let colon_len = rest[colon..].chars().next().map_or(1, char::len_utf8);
        rest = rest[colon + colon_len..].trim_start();
        found = true;
    }
    (rest, found)
}

/// The original message of a manual forward.
struct Original {
    from: Person,
    subject: Option<String>,
    date: Option<NaiveDateTime>,
    source: String,
}

const FROM_KEYS: [&str; 9] = ["from", "von", "de", "da", "van", "från", "fra", "od", "от"];
const DATE_KEYS: [&str; 14] = [
    "date",
    "sent",
    "wysłane",
    "datum",
    "gesendet",
    "envoyé",
    "envoye",
    "enviado",
    "inviato",
    "verzonden",
    "data",
    "skickat",
    "sendt",
    "fecha",
];
const SUBJECT_KEYS: [&str; 10] = [
    "subject",
    "betreff",
    "objet",
    "asunto",
    "oggetto",
    "onderwerp",
    "assunto",
    "ämne",
    "emne",
    "temat",
];
const OTHER_KEYS: [&str; 15] = [
    "to",
    "an",
    "à",
    "a",
    "para",
    "aan",
    "till",
    "til",
    "do",
    "cc",
    "dw",
    "kopie",
    "bcc",
    "reply-to",
    "antwort an",
];

#[derive(Clone, Copy, PartialEq)]
enum Key {
    From,
    Date,
    Subject,
    Other,
}

/// "Key: value" of a forwarded header line, with Gmail's and Outlook's
/// bold markers and French spacing tolerated.
fn block_line(line: &str) -> Option<(Key, &str)> {
    let colon = line.find([':', '：'])?;
    let key = line[..colon].trim().trim_matches('*').trim().to_lowercase();
    let colon_len = line[colon..].chars().next().map_or(1, char::len_utf8);
    let value = line[colon + colon_len..].trim().trim_matches('*').trim();
    let key = if FROM_KEYS.contains(&key.as_str()) {
        Key::From
    } else if DATE_KEYS.contains(&key.as_str()) {
        Key::Date
    } else if SUBJECT_KEYS.contains(&key.as_str()) {
        Key::Subject
    } else if OTHER_KEYS.contains(&key.as_str()) {
        Key::Other
    } else {
        return None;
    };
    Some((key, value))
}

#[derive(Clone, Copy)]
enum Marker {
    /// "---------- Forwarded message ---------" (Gmail) or
    /// "-------- Forwarded Message --------" (Thunderbird).
    Dashes,
    /// "Begin forwarded message:".
    Apple,
    /// "________________________________" or "-----Original Message-----".
    Outlook,
}

/// A line without its quote markers ("> > ") and surrounding white space.
fn unquote(line: &str) -> &str {
    line.trim_start_matches(|c: char| c == '>' || c.is_whitespace())
        .trim_end()
}

fn marker(line: &str) -> Option<Marker> {
    let t = unquote(line).trim_matches('*').trim();
    let lower = t.to_lowercase();
    if t.len() >= 10 && t.chars().all(|c| c == '_') {
        return Some(Marker::Outlook);
    }
    if t.starts_with("--") {
        let words = lower.trim_matches('-').trim();
        if [
            "original message",
            "ursprüngliche nachricht",
            "message d'origine",
            "mensaje original",
            "messaggio originale",
            "oorspronkelijk bericht",
        ]
        .contains(&words)
        {
            return Some(Marker::Outlook);
        }
        if [
            "forwarded message",
            "weitergeleitete nachricht",
            "message transféré",
            "mensaje reenviado",
            "messaggio inoltrato",
            "doorgestuurd bericht",
        ]
        .contains(&words)
        {
            return Some(Marker::Dashes);
        }
    }
    let words = lower.trim_end_matches([':', ' ', '\u{a0}']);
    if [
        "begin forwarded message",
        "anfang der weitergeleiteten nachricht",
        "début du message réexpédié",
        "inicio del mensaje reenviado",
        "inizio messaggio inoltrato",
        "begin doorgestuurd bericht",
    ]
    .contains(&words)
    {
        return Some(Marker::Apple);
    }
    None
}

/// The forwarded header block in a forward's text: Gmail, Outlook, Apple
/// Mail and Thunderbird forms. When the first block names a team member
/// (a forward of a forward), a later one that does not is preferred.
fn forwarded_block(text: &str, team: &[String], local_offset: i32) -> Option<Original> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found: Vec<Original> = Vec::new();
    let mut i = 0;
    while i < lines.len() && found.len() < 20 {
        let (start, kind) = if let Some(kind) = marker(lines[i]) {
            (i + 1, Some(kind))
        } else if matches!(block_line(unquote(lines[i])), Some((Key::From, _)))
            && lines[i + 1..]
                .iter()
                .take(2)
                .any(|l| matches!(block_line(unquote(l)), Some((Key::Date, _))))
        {
            // Outlook without a separator: "From:" then "Sent:".
            (i, None)
        } else {
            i += 1;
            continue;
        };
        match read_block(&lines, start, local_offset) {
            Some((mut original, first_key, end)) => {
                original.source = match kind {
                    Some(Marker::Dashes) if first_key == Key::Subject => {
                        "Thunderbird forwarded block in the body"
                    }
                    Some(Marker::Dashes) => "Gmail forwarded block in the body",
                    Some(Marker::Apple) => "Apple Mail forwarded block in the body",
                    Some(Marker::Outlook) | None => "Outlook forwarded block in the body",
                }
                .into();
                found.push(original);
                i = end.max(i + 1);
            }
            None => i += 1,
        }
    }
    let is_team = |o: &Original| team.iter().any(|t| t.eq_ignore_ascii_case(&o.from.address));
    match found.iter().position(|o| !is_team(o)) {
        Some(index) => Some(found.swap_remove(index)),
        None => found.into_iter().next(),
    }
}

/// Reads "Key: value" lines from `start`; returns the original, the first
/// key and the line after the block.
fn read_block(lines: &[&str], start: usize, local_offset: i32) -> Option<(Original, Key, usize)> {
    let mut from = None;
    let mut subject = None;
    let mut date = None;
    let mut first = None;
    let mut i = start;
    let mut blank = 0;
    while i < lines.len() && i < start + 30 {
        let line = unquote(lines[i]);
        if line.is_empty() {
            if first.is_some() {
                break;
            }
            blank += 1;
            if blank > 3 {
                return None;
            }
            i += 1;
            continue;
        }
        let Some((key, value)) = block_line(line) else {
            break;
        };
        first.get_or_insert(key);
        match key {
            Key::From if from.is_none() => from = Some(value),
            Key::Subject if subject.is_none() => subject = Some(clean_line(value)),
            Key::Date if date.is_none() => date = Some(value),
            _ => {}
        }
        i += 1;
    }
    let from = loose_person(from?)?;
    Some((
        Original {
            from,
            subject,
            date: date.and_then(|d| loose_date(d, local_offset)),
            source: String::new(),
        },
        first?,
        i,
    ))
}

/// "Name <addr>", "addr", or Outlook's "Name [mailto:addr]".
fn loose_person(value: &str) -> Option<Person> {
    if let Some(at) = value.to_ascii_lowercase().find("[mailto:") {
        let rest = &value[at + "[mailto:".len()..];
        let address = rest.split(']').next().unwrap_or("");
        return person(address, Some(&value[..at]));
    }
    parse_persons(value).into_iter().next()
}

/// A single attached message in a team member's forward.
fn attached_original(messages: &[&Entity], local_offset: i32) -> Option<Original> {
    let [message] = messages else {
        return None;
    };
    let Body::Message { message, .. } = &message.body else {
        return None;
    };
    let headers = Headers(&message.headers);
    let from = headers.persons("From").into_iter().next()?;
    let date = match headers.first("Date") {
        Some(HeaderValue::DateTime(date)) => naive_utc(date),
        _ => headers
            .text("Date")
            .and_then(|d| loose_date(&d, local_offset)),
    };
    Some(Original {
        from,
        subject: headers.text("Subject").map(|s| clean_line(&s)),
        date,
        source: "attached message/rfc822".into(),
    })
}

/// Dates as forwarding clients write them: "Mon, Mar 3, 2025 at 10:15 AM"
/// (Gmail), "Monday, March 3, 2025 10:15 AM" (Outlook), "3 March 2025 at
/// 10:15:02 CET" (Apple Mail), "Mon, 3 Mar 2025 10:15:02 +0100"
/// (Thunderbird), "poniedziałek, 3 marca 2025 16:47" (Outlook in Polish).
/// Without a zone the time is the forwarder's local time, taken from the
/// offset of the forward's own Date header.
fn loose_date(text: &str, local_offset: i32) -> Option<NaiveDateTime> {
    const WEEKDAYS: [&str; 28] = [
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat",
        "sun",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "pon",
        "wt",
        "śr",
        "czw",
        "pt",
        "sob",
        "niedz",
        "poniedziałek",
        "wtorek",
        "środa",
        "czwartek",
        "piątek",
        "sobota",
        "niedziela",
    ];
    // Written out: in English, and in Polish in the genitive ("3 marca
    // 2025") and the nominative.
    const MONTHS: [[&str; 3]; 12] = [
        ["january", "stycznia", "styczeń"],
        ["february", "lutego", "luty"],
        ["march", "marca", "marzec"],
        ["april", "kwietnia", "kwiecień"],
        ["may", "maja", "maj"],
        ["june", "czerwca", "czerwiec"],
        ["july", "lipca", "lipiec"],
        ["august", "sierpnia", "sierpień"],
        ["september", "września", "wrzesień"],
        ["october", "października", "październik"],
        ["november", "listopada", "listopad"],
        ["december", "grudnia", "grudzień"],
    ];
    const FORMATS: [&str; 16] = [
        "%b %d %Y %I:%M %p",
        "%b %d %Y %I:%M:%S %p",
        "%b %d %Y %H:%M",
        "%b %d %Y %H:%M:%S",
        "%d %b %Y %I:%M %p",
        "%d %b %Y %I:%M:%S %p",
        "%d %b %Y %H:%M",
        "%d %b %Y %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%m/%d/%Y %I:%M %p",
        "%m/%d/%Y %I:%M:%S %p",
        "%d/%m/%Y %H:%M",
        "%d/%m/%Y %H:%M:%S",
        "%d.%m.%Y %H:%M",
        "%d.%m.%Y %H:%M:%S",
    ];
    let text = clean_line(text);
    let mut tokens: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .map(|t| t.trim_matches(['(', ')']).to_string())
        .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("at"))
        .collect();
    if tokens
        .first()
        .is_some_and(|t| WEEKDAYS.contains(&t.trim_end_matches('.').to_lowercase().as_str()))
    {
        tokens.remove(0);
    }
    let mut offset = local_offset;
    while let Some(zone) = tokens.last().and_then(|t| zone_offset(t)) {
        offset = zone;
        tokens.pop();
    }
    let tokens: Vec<String> = tokens
        .into_iter()
        .flat_map(|t| {
            let lower = t.to_lowercase();
            if let Some([english, ..]) = MONTHS.iter().find(|names| names.contains(&&*lower)) {
                return vec![english[..3].to_string()];
            }
            // "10:15AM"
            for suffix in ["am", "pm"] {
                if lower.len() > 2 && lower.ends_with(suffix) && lower.contains(':') {
                    return vec![lower[..lower.len() - 2].to_string(), suffix.to_string()];
                }
            }
            vec![t.trim_end_matches('.').to_string()]
        })
        .collect();
    let normalized = tokens.join(" ");
    let local = FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(&normalized, f).ok())?;
    let utc = local.checked_sub_signed(TimeDelta::seconds(i64::from(offset)))?;
    (1970..=2200)
        .contains(&chrono::Datelike::year(&utc))
        .then_some(utc)
}

/// "+0100", "-08:00", "UTC", "GMT+1", "CET", ... in seconds east of UTC.
fn zone_offset(token: &str) -> Option<i32> {
    let upper = token.to_ascii_uppercase();
    let named = match upper.as_str() {
        "UT" | "UTC" | "GMT" | "Z" | "WET" => Some(0),
        "BST" | "CET" | "WEST" => Some(3600),
        "CEST" | "EET" | "SAST" => Some(7200),
        "EEST" | "MSK" => Some(3 * 3600),
        "EST" | "CDT" => Some(-5 * 3600),
        "EDT" => Some(-4 * 3600),
        "CST" | "MDT" => Some(-6 * 3600),
        "MST" | "PDT" => Some(-7 * 3600),
        "PST" => Some(-8 * 3600),
        "JST" | "KST" => Some(9 * 3600),
        _ => None,
    };
    if named.is_some() {
        return named;
    }
    let numeric = upper
        .strip_prefix("GMT")
        .or_else(|| upper.strip_prefix("UTC"))
        .unwrap_or(&upper);
    let (sign, digits) = match numeric.as_bytes().first()? {
        b'+' => (1, &numeric[1..]),
        b'-' => (-1, &numeric[1..]),
        _ => return None,
    };
    let digits: String = digits.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = if digits.len() <= 2 {
        (digits.parse::<i32>().ok()?, 0)
    } else {
        let split = digits.len() - 2;
        (
            digits[..split].parse::<i32>().ok()?,
            digits[split..].parse::<i32>().ok()?,
        )
    };
    (hours <= 14 && minutes < 60).then_some(sign * (hours * 3600 + minutes * 60))
}

/// A list that rewrote From, and the author it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRewrite {
    /// The original author the list names.
    pub author: Person,
    /// The list: the outer From, with the list's name from "via" if any.
    pub list: Person,
    /// Which header names the author, and who rewrote, for the decision
    /// log: "X-Original-From (Google Groups rewrote From)".
    pub source: String,
}

/// What one channel knows to judge a list rewrite.
#[derive(Debug, Clone, Copy)]
pub struct ListTrust<'a> {
    pub channel_id: i64,
    /// The outer message passed authentication: DMARC pass for its From
    /// domain, or a trusted ARC seal.
    pub authenticated: bool,
    /// The channel's sources (lower case).
    pub sources: &'a [String],
}

/// The contact of a message in one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub person: Person,
    pub forwarded_by: Option<Person>,
    /// Why, in words for the decision log.
    pub reason: String,
}

impl Reading {
    /// The author in a channel: a list rewrite's original author only when
    /// the list (the outer From) is one of the channel's sources and the
    /// message is authenticated; otherwise the outer From, with the reason
    /// the rewrite was ignored and the command that would trust it.
    pub fn author_in(&self, trust: &ListTrust<'_>) -> Author {
        let outer = |reason: String| Author {
            person: self.author.clone(),
            forwarded_by: self.forwarded_by.clone(),
            reason,
        };
        let Some(rewrite) = &self.list_rewrite else {
            return outer(self.author_reason.clone());
        };
        let list = &rewrite.list.address;
        let id = trust.channel_id;
        let source = trust.sources.iter().any(|s| s == list);
        let mut why = Vec::new();
        if !source {
            why.push(format!("{list} is not a source of channel {id}"));
        }
        if !trust.authenticated {
            why.push(
                "the message did not pass authentication (DMARC for its From domain, or a \
                 trusted ARC seal)"
                    .to_string(),
            );
        }
        if why.is_empty() {
            return Author {
                person: rewrite.author.clone(),
                forwarded_by: Some(rewrite.list.clone()),
                reason: format!("{}, from source {list}", rewrite.source),
            };
        }
        let advice = if source {
            String::new()
        } else {
            format!(
                "; if {list} is a list the channel trusts: \
                 `teaminbox-admin channel update {id} --source {list}`"
            )
        };
        outer(format!(
            "header From; the list rewrite naming {} in {} was ignored: {}{advice}",
            rewrite.author.address,
            rewrite.source,
            why.join(" and ")
        ))
    }
}

/// Google Groups and other lists that rewrite From for DMARC:
/// `"'Alice' via Support" <support@groups.example.com>` with the author in
/// X-Original-From, X-Original-Sender or Reply-To.
fn list_rewrite(headers: &Headers<'_>, from: &Person) -> Option<ListRewrite> {
    let via = from.name.as_deref().and_then(|name| {
        let lower = name.to_lowercase();
        let at = lower.find(" via ")?;
        // Lower-casing can change byte lengths; only split when it did not.
        (lower.len() == name.len()).then(|| {
            (
                clean_name(&name[..at]),
                clean_name(&name[at + " via ".len()..]),
            )
        })
    });
    let differs = |p: &Person| p.address != from.address;
    let list_post_is_from = headers
        .text("List-Post")
        .is_some_and(|v| v.to_lowercase().contains(&from.address));
    let (author, header) =
        if let Some(p) = headers.persons("X-Original-From").into_iter().find(differs) {
            (p, "X-Original-From")
        } else if let Some(p) = headers
            .persons("X-Original-Sender")
            .into_iter()
            .find(|p| differs(p) && (via.is_some() || list_post_is_from))
        {
            (p, "X-Original-Sender")
        } else if let Some(p) = via
            .as_ref()
            .and_then(|_| headers.persons("Reply-To").into_iter().find(differs))
        {
            (p, "Reply-To")
        } else {
            return None;
        };
    let google = headers.first("X-Google-Group-Id").is_some()
        || headers
            .text("List-Id")
            .is_some_and(|v| v.to_lowercase().contains("google"))
        || headers.first("Mailing-list").is_some();
    let who = if google { "Google Groups" } else { "the list" };
    let via_author = via
        .as_ref()
        .map(|(a, _)| a.clone())
        .filter(|a| !a.is_empty());
    let via_list = via
        .as_ref()
        .map(|(_, l)| l.clone())
        .filter(|l| !l.is_empty());
    Some(ListRewrite {
        author: Person {
            name: author.name.clone().or(via_author),
            address: author.address,
        },
        list: Person {
            address: from.address.clone(),
            name: via_list.or_else(|| from.name.clone()),
        },
        source: format!("{header} ({who} rewrote From)"),
    })
}

/// Who forwarded an automatic forward, and which header says so.
fn forwarder(
    headers: &Headers<'_>,
    from: Option<&Person>,
    context: &Context<'_>,
) -> Option<(Person, String)> {
    let from_address = from.map_or("", |p| p.address.as_str());
    let usable = |p: &Person| {
        p.address != from_address
            && !context
                .recipients
                .iter()
                .any(|r| r.trim().eq_ignore_ascii_case(&p.address))
    };
    let tokens = |value: &HeaderValue<'_>| -> Vec<Person> {
        value_text(value)
            .map(|v| {
                v.split(|c: char| c.is_whitespace() || c == ',')
                    .filter_map(|t| person(t, None))
                    .collect()
            })
            .unwrap_or_else(|| value_persons(value))
    };
    // Gmail: "X-Forwarded-For: forwarder@example.com destination@example.net".
    if let Some(p) = headers
        .all("X-Forwarded-For")
        .flat_map(tokens)
        .find(&usable)
    {
        return Some((p, "X-Forwarded-For".into()));
    }
    if let Some(p) = headers.persons("Resent-From").into_iter().find(&usable) {
        return Some((p, "Resent-From".into()));
    }
    // Exchange and Microsoft 365 inbox rules that forward or redirect.
    if let Some(p) = headers
        .all("X-MS-Exchange-Inbox-Rules-Loop")
        .flat_map(tokens)
        .find(&usable)
    {
        return Some((p, "X-MS-Exchange-Inbox-Rules-Loop".into()));
    }
    let envelope = envelope_address(context.mail_from);
    // Gmail's forwarding envelope: "mailbox+caf_=destination=domain@...".
    if let Some(envelope) = &envelope {
        if let (Some(plus), Some((_, domain))) =
            (envelope.find("+caf_="), envelope.rsplit_once('@'))
        {
            let p = Person {
                address: format!("{}@{domain}", &envelope[..plus]),
                name: None,
            };
            if usable(&p) {
                return Some((p, "the envelope sender (Gmail forwarding)".into()));
            }
        }
    }
    for name in ["Delivered-To", "X-Forwarded-To"] {
        if let Some(p) = headers.all(name).flat_map(tokens).find(&usable) {
            return Some((p, name.into()));
        }
    }
    // A list that did not rewrite From.
    if headers.first("List-Id").is_some() {
        let post = headers.text("List-Post").unwrap_or_default();
        let list = post
            .to_lowercase()
            .split("mailto:")
            .nth(1)
            .and_then(|rest| person(rest.split(['>', '?', ',']).next().unwrap_or(""), None));
        if let Some(mut list) = list.filter(&usable) {
            list.name = headers.text("List-Id").and_then(|id| {
                let name = clean_name(id.split('<').next().unwrap_or(""));
                (!name.is_empty()).then_some(name)
            });
            return Some((list, "List-Post".into()));
        }
    }
    let envelope = envelope?;
    let envelope_domain = envelope.rsplit_once('@').map_or("", |(_, d)| d);
    let from_domain = from_address.rsplit_once('@').map_or("", |(_, d)| d);
    let related = |a: &str, b: &str| a == b || a.ends_with(&format!(".{b}"));
    if from_domain.is_empty()
        || related(envelope_domain, from_domain)
        || related(from_domain, envelope_domain)
    {
        return None;
    }
    let local = envelope.split('@').next().unwrap_or("");
    let srs = local.starts_with("srs0=") || local.starts_with("srs1=");
    let p = Person {
        address: envelope.clone(),
        name: srs.then(|| envelope_domain.to_string()),
    };
    usable(&p).then(|| {
        let source = if srs {
            "the envelope sender (SRS)"
        } else {
            "the envelope sender"
        };
        (p, source.into())
    })
}

// ---------------------------------------------------------------------------
// Forwarding confirmations

/// Gmail's forwarding confirmation, trusted only from
/// forwarding-noreply@google.com on an authenticated message.
fn gmail_verification(
    from: Option<&Person>,
    subject: &str,
    text: &str,
    html: Option<&str>,
    context: &Context<'_>,
) -> Option<Verification> {
    if from?.address != "forwarding-noreply@google.com" || !context.authenticated {
        return None;
    }
    let code = nine_digits(subject).or_else(|| nine_digits(text))?;
    let link = verification_link(text).or_else(|| html.and_then(verification_link));
    let requested_by = addresses_in(subject)
        .into_iter()
        .find(|a| !a.ends_with("google.com"))
        .or_else(|| {
            text.lines()
                .find(|l| l.to_lowercase().contains("has requested"))
                .and_then(|l| addresses_in(l).into_iter().next())
        })
        .or_else(|| {
            addresses_in(text).into_iter().find(|a| {
                !a.ends_with("google.com")
                    && !context.recipients.iter().any(|r| r.eq_ignore_ascii_case(a))
            })
        })
        .unwrap_or_default();
    Some(Verification {
        provider: "gmail".into(),
        code,
        link,
        requested_by,
    })
}

/// The first run of exactly nine digits.
fn nine_digits(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i - start == 9 {
                return Some(text[start..i].to_string());
            }
        } else {
            i += 1;
        }
    }
    None
}

/// Gmail's confirmation link: https://mail-settings.google.com/mail/vf-...
/// or https://mail.google.com/mail/vf-...
fn verification_link(text: &str) -> Option<String> {
    for (at, _) in text.match_indices("https://") {
        let rest = &text[at..];
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')' | ']'))
            .unwrap_or(rest.len());
        let url = rest[..end]
            .replace("&amp;", "&")
            .trim_end_matches(['.', ','])
            .to_string();
        let Some((host, path)) = url["https://".len()..].split_once('/') else {
            continue;
        };
        let host = host.to_ascii_lowercase();
        if matches!(
            host.as_str(),
            "mail-settings.google.com" | "mail.google.com" | "isolated.mail.google.com"
        ) && path.starts_with("mail/vf-")
        {
            return Some(url);
        }
    }
    None
}

/// Addresses written in free text, lower case.
fn addresses_in(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || "()<>[],;:\"'".contains(c))
        .filter(|t| t.contains('@'))
        .map(|t| clean_address(t.trim_end_matches('.')))
        .filter(|a| {
            looks_like_address(a) && a.rsplit_once('@').is_some_and(|(_, d)| d.contains('.'))
        })
        .collect()
}
