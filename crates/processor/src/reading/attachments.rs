//! Attachments: filenames and media types.

use super::*;

pub(super) fn attachment(leaf: &Entity, content: Vec<u8>, in_body: bool) -> Attachment {
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

pub(super) fn media_type(ctype: &str, subtype: &str) -> String {
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

pub(super) fn extension_for(content_type: &str) -> &'static str {
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
