//! Who wrote a forward: manual forward blocks, attached originals and the
//! forwarder of an automatic forward.

use super::*;

/// Strips any number of forward prefixes (Fwd:, FW:, WG:, TR:, RV:, I:,
/// Doorst:, PD:); says whether there was one.
pub(super) fn strip_forward_prefixes(subject: &str) -> (&str, bool) {
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
pub(super) struct Original {
    pub(super) from: Person,
    pub(super) subject: Option<String>,
    pub(super) date: Option<NaiveDateTime>,
    pub(super) source: String,
}

pub(super) const FROM_KEYS: [&str; 9] =
    ["from", "von", "de", "da", "van", "från", "fra", "od", "от"];
pub(super) const DATE_KEYS: [&str; 14] = [
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
pub(super) const SUBJECT_KEYS: [&str; 10] = [
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
pub(super) const OTHER_KEYS: [&str; 15] = [
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
pub(super) enum Key {
    From,
    Date,
    Subject,
    Other,
}

/// "Key: value" of a forwarded header line, with Gmail's and Outlook's
/// bold markers and French spacing tolerated.
pub(super) fn block_line(line: &str) -> Option<(Key, &str)> {
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
pub(super) enum Marker {
    /// "---------- Forwarded message ---------" (Gmail) or
    /// "-------- Forwarded Message --------" (Thunderbird).
    Dashes,
    /// "Begin forwarded message:".
    Apple,
    /// "________________________________" or "-----Original Message-----".
    Outlook,
}

/// A line without its quote markers ("> > ") and surrounding white space.
pub(super) fn unquote(line: &str) -> &str {
    line.trim_start_matches(|c: char| c == '>' || c.is_whitespace())
        .trim_end()
}

pub(super) fn marker(line: &str) -> Option<Marker> {
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
pub(super) fn forwarded_block(text: &str, team: &[String], local_offset: i32) -> Option<Original> {
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
pub(super) fn read_block(
    lines: &[&str],
    start: usize,
    local_offset: i32,
) -> Option<(Original, Key, usize)> {
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
pub(super) fn loose_person(value: &str) -> Option<Person> {
    if let Some(at) = value.to_ascii_lowercase().find("[mailto:") {
        let rest = &value[at + "[mailto:".len()..];
        let address = rest.split(']').next().unwrap_or("");
        return person(address, Some(&value[..at]));
    }
    parse_persons(value).into_iter().next()
}

/// A single attached message in a team member's forward.
pub(super) fn attached_original(messages: &[&Entity], local_offset: i32) -> Option<Original> {
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

/// Who forwarded an automatic forward, and which header says so.
pub(super) fn forwarder(
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
