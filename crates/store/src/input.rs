//! Checking what an admin typed (on the command line or in the web's
//! settings) before it reaches the database: names are one line of
//! printable text, addresses are plain LOCAL@DOMAIN in lower case. Both
//! end up in headers of mail we send, so nothing that could break a header
//! line gets through. One home for these rules: `teaminbox-admin` and the
//! web both call them, and word a refusal the same.

use crate::address::{normalize_domain, ForwardingAddress};

/// A value refused, with the field it was given for (`--name`, "Name").
/// How the refused value is shown is the caller's ([`InputError::message`]):
/// the terminal and a web page escape differently.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    what: String,
    value: String,
    why: Why,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Why {
    Empty,
    ControlCharacter,
    TooLong,
    NotAnAddress(String),
    ForwardingAddress(String),
    NotHosted(Vec<String>),
}

impl InputError {
    fn new(what: &str, value: &str, why: Why) -> Self {
        Self {
            what: what.to_owned(),
            value: value.to_owned(),
            why,
        }
    }

    /// The refusal, with the refused value passed through `shown`.
    pub fn message(&self, shown: impl Fn(&str) -> String) -> String {
        let what = &self.what;
        match &self.why {
            Why::Empty => format!("{what} must not be empty"),
            Why::ControlCharacter => format!(
                "{what} `{}` contains a control character (line break, tab or similar); use plain text",
                shown(&self.value)
            ),
            Why::TooLong => format!("{what} is longer than 200 characters"),
            Why::NotAnAddress(why) => format!(
                "{what}: `{}` is not an email address: {why}",
                shown(&self.value)
            ),
            Why::ForwardingAddress(why) => format!("{what}: {why}"),
            Why::NotHosted(hosted) => format!(
                "{what}: {} is not in a hosted domain; hosted domains are {} \
                 (milter.hosted_domains in the configuration)",
                shown(&self.value),
                hosted.join(", ")
            ),
        }
    }

    /// Whether the value is a valid address that is only outside the
    /// hosted domains: a refusal of the setting rather than of the input.
    pub fn is_not_hosted(&self) -> bool {
        matches!(self.why, Why::NotHosted(_))
    }
}

/// Names and companies end up in From headers: one line of printable text,
/// trimmed, 1 to 200 characters.
pub fn text_field<'a>(what: &str, value: &'a str) -> Result<&'a str, InputError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(InputError::new(what, value, Why::Empty));
    }
    one_line(what, value)
}

/// Like [`text_field`], but may be empty.
pub fn one_line<'a>(what: &str, value: &'a str) -> Result<&'a str, InputError> {
    if value.chars().any(char::is_control) {
        return Err(InputError::new(what, value, Why::ControlCharacter));
    }
    if value.chars().count() > 200 {
        return Err(InputError::new(what, value, Why::TooLong));
    }
    Ok(value)
}

/// An email address of a user or a contact, in lower case. Quoted local
/// parts, comments and display names are not addresses here.
pub fn address(what: &str, value: &str) -> Result<String, InputError> {
    let value = value.trim();
    let bad = |why: &str| InputError::new(what, value, Why::NotAnAddress(why.to_owned()));
    if value.chars().any(char::is_control) {
        return Err(bad(
            "it contains a control character (line break, tab or similar)",
        ));
    }
    let Some((local, domain)) = value.rsplit_once('@') else {
        return Err(bad("write it as LOCAL@DOMAIN, like alice@example.com"));
    };
    if local.is_empty() || local.len() > 64 {
        return Err(bad("the part before the @ must be 1 to 64 bytes"));
    }
    if local
        .chars()
        .any(|c| c.is_whitespace() || "<>()[]\\,;:@\"".contains(c))
        || local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
    {
        return Err(bad(
            "the part before the @ may not contain blanks, <>()[]\\,;:@\" or a leading, trailing or double dot",
        ));
    }
    let domain = normalize_domain(domain).map_err(|e| bad(&e))?;
    Ok(format!("{}@{domain}", local.to_lowercase()))
}

/// A forwarding address an admin chose, in one of the `hosted` domains
/// (`milter.hosted_domains`).
pub fn hosted_address(
    what: &str,
    value: &str,
    hosted: &[String],
) -> Result<ForwardingAddress, InputError> {
    let address = ForwardingAddress::parse(value)
        .map_err(|e| InputError::new(what, value, Why::ForwardingAddress(e)))?;
    if !hosted.iter().any(|d| d == address.domain()) {
        return Err(InputError::new(
            what,
            address.domain(),
            Why::NotHosted(hosted.to_vec()),
        ));
    }
    Ok(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(e: InputError) -> String {
        e.message(crate::address::printable)
    }

    #[test]
    fn addresses_are_lower_case_and_plain() {
        assert_eq!(
            address("EMAIL", " Alice.O'Brien+x@Example.COM ").unwrap(),
            "alice.o'brien+x@example.com"
        );
        for bad in [
            "alice",
            "@example.com",
            "a b@example.com",
            "a\r\nBcc: x@example.com",
            "<a@example.com>",
            "a..b@example.com",
            "a@example..com",
            "a@",
            "\"a\"@example.com",
        ] {
            let e = message(address("EMAIL", bad).unwrap_err());
            assert!(e.starts_with("EMAIL: `"), "{bad}: {e}");
            assert!(!e.contains('\n') && !e.contains('\r'), "{e}");
        }
    }

    #[test]
    fn text_is_one_printable_line() {
        assert_eq!(text_field("--name", "  Support ").unwrap(), "Support");
        assert!(text_field("--name", " ").is_err());
        assert!(text_field("--name", "a\nb").is_err());
        assert_eq!(one_line("VALUE", "").unwrap(), "");
    }

    #[test]
    fn a_forwarding_address_is_in_a_hosted_domain() {
        let hosted = ["inbox.example.com".to_owned()];
        let ok = hosted_address("ADDRESS", "Sales@Inbox.Example.com", &hosted).unwrap();
        assert_eq!(ok.to_string(), "sales@inbox.example.com");
        let e = hosted_address("ADDRESS", "sales@elsewhere.example", &hosted).unwrap_err();
        assert!(e.is_not_hosted());
        assert_eq!(
            message(e),
            "ADDRESS: elsewhere.example is not in a hosted domain; hosted domains are \
             inbox.example.com (milter.hosted_domains in the configuration)"
        );
        assert!(!hosted_address("ADDRESS", "no address", &hosted)
            .unwrap_err()
            .is_not_hosted());
    }
}
