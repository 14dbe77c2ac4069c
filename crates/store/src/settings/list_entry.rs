//! What a list entry is: an address, a domain or an IP network, parsed from what an admin typed and put in canonical form.

use crate::address::{normalize_domain, printable};
use crate::model::FilterKind;
use ipnet::IpNet;
use std::{fmt, net::IpAddr};

/// What every parse error ends with, so the admin sees the accepted forms.
const FORMS: &str = "give an address (user@example.com), a domain (example.com), \
    an IP address (192.0.2.7, 2001:db8::7) or a network (192.0.2.0/24, 2001:db8::/32)";

/// The characters of an unquoted local part besides letters and digits
/// (RFC 5322 `atext`, and dots between them).
const LOCAL_PART_SYMBOLS: &str = "!#$%&'*+-/=?^_`{|}~.";

/// One allow or deny list entry, parsed and in canonical form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FilterValue {
    /// A sender address, lower case.
    Address(String),
    /// A sender domain, lower case, without a trailing dot; it also stands
    /// for every subdomain.
    Domain(String),
    /// A client network with its host bits cleared; a single address is a
    /// `/32` or `/128`. IPv4-mapped IPv6 addresses are kept as IPv4.
    Ip(IpNet),
}

impl FilterValue {
    /// Parses what an admin typed; the kind is told from the form. Errors
    /// name what is wrong and show an example.
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err(format!("the value is empty; {FORMS}"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "`{}` contains a blank or a control character; {FORMS}",
                printable(s)
            ));
        }
        if s.contains('@') {
            return parse_address(s).map(Self::Address);
        }
        if s.contains('/') {
            return parse_network(s).map(Self::Ip);
        }
        let bare = s
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .unwrap_or(s);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(Self::Ip(IpNet::from(canonical_ip(ip))));
        }
        if s.contains(':') || s.starts_with('[') {
            return Err(format!(
                "`{}` is not an IPv6 address (example: 2001:db8::7)",
                printable(s)
            ));
        }
        if s.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return Err(format!(
                "`{}` is not an IPv4 address (example: 192.0.2.7)",
                printable(s)
            ));
        }
        if let Some(rest) = s.strip_prefix("*.").or_else(|| s.strip_prefix('.')) {
            return Err(format!(
                "`{}`: a domain entry already matches every subdomain, so give the domain alone (example: {})",
                printable(s),
                printable(rest)
            ));
        }
        let domain = normalize_domain(s).map_err(|e| format!("{e}; {FORMS}"))?;
        if domain
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(format!(
                "`{}` is neither an IP address nor a domain name (examples: 192.0.2.7, example.com)",
                printable(s)
            ));
        }
        Ok(Self::Domain(domain))
    }

    pub fn kind(&self) -> FilterKind {
        match self {
            Self::Address(_) => FilterKind::Address,
            Self::Domain(_) => FilterKind::Domain,
            Self::Ip(_) => FilterKind::Ip,
        }
    }
}

/// The canonical text, as stored: `user@example.com`, `example.com`,
/// `192.0.2.0/24`, `192.0.2.7/32`, `2001:db8::/32`.
impl fmt::Display for FilterValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Address(a) => f.write_str(a),
            Self::Domain(d) => f.write_str(d),
            Self::Ip(net) => write!(f, "{net}"),
        }
    }
}

