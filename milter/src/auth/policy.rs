//! The policy: what the authentication results mean for the message.
//!
//! Kept apart from the DNS work so that every rule can be tested on plain
//! values. The rules, in order:
//! 1. A DMARC record that could not be fetched, or a DNS failure in a check
//!    that decides a refusal, is a temporary failure (or, with
//!    `on_dns_error = "accept"`, not counted).
//! 2. DMARC pass: accept.
//! 3. DMARC fail with `p=reject`: refuse with 550 5.7.1, unless a valid ARC
//!    chain was sealed by a trusted forwarder whose first hop recorded a
//!    pass. With `p=quarantine`: accept, marked spam (not when rescued by
//!    ARC). With `p=none`: accept.
//! 4. No DMARC record: SPF fail with no aligned passing DKIM signature and no
//!    trusted ARC is refused with 550 5.7.23.
//! 5. An allow-list match never refuses; the results are still recorded.

use crate::{config::OnDnsError, refusal::Refusal};
use mail_auth::{
    dmarc::Policy, ArcOutput, DkimOutput, DkimResult, DmarcOutput, DmarcResult, SpfOutput,
    SpfResult,
};

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

/// The results, reduced to what the policy looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Findings {
    pub spf: SpfResult,
    pub spf_domain: String,
    /// Each DKIM signature: its signing domain and result.
    pub dkim: Vec<(String, Check)>,
    pub arc: Check,
    /// The domain that sealed the newest ARC set.
    pub arc_sealer: Option<String>,
    /// The first hop's ARC-Authentication-Results recorded a pass.
    pub arc_first_hop_passed: bool,
    pub arc_sealer_trusted: bool,
    pub dmarc: DmarcState,
    /// The RFC5322.From domain DMARC was evaluated for.
    pub from_domain: String,
}

impl Findings {
    pub fn new(
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
        let newest = arc.sets().iter().max_by_key(|s| s.seal.header.i);
        let arc_sealer = newest.map(|s| s.seal.header.d.to_ascii_lowercase());
        let arc_first_hop_passed = arc
            .sets()
            .iter()
            .find(|s| s.results.header.i == 1)
            .is_some_and(|s| first_hop_passed(s.results.value));
        let arc_sealer_trusted = arc_sealer
            .as_deref()
            .is_some_and(|d| trusted_sealers.iter().any(|t| is_same_or_subdomain(d, t)));
        Self {
            spf: spf.result(),
            spf_domain: spf_domain.to_ascii_lowercase(),
            dkim,
            arc: dkim_check(arc.result()),
            arc_sealer,
            arc_first_hop_passed,
            arc_sealer_trusted,
            dmarc: dmarc_state(dmarc),
            from_domain: dmarc.domain().to_ascii_lowercase(),
        }
    }

    /// A valid ARC chain from a trusted forwarder that vouches for the
    /// first hop.
    pub fn trusted_arc(&self) -> bool {
        self.arc == Check::Pass && self.arc_sealer_trusted && self.arc_first_hop_passed
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

/// Decides, and says whether the message is to be filed as spam.
pub fn decide(f: &Findings, allowed: bool, on_dns_error: OnDnsError) -> (Decision, bool) {
    let (decision, spam) = rules(f);
    match decision {
        Decision::Refuse(r) if r.code.starts_with('4') && on_dns_error == OnDnsError::Accept => {
            (Decision::Accept, false)
        }
        Decision::Refuse(_) if allowed => (Decision::Accept, false),
        decision => (decision, spam),
    }
}

fn rules(f: &Findings) -> (Decision, bool) {
    let accept = (Decision::Accept, false);
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

/// Reads an ARC-Authentication-Results value for a pass: `dmarc=pass`
/// when DMARC was recorded, otherwise `dkim=pass` or `spf=pass`.
fn first_hop_passed(value: &[u8]) -> bool {
    let text = String::from_utf8_lossy(value).to_ascii_lowercase();
    let results: Vec<&str> = text.split(';').skip(1).map(str::trim).collect();
    let says = |method: &str| {
        results
            .iter()
            .find(|r| r.starts_with(&format!("{method}=")))
            .map(|r| r.starts_with(&format!("{method}=pass")))
    };
    match says("dmarc") {
        Some(pass) => pass,
        None => says("dkim") == Some(true) || says("spf") == Some(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings() -> Findings {
        Findings {
            spf: SpfResult::Fail,
            spf_domain: "bounces.example.net".into(),
            dkim: vec![],
            arc: Check::Other,
            arc_sealer: None,
            arc_first_hop_passed: false,
            arc_sealer_trusted: false,
            dmarc: DmarcState::Fail(Policy::Reject),
            from_domain: "example.com".into(),
        }
    }

    fn refusal(f: &Findings) -> Refusal {
        match decide(f, false, OnDnsError::Tempfail).0 {
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
            arc_first_hop_passed: true,
            ..findings()
        };
        assert_eq!(
            decide(&f, false, OnDnsError::Tempfail),
            (Decision::Accept, false)
        );
        let untrusted = Findings {
            arc_sealer_trusted: false,
            ..f.clone()
        };
        assert_eq!(refusal(&untrusted).enhanced, "5.7.1");
        let first_hop_failed = Findings {
            arc_first_hop_passed: false,
            ..f
        };
        assert_eq!(refusal(&first_hop_failed).enhanced, "5.7.1");
    }

    #[test]
    fn quarantine_is_accepted_as_spam() {
        let f = Findings {
            dmarc: DmarcState::Fail(Policy::Quarantine),
            ..findings()
        };
        assert_eq!(
            decide(&f, false, OnDnsError::Tempfail),
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
            decide(&signed, false, OnDnsError::Tempfail).0,
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
        assert_eq!(decide(&f, false, OnDnsError::Accept).0, Decision::Accept);
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
    fn an_allow_list_match_never_refuses() {
        assert_eq!(
            decide(&findings(), true, OnDnsError::Tempfail),
            (Decision::Accept, false)
        );
    }

    #[test]
    fn first_hop_results_are_read_from_the_aar() {
        assert!(first_hop_passed(b"i=1; mx.google.com; dkim=pass header.i=@example.com; spf=pass; dmarc=pass (p=REJECT) header.from=example.com"));
        assert!(!first_hop_passed(
            b"i=1; mx.google.com; dkim=pass; dmarc=fail header.from=example.com"
        ));
        assert!(first_hop_passed(
            b"i=1; mx.example.net; spf=pass smtp.mailfrom=example.com"
        ));
        assert!(!first_hop_passed(b"i=1; mx.example.net; spf=fail"));
    }

    #[test]
    fn alignment_is_relaxed() {
        assert!(aligned("mail.example.com", "example.com"));
        assert!(aligned("example.com", "example.com"));
        assert!(!aligned("badexample.com", "example.com"));
        assert!(!aligned("", "example.com"));
    }
}
