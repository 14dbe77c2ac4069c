//! Header access, people and addresses, message ids, dates from headers
//! and line cleaning.

use super::*;

pub(super) struct Headers<'h>(pub(super) &'h [Header<'static>]);

impl<'h> Headers<'h> {
    pub(super) fn all<'s>(
        &'s self,
        name: &'s str,
    ) -> impl Iterator<Item = &'h HeaderValue<'static>> + 's {
        self.0
            .iter()
            .filter(move |h| h.name.as_str().eq_ignore_ascii_case(name))
            .map(|h| &h.value)
    }

    pub(super) fn first(&self, name: &str) -> Option<&'h HeaderValue<'static>> {
        self.all(name).next()
    }

    pub(super) fn text(&self, name: &str) -> Option<String> {
        self.first(name).and_then(value_text)
    }

    pub(super) fn persons(&self, name: &str) -> Vec<Person> {
        self.first(name).map(value_persons).unwrap_or_default()
    }

    pub(super) fn content_type(&self, name: &str) -> Option<&'h ContentType<'static>> {
        self.first(name).and_then(|v| v.as_content_type())
    }
}

/// A header's value as text; addresses (mail-parser parses List-Id and
/// List-Post as addresses) as "name <address>, ...".
pub(super) fn value_text(value: &HeaderValue<'_>) -> Option<String> {
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

pub(super) fn value_persons(value: &HeaderValue<'_>) -> Vec<Person> {
    match value {
        HeaderValue::Address(address) => address_persons(address),
        HeaderValue::Text(text) => parse_persons(text),
        HeaderValue::TextList(list) => parse_persons(&list.join(", ")),
        _ => Vec::new(),
    }
}

pub(super) fn address_persons(address: &Address<'_>) -> Vec<Person> {
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
pub(super) fn parse_persons(text: &str) -> Vec<Person> {
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

pub(super) fn person(address: &str, name: Option<&str>) -> Option<Person> {
    let address = clean_address(address);
    if !looks_like_address(&address) {
        return None;
    }
    Some(Person {
        address,
        name: name.map(clean_name).filter(|n| !n.is_empty()),
    })
}

pub(super) fn clean_address(address: &str) -> String {
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

pub(super) fn looks_like_address(address: &str) -> bool {
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
pub(super) fn clean_name(name: &str) -> String {
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
pub(super) fn clean_line(text: &str) -> String {
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
pub(super) fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Message ids without <>, white space or control characters.
pub(super) fn ids(value: Option<&HeaderValue<'_>>) -> Vec<String> {
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

pub(super) fn naive_utc(date: &DateTime) -> Option<NaiveDateTime> {
    if !date.is_valid() {
        return None;
    }
    chrono::DateTime::from_timestamp(date.to_timestamp(), 0).map(|t| t.naive_utc())
}

/// The date's offset from UTC in seconds (east positive).
pub(super) fn utc_offset_seconds(date: &DateTime) -> i32 {
    let seconds = i32::from(date.tz_hour) * 3600 + i32::from(date.tz_minute) * 60;
    if date.tz_before_gmt {
        -seconds
    } else {
        seconds
    }
}

pub(super) fn envelope_address(mail_from: &str) -> Option<String> {
    let address = clean_address(mail_from);
    looks_like_address(&address).then_some(address)
}

pub(super) fn is_null_sender(mail_from: &str) -> bool {
    matches!(mail_from.trim(), "" | "<>")
}

/// At most `max` bytes (on a character boundary), without NUL characters
/// (which PostgreSQL text cannot hold).
pub(super) fn cap(mut text: String, max: usize) -> String {
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
