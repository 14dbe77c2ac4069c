//! The deny and allow decisions: which list entry matches the claimed senders, or the authenticated identities, of a message.

use crate::auth::Allowed;
use ipnet::IpNet;
use std::{collections::HashSet, net::IpAddr};
use teaminbox_store::address::{envelope_address, printable};
use teaminbox_store::settings::list_entry::{canonical_ip, FilterValue};
use teaminbox_store::{model::FilterList, settings::ListEntry};

/// An allow-list match. `matched` explains it in words, as `<kind>
/// <entry> matches the <what> <value>`, for example `domain example.com
/// matches the envelope sender alice@mail.example.com` or `ip
/// 192.0.2.0/24 matches the client address 192.0.2.7` (deny matches read
/// the same). It is printable ASCII (what came from the message is escaped
/// with [`printable`]), so it can go into a log line or a reply text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowMatch {
    pub matched: String,
    pub allowed: Allowed,
}

/// The sender identities the checks authenticated, which alone address and
/// domain allow entries match.
#[derive(Clone, Debug, Default)]
pub struct Authenticated<'a> {
    pub client_ip: Option<IpAddr>,
    /// The envelope sender, when SPF passed for its domain.
    pub mail_from: Option<&'a str>,
    /// The From address, when DMARC passed for its domain.
    pub header_from: Option<&'a str>,
    /// The `d=` of every DKIM signature that verified.
    pub dkim_domains: Vec<&'a str>,
}

/// The entries of one list, arranged for lookups.
#[derive(Debug, Default)]
struct Entries {
    addresses: HashSet<String>,
    domains: HashSet<String>,
    hosts: HashSet<IpAddr>,
    networks: Vec<IpNet>,
}

impl Entries {
    fn insert(&mut self, value: FilterValue) {
        match value {
            FilterValue::Address(a) => {
                self.addresses.insert(a);
            }
            FilterValue::Domain(d) => {
                self.domains.insert(d);
            }
            FilterValue::Ip(net) if net.prefix_len() == net.max_prefix_len() => {
                self.hosts.insert(net.addr());
            }
            FilterValue::Ip(net) => self.networks.push(net),
        }
    }

    fn len(&self) -> usize {
        self.addresses.len() + self.domains.len() + self.hosts.len() + self.networks.len()
    }

    /// The first entry that matches, most specific first: client address,
    /// envelope sender, header From, then the senders' domains, then the
    /// DKIM signing domains. With it, the domain of the sender identity it
    /// matched (`None` for the client address).
    fn matches(&self, sender: &Sender<'_>) -> Option<(String, Option<String>)> {
        if let Some(ip) = sender.client_ip {
            if self.hosts.contains(&ip) {
                let prefix = if ip.is_ipv4() { 32 } else { 128 };
                return Some((
                    format!("ip {ip}/{prefix} matches the client address {ip}"),
                    None,
                ));
            }
            if let Some(net) = self.networks.iter().find(|net| net.contains(&ip)) {
                return Some((format!("ip {net} matches the client address {ip}"), None));
            }
        }
        self.matches_sender(sender)
            .map(|(text, domain)| (text, Some(domain)))
    }

    fn matches_sender(&self, sender: &Sender<'_>) -> Option<(String, String)> {
        let identities = [
            ("envelope sender", &sender.mail_from),
            ("header From", &sender.header_from),
        ];
        for (what, identity) in identities {
            if let Some(identity) = identity {
                if self.addresses.contains(&identity.address) {
                    return Some((
                        format!(
                            "address {} matches the {what} {}",
                            identity.address,
                            printable(identity.original)
                        ),
                        identity.full_domain().to_owned(),
                    ));
                }
            }
        }
        for (what, identity) in identities {
            if let Some(identity) = identity {
                if let Some(domain) = identity.domain().find(|d| self.domains.contains(*d)) {
                    return Some((
                        format!(
                            "domain {domain} matches the {what} {}",
                            printable(identity.original)
                        ),
                        identity.full_domain().to_owned(),
                    ));
                }
            }
        }
        for signer in &sender.signers {
            if let Some(domain) = parents(signer).find(|d| self.domains.contains(*d)) {
                return Some((
                    format!(
                        "domain {domain} matches the DKIM signing domain {}",
                        printable(signer)
                    ),
                    signer.clone(),
                ));
            }
        }
        None
    }
}

