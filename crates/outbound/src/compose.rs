//! Composing outbound mail with mail-builder: never by string
//! concatenation, and every value from outside checked for line breaks and
//! control characters first.

use mail_builder::{headers::address::Address, MessageBuilder};

/// A reply to a conversation, ready to compose.
pub struct ReplyDraft<'a> {
    pub from_name: &'a str,
    pub from_address: &'a str,
    pub to_name: Option<&'a str>,
    pub to_address: &'a str,
    /// The conversation's subject; `Re: ` is added once.
    pub subject: &'a str,
    /// The Message-IDs (without <>) this reply answers, oldest first: the
    /// last one is `In-Reply-To`; `References` keeps the first and the last
    /// [`REFERENCES_KEPT`] of them.
    pub references: &'a [String],
    pub text: &'a str,
    /// HTML body; with it the text is the plain alternative.
    pub html: Option<&'a str>,
    /// Our `X-Loop` marker.
    pub loop_marker: &'a str,
}

/// A notification to a team member (owner away): marked auto-generated, so
/// it can never start a loop.
pub struct NotificationDraft<'a> {
    pub from_address: &'a str,
    pub to_address: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub loop_marker: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    pub raw: Vec<u8>,
    /// Without <>.
    pub message_id: String,
}

/// A value that would break a header.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{field} contains a line break or control character: `{value}`")]
pub struct UnsafeHeader {
    pub field: &'static str,
    pub value: String,
}

fn checked<'a>(field: &'static str, value: &'a str) -> Result<&'a str, UnsafeHeader> {
    if value.chars().any(char::is_control) {
        return Err(UnsafeHeader {
            field,
            value: teaminbox_store::address::printable(value),
        });
    }
    Ok(value)
}

/// `Re: ` once, however many `Re:`/`RE:`/`Aw:` the subject already has.
pub fn reply_subject(subject: &str) -> String {
    let mut rest = subject.trim();
    loop {
        let lower = rest.to_ascii_lowercase();
        let stripped = ["re:", "aw:", "sv:", "antw:"]
            .iter()
            .find(|p| lower.starts_with(**p))
            .map(|p| rest[p.len()..].trim_start());
        match stripped {
            Some(s) => rest = s,
            None => break,
        }
    }
    format!("Re: {rest}")
}

/// A Message-ID in the From address's domain.
pub fn new_message_id(from_address: &str) -> String {
    let domain = from_address
        .rsplit_once('@')
        .map_or("localhost", |(_, d)| d);
    let random: u128 = rand::random();
    format!("{random:032x}@{domain}")
}

pub fn compose_reply(draft: &ReplyDraft<'_>) -> Result<Composed, UnsafeHeader> {
    let from_name = checked("From name", draft.from_name)?;
    let from_address = checked("From address", draft.from_address)?;
    let to_address = checked("To address", draft.to_address)?;
    let to_name = draft.to_name.map(|n| checked("To name", n)).transpose()?;
    let subject = reply_subject(checked("Subject", draft.subject)?);
    for reference in draft.references {
        checked("References", reference)?;
    }
    let message_id = new_message_id(from_address);
    let mut builder = MessageBuilder::new()
        .from(Address::new_address(Some(from_name), from_address))
        .to(Address::new_address(to_name, to_address))
        .subject(subject)
        .message_id(message_id.clone())
        .date(chrono::Utc::now().timestamp())
        .header(
            "X-Loop",
            mail_builder::headers::raw::Raw::new(checked("X-Loop", draft.loop_marker)?.to_owned()),
        );
    if let Some(last) = draft.references.last() {
        builder = builder
            .in_reply_to(last.clone())
            .references(capped_references(draft.references));
    }
    builder = builder.text_body(draft.text.to_owned());
    if let Some(html) = draft.html {
        builder = builder.html_body(html.to_owned());
    }
    Ok(Composed {
        raw: builder
            .write_to_vec()
            .expect("writing to memory cannot fail"),
        message_id,
    })
}

/// How many of the newest Message-IDs a reply's `References` keeps, besides
/// the first (the thread's root, which clients thread by).
pub const REFERENCES_KEPT: usize = 10;

/// The first id and the last [`REFERENCES_KEPT`], as RFC 5322 section
/// 3.6.4 allows trimming: a long thread's `References` stays well within
/// line and header limits (many receivers refuse headers past 8 or 16 KiB).
fn capped_references(ids: &[String]) -> Vec<String> {
    if ids.len() <= REFERENCES_KEPT + 1 {
        return ids.to_vec();
    }
    std::iter::once(&ids[0])
        .chain(&ids[ids.len() - REFERENCES_KEPT..])
        .cloned()
        .collect()
}

