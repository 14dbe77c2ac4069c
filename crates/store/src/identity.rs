//! Who a reply is from: the From name and address of mail a team member
//! sends from a channel. The admin's `channel preview` and the reply
//! composer both ask [`from_header`], so what the admin previews is what
//! the contact gets.
//!
//! - From name: `agent-and-company` gives "Jane Doe at Acme", `company`
//!   gives "Acme" (the company form, which one hosted address only may use).
//! - From address: the channel's custom `from_address`, or else the
//!   sender's USERNAME@`[outbound] default_from_domain`.

use crate::{
    model::FromNameMode,
    model::{Channel, User},
};
use serde::Serialize;

/// The team member a reply is from, as far as the From header and the
/// signature need them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sender<'a> {
    pub first_name: &'a str,
    pub last_name: &'a str,
    /// The local part of their default From address.
    pub username: &'a str,
}

impl Sender<'static> {
    /// The sample agent `channel preview` shows without `--as`.
    pub const SAMPLE: Self = Self {
        first_name: "Jane",
        last_name: "Doe",
        username: "jane",
    };
}

impl<'a> Sender<'a> {
    /// "Jane Doe": first and last name, one line.
    pub fn full_name(&self) -> String {
        header_safe(&format!("{} {}", self.first_name, self.last_name))
    }

    /// "Jane", one line.
    pub fn first_name(&self) -> String {
        header_safe(self.first_name)
    }
}

impl<'a> From<&'a User> for Sender<'a> {
    fn from(user: &'a User) -> Self {
        Self {
            first_name: &user.first_name,
            last_name: &user.last_name,
            username: &user.username,
        }
    }
}

/// The From of a reply: a display name (one line, no control characters)
/// and an address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FromHeader {
    pub name: String,
    pub address: String,
}

impl FromHeader {
    /// The header as a mail client shows it: `"Jane Doe at Acme"
    /// <jane@inbox.example.com>` (the name quoted, `"` and `\` escaped).
    pub fn display(&self) -> String {
        let quoted = self.name.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{quoted}\" <{}>", self.address)
    }

    /// The header's value as it goes on the wire (after `From: `, without
    /// the final CRLF): quoted or RFC 2047-encoded by mail-builder, folded
    /// if long.
    pub fn header_value(&self) -> String {
        use mail_builder::headers::{address::Address, Header};
        let mut out = Vec::new();
        Address::new_address(Some(self.name.as_str()), self.address.as_str())
            .write_header(&mut out, "From: ".len());
        let text = String::from_utf8_lossy(&out);
        text.strip_suffix("\r\n").unwrap_or(&text).to_owned()
    }
}

/// The From name and address of a reply by `sender` from `channel`.
pub fn from_header(
    channel: &Channel,
    sender: &Sender<'_>,
    default_from_domain: &str,
) -> FromHeader {
    let company = company_from_name(&channel.company);
    let full_name = sender.full_name();
    let name = match channel.from_name_mode {
        FromNameMode::AgentAndCompany if !full_name.is_empty() => {
            format!("{full_name} at {company}")
        }
        _ => company,
    };
    let address = match &channel.from_address {
        Some(address) => address.clone(),
        None => format!(
            "{}@{}",
            local_part(sender.username),
            default_from_domain.to_ascii_lowercase()
        ),
    };
    FromHeader { name, address }
}

/// The company form of a channel's From name: the company, on one line.
pub fn company_from_name(company: &str) -> String {
    header_safe(company)
}

/// What makes two company From names the same: the company form in lower
/// case (the database keeps it unique).
pub fn company_from_name_key(company: &str) -> String {
    company_from_name(company).to_lowercase()
}