impl std::str::FromStr for FilterValue {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

fn parse_address(s: &str) -> Result<String, String> {
    let s = s
        .strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(s);
    let (local, domain) = s.rsplit_once('@').expect("called with an @");
    if local.is_empty() {
        return Err(format!(
            "`{}` has no local part; to list a whole domain give the domain alone (example: {})",
            printable(s),
            printable(domain)
        ));
    }
    let local_ok = local.len() <= 64
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || LOCAL_PART_SYMBOLS.contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    if !local_ok {
        return Err(format!(
            "the local part of `{}` must be 1 to 64 letters, digits, dots (not leading, trailing or doubled) \
             or any of {} (example: user@example.com)",
            printable(s),
            &LOCAL_PART_SYMBOLS[..LOCAL_PART_SYMBOLS.len() - 1],
        ));
    }
    let domain = normalize_domain(domain).map_err(|e| {
        format!(
            "in the address `{}`: {e} (example: user@example.com)",
            printable(s)
        )
    })?;
    Ok(format!("{}@{domain}", local.to_ascii_lowercase()))
}

fn parse_network(s: &str) -> Result<IpNet, String> {
    let net: IpNet = s.parse().map_err(|_| {
        format!(
            "`{}` is not an IP network; write ADDRESS/PREFIX with a prefix of at most 32 for IPv4 \
             or 128 for IPv6 (examples: 192.0.2.0/24, 2001:db8::/32)",
            printable(s)
        )
    })?;
    Ok(canonical_net(net.trunc()))
}

/// IPv4 clients may reach a dual-stack listener as `::ffff:192.0.2.7`.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// An IPv4-mapped network (`::ffff:192.0.2.0/120`) as the IPv4 network it
/// stands for (`192.0.2.0/24`).
fn canonical_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => {
                IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96).expect("a prefix of at most 32")
            }
            None => net,
        },
        _ => net,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(s: &str) -> FilterValue {
        FilterValue::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn canonical(s: &str) -> (FilterKind, String) {
        let v = value(s);
        (v.kind(), v.to_string())
    }

    #[test]
    fn addresses_are_lower_case() {
        assert_eq!(
            canonical("Alice.Smith+Tag@Example.COM"),
            (FilterKind::Address, "alice.smith+tag@example.com".into())
        );
        assert_eq!(
            canonical("  <o'brien=x@mail.example.org.>  "),
            (FilterKind::Address, "o'brien=x@mail.example.org".into())
        );
        assert_eq!(
            value("bob@example.com"),
            FilterValue::Address("bob@example.com".into())
        );
    }

    #[test]
    fn domains_are_lower_case_without_a_trailing_dot() {
        assert_eq!(
            canonical("Mail.Example.COM."),
            (FilterKind::Domain, "mail.example.com".into())
        );
        assert_eq!(
            value("example.com"),
            FilterValue::Domain("example.com".into())
        );
        assert_eq!(
            canonical("localhost"),
            (FilterKind::Domain, "localhost".into())
        );
        assert_eq!(
            canonical("xn--bcher-kva.example"),
            (FilterKind::Domain, "xn--bcher-kva.example".into())
        );
    }

    #[test]
    fn ips_become_networks_in_canonical_form() {
        for (input, expected) in [
            ("192.0.2.7", "192.0.2.7/32"),
            ("192.0.2.0/24", "192.0.2.0/24"),
            // Host bits are cleared.
            ("192.0.2.77/24", "192.0.2.0/24"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("2001:DB8::7", "2001:db8::7/128"),
            ("[2001:db8::7]", "2001:db8::7/128"),
            ("2001:db8:0:0:0:0:0:0/32", "2001:db8::/32"),
            ("2001:db8::1/32", "2001:db8::/32"),
            // IPv4-mapped IPv6 is IPv4.
            ("::ffff:192.0.2.7", "192.0.2.7/32"),
            ("::ffff:192.0.2.0/120", "192.0.2.0/24"),
        ] {
            assert_eq!(
                canonical(input),
                (FilterKind::Ip, expected.into()),
                "{input}"
            );
        }
        assert_eq!(
            value("198.51.100.0/24"),
            FilterValue::Ip("198.51.100.0/24".parse().unwrap())
        );
        // Canonical text parses back to itself.
        for text in [
            "192.0.2.7/32",
            "2001:db8::/32",
            "a@example.com",
            "example.com",
        ] {
            assert_eq!(value(text).to_string(), text);
        }
    }

    #[test]
    fn bad_values_say_what_is_wrong_and_show_an_example() {
        for (input, expected) in [
            ("", "the value is empty; give an address (user@example.com), a domain (example.com)"),
            ("   ", "the value is empty"),
            ("a b@example.com", "`a b@example.com` contains a blank or a control character"),
            ("evil\r\n@example.com", "`evil\\r\\n@example.com` contains a blank or a control character"),
            ("@example.com", "`@example.com` has no local part; to list a whole domain give the domain alone (example: example.com)"),
            ("a..b@example.com", "the local part of `a..b@example.com` must be 1 to 64 letters"),
            (".a@example.com", "the local part of `.a@example.com`"),
            ("\"quoted\"@example.com", "the local part of `\"quoted\"@example.com`"),
            ("a(b)@example.com", "(example: user@example.com)"),
            ("user@", "in the address `user@`: `` is not a domain name"),
            ("user@exa_mple.com", "in the address `user@exa_mple.com`: `exa_mple.com` is not a domain name"),
            ("192.0.2.0/33", "`192.0.2.0/33` is not an IP network; write ADDRESS/PREFIX"),
            ("192.0.2.0/", "`192.0.2.0/` is not an IP network"),
            ("example.com/24", "`example.com/24` is not an IP network"),
            ("2001:db8::/129", "(examples: 192.0.2.0/24, 2001:db8::/32)"),
            ("2001:db8:::1", "`2001:db8:::1` is not an IPv6 address (example: 2001:db8::7)"),
            ("[192.0.2.7", "`[192.0.2.7` is not an IPv6 address"),
            ("192.0.2.256", "`192.0.2.256` is not an IPv4 address (example: 192.0.2.7)"),
            ("192.0.2", "`192.0.2` is not an IPv4 address"),
            ("*.example.com", "`*.example.com`: a domain entry already matches every subdomain, so give the domain alone (example: example.com)"),
            (".example.com", "(example: example.com)"),
            ("exa_mple.com", "`exa_mple.com` is not a domain name"),
            ("-example.com", "is not a domain name"),
            ("example..com", "is not a domain name"),
            ("b\u{fc}cher.example", "`b\\u{fc}cher.example` is not a domain name"),
            ("example.123", "`example.123` is neither an IP address nor a domain name (examples: 192.0.2.7, example.com)"),
        ] {
            let e = FilterValue::parse(input).unwrap_err();
            assert!(e.contains(expected), "{input:?}: {e}");
            assert!(!e.contains('\n') && !e.contains('\r'), "{e}");
        }
        let long = format!("{}@example.com", "a".repeat(65));
        assert!(FilterValue::parse(&long).unwrap_err().contains("1 to 64"));
        assert!(FilterValue::parse(&format!("{}@example.com", "a".repeat(64))).is_ok());
        // Domain errors list the accepted forms too.
        assert!(FilterValue::parse("exa_mple.com")
            .unwrap_err()
            .contains("an IP address (192.0.2.7"));
    }
}