pub fn compose_notification(draft: &NotificationDraft<'_>) -> Result<Composed, UnsafeHeader> {
    let message_id = new_message_id(checked("From address", draft.from_address)?);
    let raw = MessageBuilder::new()
        .from(Address::new_address(Some("teaminbox"), draft.from_address))
        .to(checked("To address", draft.to_address)?)
        .subject(checked("Subject", draft.subject)?.to_owned())
        .message_id(message_id.clone())
        .date(chrono::Utc::now().timestamp())
        .header(
            "Auto-Submitted",
            mail_builder::headers::raw::Raw::new("auto-generated"),
        )
        .header(
            "X-Loop",
            mail_builder::headers::raw::Raw::new(checked("X-Loop", draft.loop_marker)?.to_owned()),
        )
        .text_body(draft.text.to_owned())
        .write_to_vec()
        .expect("writing to memory cannot fail");
    Ok(Composed { raw, message_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft<'a>(references: &'a [String]) -> ReplyDraft<'a> {
        ReplyDraft {
            from_name: "Jane Doe at Acme",
            from_address: "jane@inbox.example.com",
            to_name: Some("Carol"),
            to_address: "carol@example.org",
            subject: "RE: Re: Printer on fire",
            references,
            text: "We are on it.\n\nJane",
            html: Some("<p>We are on it.</p><p>Jane</p>"),
            loop_marker: "teaminbox@inbox.example.com",
        }
    }

    #[test]
    fn re_is_added_once() {
        assert_eq!(reply_subject("Printer"), "Re: Printer");
        assert_eq!(reply_subject("Re: RE: aw: Printer"), "Re: Printer");
        assert_eq!(
            reply_subject("Regarding the printer"),
            "Re: Regarding the printer"
        );
    }

    #[test]
    fn references_keep_the_first_and_the_last_ten() {
        let ids: Vec<String> = (1..=50).map(|n| format!("m{n}@example.org")).collect();
        let composed = compose_reply(&draft(&ids)).unwrap();
        let message = mail_parser::MessageParser::default()
            .parse(&composed.raw)
            .unwrap();
        let kept: Vec<String> = message
            .references()
            .as_text_list()
            .unwrap()
            .iter()
            .map(|id| id.to_string())
            .collect();
        let expected: Vec<String> = std::iter::once(1)
            .chain(41..=50)
            .map(|n| format!("m{n}@example.org"))
            .collect();
        assert_eq!(kept, expected);
        assert_eq!(
            message.in_reply_to().as_text(),
            Some("m50@example.org"),
            "In-Reply-To is the newest"
        );
        let eleven = &ids[..11];
        assert_eq!(
            capped_references(eleven),
            eleven.to_vec(),
            "short threads keep all"
        );
    }

    #[test]
    fn a_reply_threads_and_carries_both_bodies() {
        let refs = vec!["a@example.org".to_owned(), "b@example.org".to_owned()];
        let composed = compose_reply(&draft(&refs)).unwrap();
        let text = String::from_utf8(composed.raw).unwrap();
        assert!(
            text.contains("From: \"Jane Doe at Acme\" <jane@inbox.example.com>\r\n"),
            "{text}"
        );
        assert!(
            text.contains("To: \"Carol\" <carol@example.org>\r\n"),
            "{text}"
        );
        assert!(text.contains("Subject: Re: Printer on fire\r\n"), "{text}");
        assert!(text.contains("In-Reply-To: <b@example.org>\r\n"), "{text}");
        assert!(
            text.contains("References: <a@example.org> <b@example.org>\r\n"),
            "{text}"
        );
        assert!(
            text.contains(&format!("Message-ID: <{}>\r\n", composed.message_id)),
            "{text}"
        );
        assert!(composed.message_id.ends_with("@inbox.example.com"));
        assert!(text.contains("multipart/alternative"), "{text}");
        assert!(
            text.contains("X-Loop: teaminbox@inbox.example.com\r\n"),
            "{text}"
        );
    }

    #[test]
    fn line_breaks_never_reach_a_header() {
        let refs = Vec::new();
        for bad in [
            ReplyDraft {
                from_name: "Jane\r\nBcc: all@example.org",
                ..draft(&refs)
            },
            ReplyDraft {
                subject: "Hi\nBcc: x@example.org",
                ..draft(&refs)
            },
            ReplyDraft {
                to_address: "carol@example.org\r\n",
                ..draft(&refs)
            },
        ] {
            let e = compose_reply(&bad).unwrap_err();
            assert!(!e.to_string().contains('\n'), "{e}");
        }
        let refs = vec!["x@example.org>\r\nBcc: y@example.org".to_owned()];
        assert!(compose_reply(&draft(&refs)).is_err());
    }

    #[test]
    fn notifications_cannot_start_a_loop() {
        let composed = compose_notification(&NotificationDraft {
            from_address: "teaminbox@inbox.example.com",
            to_address: "owner@acme.example",
            subject: "New conversation",
            text: "Carol wrote.",
            loop_marker: "teaminbox@inbox.example.com",
        })
        .unwrap();
        let text = String::from_utf8(composed.raw).unwrap();
        assert!(
            text.contains("Auto-Submitted: auto-generated\r\n"),
            "{text}"
        );
        assert!(
            text.contains("X-Loop: teaminbox@inbox.example.com\r\n"),
            "{text}"
        );
    }
}
