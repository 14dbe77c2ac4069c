//! The MIME walk: entities, the bounded walker, multipart splitting and
//! quoted-printable decoding.

use super::*;

/// One MIME entity: a message or a part, with its headers.
pub(super) struct Entity {
    pub(super) headers: Vec<Header<'static>>,
    /// Content-Type and Content-Disposition as written, for file names
    /// that the parsed value mangled.
    pub(super) raw_mime: String,
    /// Lower case; defaulted (text/plain, or message/rfc822 in a digest).
    pub(super) ctype: String,
    pub(super) subtype: String,
    pub(super) body: Body,
}

pub(super) enum Body {
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
pub(super) struct Walker {
    pub(super) parser: MessageParser,
    pub(super) parts: usize,
    pub(super) header_lines: usize,
    pub(super) decoded: usize,
    pub(super) stopped: bool,
    pub(super) problems: Vec<String>,
}

impl Walker {
    pub(super) fn note(&mut self, problem: &str) {
        if self.problems.len() < 8 && !self.problems.iter().any(|p| p == problem) {
            self.problems.push(problem.to_string());
        }
    }

    pub(super) fn skipped() -> Entity {
        Entity {
            headers: Vec::new(),
            raw_mime: String::new(),
            ctype: String::new(),
            subtype: String::new(),
            body: Body::Skipped,
        }
    }

    /// Reads the entity in `bytes` (headers, blank line, body).
    pub(super) fn entity(&mut self, bytes: &[u8], depth: usize, in_digest: bool) -> Entity {
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

    pub(super) fn too_many_parts(&mut self) {
        self.stopped = true;
        self.note("too many MIME parts (more than 1000): the rest were not read");
    }

    pub(super) fn leaf(&mut self, body: &[u8], encoding: &str) -> Body {
        self.decode(body, encoding)
            .map_or(Body::Skipped, Body::Leaf)
    }

    /// The header block of an entity, its Content-Type and
    /// Content-Disposition as written, and where its body starts. The block
    /// ends at the first empty line; past [`MAX_HEADER_LINES`] lines (or
    /// what is left of [`MAX_TOTAL_HEADER_LINES`]) the rest of it is not
    /// parsed.
    pub(super) fn headers(&mut self, bytes: &[u8]) -> (Vec<Header<'static>>, String, usize) {
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
    pub(super) fn decode(&mut self, body: &[u8], encoding: &str) -> Option<Vec<u8>> {
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

pub(super) fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes
        .get(from..)
        .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
        .map_or(bytes.len(), |i| from + i)
}

pub(super) struct Split<'a> {
    pub(super) parts: Vec<&'a [u8]>,
    /// A delimiter line was seen.
    pub(super) found: bool,
    /// The closing delimiter was seen.
    pub(super) closed: bool,
    /// More than `limit` parts: the rest were not split off.
    pub(super) truncated: bool,
}

/// Splits a multipart body at its delimiter lines ("--boundary", optionally
/// followed by "--" for the last one, then white space). The preamble and
/// the epilogue are dropped; the line break before a delimiter belongs to
/// the delimiter.
pub(super) fn split_multipart<'a>(body: &'a [u8], boundary: &[u8], limit: usize) -> Split<'a> {
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
pub(super) fn quoted_printable(bytes: &[u8]) -> (Vec<u8>, bool) {
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