/// A sender identity (envelope or header), lower case for lookups.
struct Identity<'a> {
    original: &'a str,
    address: String,
    /// Where the domain starts in `address`.
    at: usize,
}

impl<'a> Identity<'a> {
    fn new(original: &'a str) -> Option<Self> {
        let original = original.trim();
        if original.is_empty() {
            return None;
        }
        let address = original.to_ascii_lowercase();
        let at = address.rfind('@')? + 1;
        Some(Self {
            original,
            address,
            at,
        })
    }

    fn full_domain(&self) -> &str {
        self.address[self.at..].trim_end_matches('.')
    }

    /// The domain, then each parent domain.
    fn domain(&self) -> impl Iterator<Item = &str> {
        parents(self.full_domain())
    }
}

/// `a.b.example.com`, `b.example.com`, `example.com`, `com`.
fn parents(domain: &str) -> impl Iterator<Item = &str> {
    std::iter::successors((!domain.is_empty()).then_some(domain), |d| {
        d.split_once('.').map(|(_, parent)| parent)
    })
}

struct Sender<'a> {
    client_ip: Option<IpAddr>,
    mail_from: Option<Identity<'a>>,
    header_from: Option<Identity<'a>>,
    /// DKIM signing domains, lower case, without a trailing dot; only
    /// domain entries match them.
    signers: Vec<String>,
}

/// The allow and deny lists, ready to answer for one message.
#[derive(Debug, Default)]
pub struct FilterSet {
    allow: Entries,
    deny: Entries,
}

impl FilterSet {
    /// Arranges the stored entries. An entry whose value does not parse
    /// (only possible if someone wrote to the table by hand) is left out
    /// with a warning rather than stopping the milter.
    pub fn new(filters: &[ListEntry]) -> Self {
        let mut set = Self::default();
        for filter in filters {
            let value = match FilterValue::parse(&filter.value) {
                Ok(value) if value.kind() == filter.kind => value,
                Ok(value) => {
                    tracing::warn!(
                        "ignoring {} list entry {}: it is stored as kind {} but reads as {} {value}",
                        filter.list,
                        filter.id,
                        filter.kind,
                        value.kind()
                    );
                    continue;
                }
                Err(e) => {
                    tracing::warn!("ignoring {} list entry {}: {e}", filter.list, filter.id);
                    continue;
                }
            };
            match filter.list {
                FilterList::Allow => set.allow.insert(value),
                FilterList::Deny => set.deny.insert(value),
            }
        }
        set
    }

