//! Checking what the admin typed before it reaches the database: names are
//! one line of printable text, addresses are plain LOCAL@DOMAIN in lower
//! case. Both end up in headers of mail we send, so nothing that could
//! break a header line gets through. A bad value is a usage error (exit 2).

use crate::AdminError;
use teaminbox_store::address::normalize_domain;

/// Names and companies end up in From headers: one line of printable text,
/// trimmed, 1 to 200 characters.
pub fn text_field<'a>(what: &str, value: &'a str) -> Result<&'a str, AdminError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(AdminError::Usage(format!("{what} must not be empty")));
    }
    one_line(what, value)
}

/// Like [`text_field`], but may be empty.
pub fn one_line<'a>(what: &str, value: &'a str) -> Result<&'a str, AdminError> {
    if value.chars().any(char::is_control) {
        return Err(AdminError::Usage(format!(
            "{what} `{}` contains a control character (line break, tab or similar); use plain text",
            crate::output::line(value)
        )));
    }
    if value.chars().count() > 200 {
        return Err(AdminError::Usage(format!(
            "{what} is longer than 200 characters"
        )));
    }
    Ok(value)
}

/// An email address of a user or a contact, in lower case. Quoted local
/// parts, comments and display names are not addresses here.
pub fn address(what: &str, value: &str) -> Result<String, AdminError> {
    let value = value.trim();
    let bad = |why: &str| {
        AdminError::Usage(format!(
            "{what}: `{}` is not an email address: {why}",
            crate::output::line(value)
        ))
    };
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

/// A `--limit`: a positive number of rows, or 0 for all of them.
pub fn limit(value: i64) -> Result<Option<i64>, AdminError> {
    match value {
        n if n < 0 => Err(AdminError::Usage("--limit must be 0 or more".into())),
        0 => Ok(None),
        n => Ok(Some(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            let e = address("EMAIL", bad).unwrap_err().to_string();
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
}
