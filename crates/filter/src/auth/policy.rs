//! The policy: what the authentication results mean for the message.
//!
//! Kept apart from the DNS work so that every rule can be tested on plain
//! values. The rules, in order:
//! 1. Not exactly one From address (no From field, several, or several
//!    addresses in one): DMARC has no one author to evaluate, so refuse
//!    with 550 5.7.1.
//! 2. A DMARC record that could not be fetched, or a DNS failure in a check
//!    that decides a refusal, is a temporary failure (or, with
//!    `on_dns_error = "accept"`, not counted).
//! 3. DMARC pass: accept.
//! 4. DMARC fail with `p=reject`: refuse with 550 5.7.1, unless ARC rescues
//!    it: the chain validates, its newest seal is a trusted sealer's, and
//!    that sealer's own ARC-Authentication-Results record `dmarc=pass` for
//!    the From domain (or, recording no DMARC result, a DKIM or SPF pass
//!    aligned with it). What earlier hops recorded decides nothing: anyone
//!    can seal a first hop. With `p=quarantine`: accept, marked spam (not
//!    when rescued by ARC). With `p=none`: accept.
//! 5. No DMARC record: SPF fail with no aligned passing DKIM signature and no
//!    trusted ARC is refused with 550 5.7.23.
//! 6. An allow-list match of the client address never refuses. One of an
//!    authenticated sender identity (see `filter::lists`) never overrides
//!    rule 1, nor a DMARC refusal unless the identity is aligned with the
//!    From domain. The results are still recorded.

use super::results::{self, AuthResults};
use crate::refusal::Refusal;
use mail_auth::{
    dmarc::Policy, ArcOutput, AuthenticatedMessage, DkimOutput, DkimResult, DmarcOutput,
    DmarcResult, SpfOutput, SpfResult,
};
use teaminbox_store::config::OnDnsError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Accept,
    Refuse(Refusal),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    Pass,
    Fail,
    TempError,
    /// Neutral, none, permanent errors: no evidence either way.
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DmarcState {
    Pass,
    Fail(Policy),
    NoRecord,
    TempError,
    PermError,
}

/// How many authors a message names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Authors {
    /// From header fields.
    pub fields: usize,
    /// Addresses in all of them.
    pub addresses: usize,
}

impl Authors {
    pub fn of(message: &AuthenticatedMessage<'_>) -> Self {
        Self {
            fields: message
                .headers
                .iter()
                .filter(|(name, _)| name.trim_ascii().eq_ignore_ascii_case(b"From"))
                .count(),
            addresses: message.from.len(),
        }
    }

    pub fn is_one(&self) -> bool {
        self.fields == 1 && self.addresses == 1
    }
}

/// What an allow-list match vouches for (see rule 6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Allowed {
    /// An ip entry matched the SMTP client.
    Client,
    /// An address or domain entry matched an authenticated identity at
    /// this domain.
    Identity(String),
}

/// The results, reduced to what the policy looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Findings {
    pub authors: Authors,
    pub spf: SpfResult,
    pub spf_domain: String,
    /// Each DKIM signature: its signing domain and result.
    pub dkim: Vec<(String, Check)>,
    pub arc: Check,
    /// The domain that sealed the newest ARC set.
    pub arc_sealer: Option<String>,
    /// The newest set's ARC-Authentication-Results (the sealer's own
    /// verdict) record a pass for the From domain.
    pub arc_sealer_vouches: bool,
    pub arc_sealer_trusted: bool,
    pub dmarc: DmarcState,
    /// The RFC5322.From domain DMARC was evaluated for.
    pub from_domain: String,
}

