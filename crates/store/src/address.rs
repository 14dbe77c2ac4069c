//! Mail addresses as teaminbox handles them: envelope arguments from the MTA,
//! forwarding addresses typed by an admin, and domains from configuration.
//!
//! Forwarding addresses are kept in one canonical form (ASCII, lower case)
//! so that a lookup is a plain equality and the database's unique index
//! really means "one channel per address".

use std::fmt;

/// A mailbox `local@domain`, lower case, with no characters that could break
/// out of a header or an SMTP command.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ForwardingAddress {
    local: String,
    domain: String,
}

impl ForwardingAddress {
    /// Parses an address an admin typed. Only the characters an SMTP client
    /// can send without quoting are taken, so the address is always safe to
    /// put in a header.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (local, domain) = s.rsplit_once('@').ok_or_else(|| {
            format!(
                "`{}` is not an address of the form LOCAL@DOMAIN",
                printable(s)
            )
        })?;
        let local = local.to_ascii_lowercase();
        if local.is_empty() || local.len() > 64 {
            return Err(format!(
                "the local part of `{}` must be 1 to 64 characters",
                printable(s)
            ));
        }
        if !is_plain_local_part(&local) {
            return Err(format!(
                "the local part of `{}` may use only letters, digits and . _ + - (no leading, trailing or double dot)",
                printable(s)
            ));
        }
        Ok(Self {
            local,
            domain: normalize_domain(domain)?,
        })
    }

    /// A readable, hard-to-guess address for a new channel: the slug of its
    /// name and a short random part, as in `support-acme-k3x9q@DOMAIN`.
    pub fn generate(name: &str, domain: &str) -> Self {
        const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
        let mut slug = slug::slugify(name);
        slug.truncate(40);
        let slug = slug.trim_end_matches('-');
        let slug = if slug.is_empty() { "inbox" } else { slug };
        let random: String = (0..5)
            .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
            .collect();
        Self {
            local: format!("{slug}-{random}"),
            domain: domain.to_ascii_lowercase(),
        }
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }
}

impl fmt::Display for ForwardingAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

/// Checks a DNS domain name and returns it in lower case.
pub fn normalize_domain(s: &str) -> Result<String, String> {
    let domain = s.trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if domain.is_empty() || domain.len() > 253 || !domain.split('.').all(label_ok) {
        return Err(format!(
            "`{}` is not a domain name (letters, digits and hyphens, labels separated by dots)",
            printable(s)
        ));
    }
    Ok(domain)
}

/// The address inside an envelope argument as the MTA passes it
/// (`<user@example.com>`), without the angle brackets.
pub fn envelope_address(arg: &str) -> &str {
    let arg = arg.trim();
    arg.strip_prefix('<')
        .and_then(|a| a.strip_suffix('>'))
        .unwrap_or(arg)
}

/// A local part an SMTP client can send without quoting, so that it is
/// always safe in a header: letters, digits and `._+-`, no leading,
/// trailing or double dot. (Length and case are the caller's.)
pub fn is_plain_local_part(local: &str) -> bool {
    local
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
}

/// The domain of an envelope address, in lower case, if it has one.
pub fn envelope_domain(address: &str) -> Option<String> {
    address
        .rsplit_once('@')
        .map(|(_, domain)| domain.trim_end_matches('.').to_ascii_lowercase())
}

/// Shows a value from outside with control characters escaped, so that an
/// error message can never carry a line break or a terminal escape.
pub fn printable(s: &str) -> String {
    s.chars()
        .flat_map(char::escape_default)
        .collect::<String>()
        .replace("\\'", "'")
        .replace("\\\"", "\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarding_addresses_are_lower_case() {
        let a = ForwardingAddress::parse("Support.Team+x@Inbox.Example.COM").unwrap();
        assert_eq!(a.to_string(), "support.team+x@inbox.example.com");
        assert_eq!(a.domain(), "inbox.example.com");
    }

    #[test]
    fn generated_addresses_are_readable_and_valid() {
        let a = ForwardingAddress::generate("Support Team (Acme)", "inbox.example.com");
        let text = a.to_string();
        assert!(text.starts_with("support-team-acme-"), "{text}");
        assert_eq!(ForwardingAddress::parse(&text).unwrap(), a);
        let b = ForwardingAddress::generate("Équipe ✉", "inbox.example.com");
        assert_eq!(ForwardingAddress::parse(&b.to_string()).unwrap(), b);
        assert_ne!(
            a,
            ForwardingAddress::generate("Support Team (Acme)", "inbox.example.com")
        );
    }

    #[test]
    fn unsafe_addresses_are_refused() {
        for bad in [
            "no-at-sign",
            "@inbox.example.com",
            "a b@inbox.example.com",
            "a\r\nBcc: x@inbox.example.com",
            "a..b@inbox.example.com",
            "a@inbox example.com",
            "a@-inbox.example.com",
            "\"quoted\"@inbox.example.com",
        ] {
            let e = ForwardingAddress::parse(bad).unwrap_err();
            assert!(!e.contains('\r') && !e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn envelope_arguments_lose_their_brackets() {
        assert_eq!(envelope_address("<a@B.example>"), "a@B.example");
        assert_eq!(envelope_address("<>"), "");
        assert_eq!(envelope_domain("a@B.Example."), Some("b.example".into()));
        assert_eq!(envelope_domain("postmaster"), None);
    }

    #[test]
    fn printable_escapes_controls() {
        assert_eq!(printable("a\r\nb\u{1b}"), "a\\r\\nb\\u{1b}");
        assert_eq!(printable("plain 'text'"), "plain 'text'");
    }
}