/// Text for a header: control characters (line breaks included) become
/// spaces, runs of blanks one space, no blanks at the ends.
pub fn header_safe(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A username as the local part of an address: kept when it is letters,
/// digits and `. _ + -` (no leading, trailing or double dot), in lower
/// case; otherwise made into one (`Jane Doe` becomes `jane-doe`).
pub fn local_part(username: &str) -> String {
    let lower = username.trim().to_ascii_lowercase();
    if !lower.is_empty() && crate::address::is_plain_local_part(&lower) {
        return lower;
    }
    let slug = slug::slugify(username);
    if slug.is_empty() {
        "agent".to_owned()
    } else {
        slug
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AssignMode;

    fn channel(mode: FromNameMode, from_address: Option<&str>) -> Channel {
        Channel {
            id: 1,
            name: "Support".into(),
            company: "Acme".into(),
            forwarding_address: "support@inbox.example.com".into(),
            status: "draft".into(),
            enabled: true,
            created_at: chrono::NaiveDateTime::default(),
            assign_mode: AssignMode::Off,
            assign_any_availability: false,
            assign_users: vec![],
            assign_teams: vec![],
            tickets_enabled: true,
            ticket_properties: Default::default(),
            verification_code: None,
            verification_link: None,
            verification_requested_by: None,
            verification_received_at: None,
            from_name_mode: mode,
            from_address: from_address.map(Into::into),
            signature_html: None,
            finished_at: None,
            sources: vec![],
        }
    }

    #[test]
    fn agent_and_company_and_company_forms() {
        let c = channel(FromNameMode::AgentAndCompany, None);
        let from = from_header(&c, &Sender::SAMPLE, "Inbox.Example.com");
        assert_eq!(from.name, "Jane Doe at Acme");
        assert_eq!(from.address, "jane@inbox.example.com");
        assert_eq!(
            from.display(),
            "\"Jane Doe at Acme\" <jane@inbox.example.com>"
        );
        let c = channel(FromNameMode::Company, Some("help@acme.example"));
        let from = from_header(&c, &Sender::SAMPLE, "inbox.example.com");
        assert_eq!(from.name, "Acme");
        assert_eq!(from.address, "help@acme.example");
    }

    #[test]
    fn names_are_one_line_and_usernames_become_local_parts() {
        let mut c = channel(FromNameMode::AgentAndCompany, None);
        c.company = "Acme\r\nBcc: victim@example.org".into();
        let sender = Sender {
            first_name: "Eve\n",
            last_name: "\"Q\"",
            username: "Eve Q",
        };
        let from = from_header(&c, &sender, "inbox.example.com");
        assert_eq!(from.name, "Eve \"Q\" at Acme Bcc: victim@example.org");
        assert_eq!(from.address, "eve-q@inbox.example.com");
        assert_eq!(
            from.display(),
            "\"Eve \\\"Q\\\" at Acme Bcc: victim@example.org\" <eve-q@inbox.example.com>"
        );
        // What goes on the wire reads back as the same name and address.
        let header = format!("From: {}\r\n\r\n", from.header_value());
        assert!(!from.header_value().contains('\n') || from.header_value().contains("\r\n "));
        let parsed = mail_parser::MessageParser::default()
            .parse(header.as_bytes())
            .unwrap();
        let parsed = parsed.from().unwrap().first().unwrap();
        assert_eq!(parsed.name(), Some(from.name.as_str()));
        assert_eq!(parsed.address(), Some(from.address.as_str()));
    }

    #[test]
    fn non_ascii_names_are_encoded_on_the_wire() {
        let mut c = channel(FromNameMode::Company, None);
        c.company = "Çafé Zoë".into();
        let from = from_header(&c, &Sender::SAMPLE, "inbox.example.com");
        let value = from.header_value();
        assert!(value.is_ascii(), "{value}");
        let raw = format!("From: {value}\r\n\r\n");
        let parsed = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .unwrap();
        assert_eq!(
            parsed.from().unwrap().first().unwrap().name(),
            Some("Çafé Zoë")
        );
    }

    #[test]
    fn company_keys_ignore_case_and_blanks() {
        assert_eq!(company_from_name_key("  ACME \t Corp "), "acme corp");
        assert_eq!(local_part("J.Doe+x"), "j.doe+x");
        assert_eq!(local_part(".."), "agent");
        assert_eq!("company".parse::<FromNameMode>(), Ok(FromNameMode::Company));
        assert!("x".parse::<FromNameMode>().is_err());
    }
}