impl Findings {
    pub fn new(
        authors: Authors,
        spf: &SpfOutput,
        spf_domain: &str,
        dkim: &[DkimOutput<'_>],
        arc: &ArcOutput<'_>,
        dmarc: &DmarcOutput,
        trusted_sealers: &[String],
    ) -> Self {
        let dkim = dkim
            .iter()
            .map(|d| {
                let domain = d
                    .signature()
                    .map(|s| s.d.to_ascii_lowercase())
                    .unwrap_or_default();
                (domain, dkim_check(d.result()))
            })
            .collect();
        let from_domain = dmarc.domain().to_ascii_lowercase();
        let newest = arc.sets().iter().max_by_key(|s| s.seal.header.i);
        let arc_sealer = newest.map(|s| s.seal.header.d.to_ascii_lowercase());
        // The newest set's results, matched by instance: the seal of that
        // same set signs them.
        let arc_sealer_vouches = newest.is_some_and(|n| {
            arc.sets()
                .iter()
                .find(|s| s.results.header.i == n.seal.header.i)
                .and_then(|s| results::parse_arc(s.results.value))
                .is_some_and(|aar| vouches_for(&aar, &from_domain))
        });
        let arc_sealer_trusted = arc_sealer
            .as_deref()
            .is_some_and(|d| trusted_sealers.iter().any(|t| is_same_or_subdomain(d, t)));
        Self {
            authors,
            spf: spf.result(),
            spf_domain: spf_domain.to_ascii_lowercase(),
            dkim,
            arc: dkim_check(arc.result()),
            arc_sealer,
            arc_sealer_vouches,
            arc_sealer_trusted,
            dmarc: dmarc_state(dmarc),
            from_domain,
        }
    }

    /// A valid ARC chain whose newest seal is a trusted forwarder's, and
    /// that forwarder's own results vouch for the From domain.
    pub fn trusted_arc(&self) -> bool {
        self.arc == Check::Pass && self.arc_sealer_trusted && self.arc_sealer_vouches
    }

    /// The d= of every DKIM signature that verified.
    pub fn passing_dkim_domains(&self) -> impl Iterator<Item = &str> {
        self.dkim
            .iter()
            .filter(|(_, c)| *c == Check::Pass)
            .map(|(d, _)| d.as_str())
    }

    /// Whether DMARC's verdict is what refuses (or would): then only an
    /// identity aligned with the From domain may override it.
    fn dmarc_decides(&self) -> bool {
        matches!(self.dmarc, DmarcState::Fail(_) | DmarcState::TempError)
    }

    fn aligned_dkim_pass(&self) -> bool {
        self.dkim
            .iter()
            .any(|(d, c)| *c == Check::Pass && aligned(d, &self.from_domain))
    }

    fn dkim_temp_error(&self) -> bool {
        self.dkim.iter().any(|(_, c)| *c == Check::TempError)
    }

    /// The RFC 8601 word for the SPF result.
    pub fn spf_word(&self) -> String {
        match self.spf {
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::SoftFail => "softfail",
            SpfResult::Neutral => "neutral",
            SpfResult::TempError => "temperror",
            SpfResult::PermError => "permerror",
            SpfResult::None => "none",
        }
        .into()
    }

    /// The best DKIM result: pass if any signature passed.
    pub fn dkim_word(&self) -> String {
        let has = |c| self.dkim.iter().any(|(_, x)| *x == c);
        if has(Check::Pass) {
            "pass"
        } else if has(Check::TempError) {
            "temperror"
        } else if has(Check::Fail) {
            "fail"
        } else if self.dkim.is_empty() {
            "none"
        } else {
            "neutral"
        }
        .into()
    }

    pub fn arc_word(&self) -> String {
        match self.arc {
            Check::Pass => "pass",
            Check::Fail => "fail",
            Check::TempError => "temperror",
            Check::Other => "none",
        }
        .into()
    }

    pub fn dmarc_word(&self) -> String {
        match self.dmarc {
            DmarcState::Pass => "pass",
            DmarcState::Fail(_) => "fail",
            DmarcState::NoRecord => "none",
            DmarcState::TempError => "temperror",
            DmarcState::PermError => "permerror",
        }
        .into()
    }

    /// Why DMARC failed, in words a mail admin can check.
    fn dmarc_failure(&self) -> String {
        let spf = match self.spf {
            SpfResult::Pass if !aligned(&self.spf_domain, &self.from_domain) => format!(
                "SPF pass for {} is not aligned with {}",
                self.spf_domain, self.from_domain
            ),
            _ => format!("SPF {} for {}", self.spf_word(), self.spf_domain),
        };
        let dkim = if self.dkim.is_empty() {
            "no DKIM signature".to_owned()
        } else if let Some((d, _)) = self.dkim.iter().find(|(_, c)| *c == Check::Pass) {
            format!("DKIM pass for {d} is not aligned with {}", self.from_domain)
        } else {
            let domains: Vec<&str> = self.dkim.iter().map(|(d, _)| d.as_str()).collect();
            format!("DKIM signature of {} does not verify", domains.join(", "))
        };
        format!("{spf}, {dkim}")
    }
}

impl Allowed {
    /// Whether this match lifts the refusal the rules gave `f`.
    fn overrides(&self, f: &Findings) -> bool {
        match self {
            Self::Client => true,
            Self::Identity(domain) => {
                f.authors.is_one() && (!f.dmarc_decides() || aligned(domain, &f.from_domain))
            }
        }
    }
}

/// Decides, and says whether the message is to be filed as spam.
pub fn decide(
    f: &Findings,
    allowed: Option<&Allowed>,
    on_dns_error: OnDnsError,
) -> (Decision, bool) {
    let (decision, spam) = rules(f);
    match decision {
        Decision::Refuse(r) if r.code.starts_with('4') && on_dns_error == OnDnsError::Accept => {
            (Decision::Accept, false)
        }
        Decision::Refuse(_) if allowed.is_some_and(|a| a.overrides(f)) => (Decision::Accept, false),
        decision => (decision, spam),
    }
}

fn rules(f: &Findings) -> (Decision, bool) {
    let accept = (Decision::Accept, false);
    if !f.authors.is_one() {
        return (
            Decision::Refuse(Refusal::not_one_author(
                f.authors.fields,
                f.authors.addresses,
            )),
            false,
        );
    }
    match f.dmarc {
        DmarcState::TempError => (
            Decision::Refuse(Refusal::dns_failure("DMARC", &f.from_domain)),
            false,
        ),
        DmarcState::Pass
        | DmarcState::PermError
        | DmarcState::Fail(Policy::None | Policy::Unspecified) => accept,
        DmarcState::Fail(_) if f.trusted_arc() => accept,
        DmarcState::Fail(Policy::Quarantine) => (Decision::Accept, true),
        DmarcState::Fail(Policy::Reject)
            if f.dkim_temp_error() || f.spf == SpfResult::TempError =>
        {
            // A signature or SPF record we could not fetch might have passed.
            (
                Decision::Refuse(Refusal::dns_failure("DKIM and SPF", &f.from_domain)),
                false,
            )
        }
        DmarcState::Fail(Policy::Reject) => (
            Decision::Refuse(Refusal::dmarc_reject(&f.from_domain, &f.dmarc_failure())),
            false,
        ),
        DmarcState::NoRecord if f.aligned_dkim_pass() || f.trusted_arc() => accept,
        DmarcState::NoRecord if f.spf == SpfResult::Fail && f.dkim_temp_error() => (
            Decision::Refuse(Refusal::dns_failure("DKIM", &f.from_domain)),
            false,
        ),
        DmarcState::NoRecord if f.spf == SpfResult::Fail => (
            Decision::Refuse(Refusal::spf_reject(&f.spf_domain, &f.from_domain)),
            false,
        ),
        DmarcState::NoRecord if f.spf == SpfResult::TempError => (
            Decision::Refuse(Refusal::dns_failure("SPF", &f.spf_domain)),
            false,
        ),
        DmarcState::NoRecord => accept,
    }
}

fn dkim_check(result: &DkimResult) -> Check {
    match result {
        DkimResult::Pass => Check::Pass,
        DkimResult::Fail(_) => Check::Fail,
        DkimResult::TempError(_) => Check::TempError,
        DkimResult::Neutral(_) | DkimResult::PermError(_) | DkimResult::None => Check::Other,
    }
}

fn dmarc_state(dmarc: &DmarcOutput) -> DmarcState {
    let (spf, dkim) = (dmarc.spf_result(), dmarc.dkim_result());
    let temp = |r: &DmarcResult| matches!(r, DmarcResult::TempError(_));
    if dmarc.dmarc_record().is_none() {
        return if temp(spf) && temp(dkim) {
            // The record itself could not be fetched.
            DmarcState::TempError
        } else if matches!(spf, DmarcResult::PermError(_)) {
            DmarcState::PermError
        } else {
            DmarcState::NoRecord
        };
    }
    if *spf == DmarcResult::Pass || *dkim == DmarcResult::Pass {
        DmarcState::Pass
    } else {
        DmarcState::Fail(dmarc.policy())
    }
}

/// Relaxed alignment: the same domain, or one a subdomain of the other's
/// organisational domain. Without a public suffix list, "organisational"
/// is approximated as: one is the other or a subdomain of it.
fn aligned(a: &str, b: &str) -> bool {
    !a.is_empty() && (is_same_or_subdomain(a, b) || is_same_or_subdomain(b, a))
}

fn is_same_or_subdomain(domain: &str, parent: &str) -> bool {
    domain == parent
        || domain
            .strip_suffix(parent)
            .is_some_and(|prefix| prefix.ends_with('.'))
}

/// Whether a sealer's results vouch for `from_domain`: a recorded DMARC
/// result decides (a pass, with `header.from` the From domain: a pass for
/// another author is not one for this one); without one, a DKIM pass
/// (`header.d`, or the domain of `header.i`) or an SPF pass
/// (`smtp.mailfrom`) aligned with it.
fn vouches_for(aar: &AuthResults, from_domain: &str) -> bool {
    if aar.of("dmarc").next().is_some() {
        return aar.of("dmarc").any(|r| {
            r.result == "pass"
                && r.property("header.from")
                    .is_some_and(|d| domain_part(d) == from_domain)
        });
    }
    let aligned_pass = |method: &str, properties: &[&str]| {
        aar.of(method).any(|r| {
            r.result == "pass"
                && properties
                    .iter()
                    .filter_map(|p| r.property(p))
                    .any(|v| aligned(&domain_part(v), from_domain))
        })
    };
    aligned_pass("dkim", &["header.d", "header.i"]) || aligned_pass("spf", &["smtp.mailfrom"])
}

/// The domain of `user@domain`, `@domain` or `domain`, lower case.
fn domain_part(value: &str) -> String {
    let domain = value.rsplit_once('@').map_or(value, |(_, d)| d);
    domain.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings() -> Findings {
        Findings {
            authors: Authors {
                fields: 1,
                addresses: 1,
            },
            spf: SpfResult::Fail,
            spf_domain: "bounces.example.net".into(),
            dkim: vec![],
            arc: Check::Other,
            arc_sealer: None,
            arc_sealer_vouches: false,
            arc_sealer_trusted: false,
            dmarc: DmarcState::Fail(Policy::Reject),
            from_domain: "example.com".into(),
        }
    }

    fn refusal(f: &Findings) -> Refusal {
        match decide(f, None, OnDnsError::Tempfail).0 {
            Decision::Refuse(r) => r,
            Decision::Accept => panic!("accepted {f:?}"),
        }
    }

    #[test]
    fn dmarc_reject_names_the_domain_and_what_failed() {
        let r = refusal(&findings());
        assert_eq!((r.code, r.enhanced), ("550", "5.7.1"));
        assert_eq!(
            r.text,
            "DMARC policy of example.com rejects this message: SPF fail for bounces.example.net, no DKIM signature"
        );
    }

    #[test]
    fn a_trusted_arc_seal_rescues_a_forwarded_message() {
        let f = Findings {
            arc: Check::Pass,
            arc_sealer: Some("google.com".into()),
            arc_sealer_trusted: true,
            arc_sealer_vouches: true,
            ..findings()
        };
        assert_eq!(
            decide(&f, None, OnDnsError::Tempfail),
            (Decision::Accept, false)
        );
        let untrusted = Findings {
            arc_sealer_trusted: false,
            ..f.clone()
        };
        assert_eq!(refusal(&untrusted).enhanced, "5.7.1");
        let sealer_saw_a_failure = Findings {
            arc_sealer_vouches: false,
            ..f
        };
        assert_eq!(refusal(&sealer_saw_a_failure).enhanced, "5.7.1");
    }

    #[test]
    fn quarantine_is_accepted_as_spam() {
        let f = Findings {
            dmarc: DmarcState::Fail(Policy::Quarantine),
            ..findings()
        };
        assert_eq!(
            decide(&f, None, OnDnsError::Tempfail),
            (Decision::Accept, true)
        );
    }

    #[test]
    fn spf_fail_without_dmarc_is_refused_unless_dkim_aligns() {
        let f = Findings {
            dmarc: DmarcState::NoRecord,
            ..findings()
        };
        let r = refusal(&f);
        assert_eq!((r.code, r.enhanced), ("550", "5.7.23"));
        let signed = Findings {
            dkim: vec![("mail.example.com".into(), Check::Pass)],
            ..f.clone()
        };
        assert_eq!(
            decide(&signed, None, OnDnsError::Tempfail).0,
            Decision::Accept
        );
        let other_signer = Findings {
            dkim: vec![("example.org".into(), Check::Pass)],
            ..f
        };
        assert_eq!(refusal(&other_signer).enhanced, "5.7.23");
    }

    #[test]
    fn dns_failures_tempfail_or_are_ignored_as_configured() {
        let f = Findings {
            dmarc: DmarcState::TempError,
            ..findings()
        };
        let r = refusal(&f);
        assert_eq!(r.code, "451");
        assert!(r.enhanced.starts_with("4.7."));
        assert_eq!(decide(&f, None, OnDnsError::Accept).0, Decision::Accept);
        let spf_temp = Findings {
            spf: SpfResult::TempError,
            dmarc: DmarcState::NoRecord,
            ..findings()
        };
        assert_eq!(refusal(&spf_temp).code, "451");
        let dkim_temp = Findings {
            dkim: vec![("example.com".into(), Check::TempError)],
            ..findings()
        };
        assert_eq!(refusal(&dkim_temp).code, "451");
    }

    #[test]
    fn an_ip_allow_match_never_refuses() {
        let allowed = Some(&Allowed::Client);
        assert_eq!(
            decide(&findings(), allowed, OnDnsError::Tempfail),
            (Decision::Accept, false)
        );
        let two_authors = Findings {
            authors: Authors {
                fields: 1,
                addresses: 2,
            },
            ..findings()
        };
        assert_eq!(
            decide(&two_authors, allowed, OnDnsError::Tempfail).0,
            Decision::Accept
        );
    }

    #[test]
    fn an_identity_allow_match_never_overrides_dmarc_for_another_domain() {
        let elsewhere = Allowed::Identity("attacker.example".into());
        assert_eq!(
            refusal_with(&findings(), &elsewhere).enhanced,
            "5.7.1",
            "DMARC of example.com still refuses"
        );
        let aligned_identity = Allowed::Identity("mail.example.com".into());
        assert_eq!(
            decide(&findings(), Some(&aligned_identity), OnDnsError::Tempfail).0,
            Decision::Accept
        );
        // Without DMARC, the SPF refusal is the allow list's to lift.
        let no_dmarc = Findings {
            dmarc: DmarcState::NoRecord,
            ..findings()
        };
        assert_eq!(
            decide(&no_dmarc, Some(&elsewhere), OnDnsError::Tempfail).0,
            Decision::Accept
        );
        let two_fields = Findings {
            authors: Authors {
                fields: 2,
                addresses: 2,
            },
            ..no_dmarc
        };
        assert_eq!(
            refusal_with(&two_fields, &aligned_identity).enhanced,
            "5.7.1"
        );
    }

    fn refusal_with(f: &Findings, allowed: &Allowed) -> Refusal {
        match decide(f, Some(allowed), OnDnsError::Tempfail).0 {
            Decision::Refuse(r) => r,
            Decision::Accept => panic!("accepted {f:?} for {allowed:?}"),
        }
    }

    #[test]
    fn not_exactly_one_author_is_refused_before_anything_else() {
        for (fields, addresses) in [(0, 0), (1, 0), (1, 2), (2, 2)] {
            let f = Findings {
                authors: Authors { fields, addresses },
                dmarc: DmarcState::TempError,
                ..findings()
            };
            let r = refusal(&f);
            assert_eq!(
                (r.code, r.enhanced),
                ("550", "5.7.1"),
                "{fields} {addresses}"
            );
            assert!(
                r.text.ends_with("DMARC needs exactly one author"),
                "{}",
                r.text
            );
        }
    }

    fn vouches(aar: &str, from_domain: &str) -> bool {
        vouches_for(&results::parse_arc(aar.as_bytes()).unwrap(), from_domain)
    }

    #[test]
    fn the_sealers_results_must_pass_for_the_from_domain() {
        let google = "i=2; mx.google.com; dkim=pass header.i=@example.com; spf=pass; \
                      dmarc=pass (p=REJECT) header.from=example.com";
        assert!(vouches(google, "example.com"));
        assert!(
            !vouches(google, "victim.example"),
            "a pass for another author"
        );
        assert!(!vouches(
            "i=2; mx.google.com; dkim=pass header.d=example.com; dmarc=fail header.from=example.com",
            "example.com"
        ), "a recorded DMARC result decides");
        assert!(
            !vouches("i=2; mx.google.com; dmarc=pass", "example.com"),
            "a DMARC pass must name its domain"
        );
        assert!(vouches(
            "i=1; (note) MX.Example.NET; SPF=Pass smtp.mailfrom=\"bounce@Mail.Example.com\"",
            "example.com"
        ));
        assert!(vouches(
            "i=1; mx.example.net; dkim=pass header.i=@news.example.com",
            "example.com"
        ));
        assert!(!vouches(
            "i=1; mx.example.net; dkim=pass header.d=attacker.example; spf=pass smtp.mailfrom=a@attacker.example",
            "example.com"
        ));
        assert!(!vouches(
            "i=1; mx.example.net; spf=fail smtp.mailfrom=example.com",
            "example.com"
        ));
    }

    #[test]
    fn alignment_is_relaxed() {
        assert!(aligned("mail.example.com", "example.com"));
        assert!(aligned("example.com", "example.com"));
        assert!(!aligned("badexample.com", "example.com"));
        assert!(!aligned("", "example.com"));
    }
}