    /// The number of entries on both lists.
    pub fn len(&self) -> usize {
        self.allow.len() + self.deny.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The deny entry that matches the message as it claims to be, in
    /// words, if any. Checked first: a denied message is refused whatever
    /// the checks would say.
    ///
    /// `mail_from` is the envelope sender (angle brackets are taken off;
    /// empty for the null sender `<>`, which no address or domain entry
    /// matches). `header_from` is the address of the From header
    /// (`user@example.com`; a `Name <user@example.com>` form is also read).
    pub fn deny(
        &self,
        client_ip: Option<IpAddr>,
        mail_from: &str,
        header_from: Option<&str>,
    ) -> Option<String> {
        if self.deny.len() == 0 {
            return None;
        }
        let sender = Sender::new(client_ip, Some(mail_from), header_from, &[]);
        self.deny.matches(&sender).map(|(matched, _)| matched)
    }

    /// The allow entry that matches what the checks authenticated, if any:
    /// an ip entry the client address; an address or domain entry only an
    /// authenticated identity (a DKIM signing domain for domain entries).
    /// What the match may lift is the policy's to say (see
    /// [`Allowed`]).
    pub fn allow(&self, who: &Authenticated<'_>) -> Option<AllowMatch> {
        if self.allow.len() == 0 {
            return None;
        }
        let sender = Sender::new(
            who.client_ip,
            who.mail_from,
            who.header_from,
            &who.dkim_domains,
        );
        self.allow
            .matches(&sender)
            .map(|(matched, domain)| AllowMatch {
                matched,
                allowed: domain.map_or(Allowed::Client, Allowed::Identity),
            })
    }
}

impl<'a> Sender<'a> {
    fn new(
        client_ip: Option<IpAddr>,
        mail_from: Option<&'a str>,
        header_from: Option<&'a str>,
        signers: &[&str],
    ) -> Self {
        Self {
            client_ip: client_ip.map(canonical_ip),
            mail_from: mail_from.map(envelope_address).and_then(Identity::new),
            header_from: header_from.map(header_address).and_then(Identity::new),
            signers: signers
                .iter()
                .map(|d| d.trim_end_matches('.').to_ascii_lowercase())
                .filter(|d| !d.is_empty())
                .collect(),
        }
    }
}

impl From<Vec<ListEntry>> for FilterSet {
    fn from(filters: Vec<ListEntry>) -> Self {
        Self::new(&filters)
    }
}

/// The address in `Name <user@example.com>`, or the text as it is.
fn header_address(from: &str) -> &str {
    match from.rfind('<') {
        Some(start) => {
            let rest = &from[start + 1..];
            rest.find('>').map_or(rest, |end| &rest[..end])
        }
        None => from,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;
    use teaminbox_store::model::FilterKind;

    fn value(s: &str) -> FilterValue {
        FilterValue::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn set(entries: &[(FilterList, &str)]) -> FilterSet {
        let filters: Vec<ListEntry> = entries
            .iter()
            .enumerate()
            .map(|(i, (list, text))| {
                let v = value(text);
                ListEntry {
                    id: i as i64 + 1,
                    list: *list,
                    kind: v.kind(),
                    value: v.to_string(),
                    created_at: NaiveDateTime::default(),
                }
            })
            .collect();
        FilterSet::from(filters)
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn deny(matched: &str) -> Option<ListDecision> {
        Some(ListDecision::Deny {
            matched: matched.into(),
        })
    }

    fn allow(matched: &str) -> Option<ListDecision> {
        Some(ListDecision::Allow {
            matched: matched.into(),
        })
    }

    use FilterList::{Allow, Deny};

    /// What both lists say, as the milter asks them, for a sender whose
    /// envelope and From both authenticated.
    #[derive(Debug, PartialEq, Eq)]
    enum ListDecision {
        Allow { matched: String },
        Deny { matched: String },
    }

    trait Decide {
        fn decide(
            &self,
            ip: Option<IpAddr>,
            mail_from: &str,
            from: Option<&str>,
        ) -> Option<ListDecision>;
    }

    impl Decide for FilterSet {
        fn decide(
            &self,
            client_ip: Option<IpAddr>,
            mail_from: &str,
            header_from: Option<&str>,
        ) -> Option<ListDecision> {
            if let Some(matched) = self.deny(client_ip, mail_from, header_from) {
                return Some(ListDecision::Deny { matched });
            }
            let who = Authenticated {
                client_ip,
                mail_from: Some(mail_from),
                header_from,
                dkim_domains: vec![],
            };
            self.allow(&who)
                .map(|m| ListDecision::Allow { matched: m.matched })
        }
    }

    #[test]
    fn allow_entries_match_only_authenticated_identities() {
        let lists = set(&[
            (Allow, "allowed.example"),
            (Allow, "ceo@partner.example"),
            (Allow, "192.0.2.0/24"),
        ]);
        let nothing = Authenticated::default();
        assert_eq!(lists.allow(&nothing), None);
        // The attacker's own domain authenticated, not the allowed one.
        let attacker = Authenticated {
            client_ip: ip("203.0.113.9"),
            mail_from: Some("bounce@attacker.example"),
            header_from: None,
            dkim_domains: vec!["attacker.example"],
        };
        assert_eq!(lists.allow(&attacker), None);
        let signed = Authenticated {
            dkim_domains: vec!["Mail.Allowed.Example."],
            ..Authenticated::default()
        };
        assert_eq!(
            lists.allow(&signed),
            Some(AllowMatch {
                matched:
                    "domain allowed.example matches the DKIM signing domain mail.allowed.example"
                        .into(),
                allowed: Allowed::Identity("mail.allowed.example".into()),
            })
        );
        let author = Authenticated {
            header_from: Some("The CEO <CEO@partner.example>"),
            ..Authenticated::default()
        };
        assert_eq!(
            lists.allow(&author).map(|m| m.allowed),
            Some(Allowed::Identity("partner.example".into()))
        );
        let client = Authenticated {
            client_ip: ip("192.0.2.8"),
            ..Authenticated::default()
        };
        assert_eq!(
            lists.allow(&client).map(|m| m.allowed),
            Some(Allowed::Client)
        );
    }

    #[test]
    fn empty_lists_decide_nothing() {
        let empty = FilterSet::default();
        assert!(empty.is_empty());
        assert_eq!(
            empty.decide(ip("192.0.2.7"), "a@example.com", Some("a@example.com")),
            None
        );
        assert_eq!(FilterSet::new(&[]).len(), 0);
    }

    #[test]
    fn ip_entries_match_the_client_address() {
        let lists = set(&[
            (Deny, "192.0.2.0/24"),
            (Deny, "198.51.100.7"),
            (Deny, "2001:db8::/32"),
        ]);
        assert_eq!(lists.len(), 3);
        assert_eq!(
            lists.decide(ip("192.0.2.200"), "a@example.com", None),
            deny("ip 192.0.2.0/24 matches the client address 192.0.2.200")
        );
        assert_eq!(
            lists.decide(ip("198.51.100.7"), "", None),
            deny("ip 198.51.100.7/32 matches the client address 198.51.100.7")
        );
        assert_eq!(lists.decide(ip("198.51.100.8"), "", None), None);
        assert_eq!(lists.decide(ip("192.0.3.1"), "", None), None);
        assert_eq!(
            lists.decide(ip("2001:db8:1::25"), "", None),
            deny("ip 2001:db8::/32 matches the client address 2001:db8:1::25")
        );
        assert_eq!(lists.decide(ip("2001:db9::1"), "", None), None);
        // An IPv4 client seen through a dual-stack socket.
        assert_eq!(
            lists.decide(ip("::ffff:192.0.2.9"), "", None),
            deny("ip 192.0.2.0/24 matches the client address 192.0.2.9")
        );
        // No client address (a local submission): no IP match.
        assert_eq!(lists.decide(None, "a@example.com", None), None);

        let v6host = set(&[(Allow, "2001:db8::25")]);
        assert_eq!(
            v6host.decide(ip("2001:db8::25"), "", None),
            allow("ip 2001:db8::25/128 matches the client address 2001:db8::25")
        );
        let everything = set(&[(Deny, "0.0.0.0/0")]);
        assert!(everything.decide(ip("203.0.113.1"), "", None).is_some());
        assert_eq!(everything.decide(ip("2001:db8::1"), "", None), None);
    }

    #[test]
    fn address_entries_match_either_sender_ignoring_case() {
        let lists = set(&[(Deny, "Spammer@Example.com")]);
        assert_eq!(
            lists.decide(None, "SPAMMER@example.COM", None),
            deny("address spammer@example.com matches the envelope sender SPAMMER@example.COM")
        );
        assert_eq!(
            lists.decide(None, "<spammer@example.com>", None),
            deny("address spammer@example.com matches the envelope sender spammer@example.com")
        );
        assert_eq!(
            lists.decide(
                None,
                "bounce@lists.example.net",
                Some("Spammer@example.com")
            ),
            deny("address spammer@example.com matches the header From Spammer@example.com")
        );
        assert_eq!(
            lists.decide(None, "", Some("The Spammer <spammer@example.com>")),
            deny("address spammer@example.com matches the header From spammer@example.com")
        );
        // Other addresses at the same domain are not matched.
        assert_eq!(
            lists.decide(None, "friend@example.com", Some("friend@example.com")),
            None
        );
        assert_eq!(lists.decide(None, "spammer@example.com.evil", None), None);
        assert_eq!(lists.decide(None, "xspammer@example.com", None), None);
    }

    #[test]
    fn domain_entries_match_the_domain_and_its_subdomains() {
        let lists = set(&[(Deny, "example.com")]);
        assert_eq!(
            lists.decide(None, "alice@example.com", None),
            deny("domain example.com matches the envelope sender alice@example.com")
        );
        assert_eq!(
            lists.decide(None, "bob@Mail.EU.Example.com.", None),
            deny("domain example.com matches the envelope sender bob@Mail.EU.Example.com.")
        );
        assert_eq!(
            lists.decide(None, "", Some("carol@news.example.com")),
            deny("domain example.com matches the header From carol@news.example.com")
        );
        for other in [
            "a@notexample.com",
            "a@example.com.au",
            "a@example.co",
            "a@com",
            "example.com",
            "",
        ] {
            assert_eq!(lists.decide(None, other, Some(other)), None, "{other}");
        }
        // A subdomain entry does not cover its parent.
        let sub = set(&[(Deny, "mail.example.com")]);
        assert_eq!(sub.decide(None, "a@example.com", None), None);
        assert!(sub.decide(None, "a@x.mail.example.com", None).is_some());
        // The most specific domain entry is named.
        let both = set(&[(Deny, "example.com"), (Deny, "mail.example.com")]);
        assert_eq!(
            both.decide(None, "a@mail.example.com", None),
            deny("domain mail.example.com matches the envelope sender a@mail.example.com")
        );
    }

    #[test]
    fn deny_wins_over_allow() {
        let lists = set(&[
            (Allow, "example.com"),
            (Allow, "192.0.2.0/24"),
            (Deny, "mallory@example.com"),
            (Deny, "192.0.2.66"),
        ]);
        assert_eq!(
            lists.decide(ip("203.0.113.1"), "alice@example.com", None),
            allow("domain example.com matches the envelope sender alice@example.com")
        );
        assert_eq!(
            lists.decide(ip("192.0.2.1"), "", None),
            allow("ip 192.0.2.0/24 matches the client address 192.0.2.1")
        );
        // The sender is allowed by its domain, but denied by its address.
        assert_eq!(
            lists.decide(ip("192.0.2.1"), "mallory@example.com", None),
            deny("address mallory@example.com matches the envelope sender mallory@example.com")
        );
        // The header From alone is enough to deny.
        assert_eq!(
            lists.decide(
                ip("192.0.2.1"),
                "alice@example.com",
                Some("mallory@example.com")
            ),
            deny("address mallory@example.com matches the header From mallory@example.com")
        );
        assert_eq!(
            lists.decide(ip("192.0.2.66"), "alice@example.com", None),
            deny("ip 192.0.2.66/32 matches the client address 192.0.2.66")
        );
        // The same value on both lists: denied.
        let same = set(&[(Allow, "example.org"), (Deny, "example.org")]);
        assert!(matches!(
            same.decide(None, "a@example.org", None),
            Some(ListDecision::Deny { .. })
        ));
    }

    #[test]
    fn the_most_specific_match_is_named() {
        let lists = set(&[
            (Deny, "example.com"),
            (Deny, "a@example.com"),
            (Deny, "192.0.2.1"),
        ]);
        assert_eq!(
            lists.decide(ip("192.0.2.1"), "a@example.com", None),
            deny("ip 192.0.2.1/32 matches the client address 192.0.2.1")
        );
        assert_eq!(
            lists.decide(None, "b@example.com", Some("a@example.com")),
            deny("address a@example.com matches the header From a@example.com")
        );
    }

    #[test]
    fn the_null_sender_and_odd_senders_match_no_address_or_domain() {
        let lists = set(&[(Deny, "example.com"), (Allow, "postmaster@example.org")]);
        assert_eq!(lists.decide(None, "<>", None), None);
        assert_eq!(lists.decide(None, "", Some("")), None);
        assert_eq!(lists.decide(None, "postmaster", None), None);
        assert_eq!(lists.decide(None, "a@", None), None);
        assert_eq!(lists.decide(None, "a@.", None), None);
        // Text from the message is escaped in the explanation.
        assert_eq!(
            lists.decide(None, "", Some("x\u{1b}[2J@Example.com")),
            deny("domain example.com matches the header From x\\u{1b}[2J@Example.com")
        );
    }

    #[test]
    fn entries_that_do_not_parse_are_left_out() {
        let filter = |id, kind, value: &str| ListEntry {
            id,
            list: Deny,
            kind,
            value: value.into(),
            created_at: NaiveDateTime::default(),
        };
        let lists = FilterSet::new(&[
            filter(1, FilterKind::Domain, "not a domain"),
            filter(2, FilterKind::Domain, "192.0.2.1"),
            filter(3, FilterKind::Domain, "Example.ORG"),
        ]);
        assert_eq!(lists.len(), 1);
        assert_eq!(lists.decide(ip("192.0.2.1"), "", None), None);
        assert!(lists.decide(None, "a@example.org", None).is_some());
    }

    #[test]
    fn header_addresses_are_taken_from_name_and_brackets() {
        assert_eq!(header_address("a@example.com"), "a@example.com");
        assert_eq!(header_address("Alice <a@example.com>"), "a@example.com");
        assert_eq!(header_address("\"x <y>\" <a@example.com>"), "a@example.com");
        assert_eq!(header_address("Alice <a@example.com"), "a@example.com");
    }
}
