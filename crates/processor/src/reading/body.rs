//! Bodies: the message's text, HTML, attachments and attached messages,
//! collected from the walked MIME tree.

use super::*;

/// The message's text, HTML, attachments and attached messages.
pub(super) struct Content<'e> {
    /// At most [`MAX_TEXT`] bytes.
    pub(super) text: String,
    /// At most [`MAX_HTML`] bytes.
    pub(super) html: Option<String>,
    pub(super) attachments: Vec<Attachment>,
    /// Attached messages (message/rfc822) at the top level, in order.
    pub(super) messages: Vec<&'e Entity>,
}

impl<'e> Content<'e> {
    /// Chooses the text and HTML bodies as JMAP does (RFC 8621, 4.1.4);
    /// every other leaf is an attachment.
    pub(super) fn collect(root: &'e Entity, walker: &mut Walker) -> Self {
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
    pub(super) fn is_type(&self, ctype: &str, subtype: &str) -> bool {
        self.ctype == ctype && self.subtype == subtype
    }

    pub(super) fn is_media(&self) -> bool {
        matches!(self.ctype.as_str(), "image" | "audio" | "video")
    }

    pub(super) fn disposition(&self) -> Option<&ContentType<'static>> {
        Headers(&self.headers).content_type("Content-Disposition")
    }

    pub(super) fn is_attachment(&self) -> bool {
        self.disposition().is_some_and(|d| d.is_attachment())
    }

    /// The file name as sent, from Content-Disposition or Content-Type.
    pub(super) fn raw_filename(&self) -> Option<String> {
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
pub(super) fn backslash_tail(raw: &str) -> Option<&str> {
    let lower = raw.to_ascii_lowercase();
    let at = lower.find("name=\"")? + "name=\"".len();
    let value = raw[at..].split('"').next()?;
    value.rsplit_once('\\').map(|(_, tail)| tail)
}

/// RFC 8621's parseStructure: which leaves are the text and the HTML body.
pub(super) fn body_structure<'e>(
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
pub(super) fn collect_leaves<'e>(entity: &'e Entity, out: &mut Vec<&'e Entity>) {
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
pub(super) fn part_text(part: &Entity) -> String {
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
