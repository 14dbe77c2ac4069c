//! SMTP-time authentication: SPF, DKIM, ARC and DMARC with mail-auth, and
//! the policy that turns their results into accept, refuse or tempfail.
//!
//! DNS answers are cached for as long as their TTLs say (hickory's own
//! cache for raw answers, [`cache::TtlCache`] for parsed records), so the
//! checks of a message from a known sender cost no network round trip.

mod cache;
mod policy;
pub mod results;

pub use policy::{Allowed, Authors, Decision, Findings};

use crate::refusal::Refusal;
use cache::TtlCache;
use mail_auth::{
    dmarc::verify::DmarcParameters, spf::verify::SpfParameters, AuthenticatedMessage,
    AuthenticationResults, MessageAuthenticator, Parameters, RecordSet, SpfOutput, SpfResult, Txt,
    MX,
};
use std::{
    borrow::Cow,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
};
use teaminbox_store::address::envelope_domain;
use teaminbox_store::config::{OnDnsError, SecurityConfig};
use teaminbox_store::dns::{resolver_within, ResolverError, QUERY_TIMEOUT};

/// What the checks need to know about the SMTP session.
#[derive(Clone, Copy, Debug)]
pub struct Envelope<'a> {
    /// `None` when the MTA did not say (a client on a UNIX socket, a
    /// missing macro): the checks still run, SPF as "none".
    pub client_ip: Option<IpAddr>,
    pub helo: &'a str,
    /// The MAIL FROM address, empty for the null sender.
    pub mail_from: &'a str,
}

/// The outcome of the checks for one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub spf: String,
    pub dkim: String,
    pub arc: String,
    pub dmarc: String,
    /// DMARC failed with policy quarantine: the processor files it as spam.
    pub spam: bool,
    /// A valid ARC chain whose newest seal is a trusted sealer's, and whose
    /// results, as that sealer recorded them, pass for the From domain.
    pub arc_trusted: bool,
    /// The RFC5322.From address, when the message has exactly one.
    pub header_from: Option<String>,
    /// The value of our Authentication-Results header (folded with CRLF).
    pub authentication_results: String,
    pub decision: Decision,
}

pub struct Authenticator {
    dns: MessageAuthenticator,
    settings: SecurityConfig,
    txt: TtlCache<Box<str>, Txt>,
    mx: TtlCache<Box<str>, RecordSet<MX>>,
    ipv4: TtlCache<Box<str>, RecordSet<Ipv4Addr>>,
    ipv6: TtlCache<Box<str>, RecordSet<Ipv6Addr>>,
    ptr: TtlCache<IpAddr, RecordSet<Box<str>>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("authserv_id", &self.settings.authserv_id)
            .finish_non_exhaustive()
    }
}

const CACHE_ENTRIES: usize = 10_000;

/// DKIM signatures verified per message, from the top: as large receivers
/// do, so that a message with hundreds of them cannot hold the checks.
pub const MAX_DKIM_SIGNATURES: usize = 5;

/// mail-auth's parameters with our caches for every record type.
type CachedParameters<'x, P> = Parameters<
    'x,
    P,
    TtlCache<Box<str>, Txt>,
    TtlCache<Box<str>, RecordSet<MX>>,
    TtlCache<Box<str>, RecordSet<Ipv4Addr>>,
    TtlCache<Box<str>, RecordSet<Ipv6Addr>>,
    TtlCache<IpAddr, RecordSet<Box<str>>>,
>;

impl Authenticator {
    /// `nameservers` empty means the system resolver (/etc/resolv.conf).
    pub fn new(
        settings: &SecurityConfig,
        nameservers: &[SocketAddr],
    ) -> Result<Self, ResolverError> {
        let dns = resolver_within(nameservers, QUERY_TIMEOUT.min(settings.check_timeout.0))?;
        Ok(Self {
            dns,
            settings: settings.clone(),
            txt: TtlCache::new("txt", CACHE_ENTRIES),
            mx: TtlCache::new("mx", CACHE_ENTRIES),
            ipv4: TtlCache::new("a", CACHE_ENTRIES),
            ipv6: TtlCache::new("aaaa", CACHE_ENTRIES),
            ptr: TtlCache::new("ptr", CACHE_ENTRIES),
        })
    }

    pub fn authserv_id(&self) -> &str {
        &self.settings.authserv_id
    }

    fn params<'x, P>(&'x self, params: P) -> CachedParameters<'x, P> {
        Parameters {
            params,
            cache_txt: Some(&self.txt),
            cache_mx: Some(&self.mx),
            cache_ptr: Some(&self.ptr),
            cache_ipv4: Some(&self.ipv4),
            cache_ipv6: Some(&self.ipv6),
        }
    }

    /// Runs every check on a message. The verdict comes from
    /// [`Authenticator::decide`], once the allow list has seen what the
    /// checks authenticated.
    pub async fn check(
        &self,
        envelope: &Envelope<'_>,
        message: &AuthenticatedMessage<'_>,
    ) -> Checked {
        let spf_domain = envelope_domain(envelope.mail_from)
            .unwrap_or_else(|| envelope.helo.to_ascii_lowercase());
        let spf = match envelope.client_ip {
            Some(ip) => self.spf(ip, envelope).await,
            // SPF says which addresses may send for a domain; with no
            // address there is nothing to check, so no evidence either way
            // ("none"). Checking some stand-in address instead would make
            // up a result (a "fail" for every domain with `-all`) about a
            // client nobody saw. DMARC then rests on DKIM alone.
            None => SpfOutput::new(spf_domain.clone()).with_result(SpfResult::None),
        };
        let signed = first_signatures(message);
        let dkim = self.dns.verify_dkim(self.params(&*signed)).await;
        let arc = self.dns.verify_arc(self.params(message)).await;
        let dmarc = self
            .dns
            .verify_dmarc(self.params(DmarcParameters::new(message, &dkim, &spf_domain, &spf)))
            .await;

        let authors = Authors::of(message);
        let header_from = authors
            .is_one()
            .then(|| message.from[0].to_ascii_lowercase());
        let findings = Findings::new(
            authors,
            &spf,
            &spf_domain,
            &dkim,
            &arc,
            &dmarc,
            &self.settings.trusted_arc_sealers,
        );
        let results = CheckResults {
            spf: &spf,
            dkim: &dkim,
            arc: &arc,
            dmarc: &dmarc,
        };
        let authentication_results = self.results_header(
            envelope,
            &results,
            header_from.as_deref().unwrap_or(""),
            &findings.arc_word(),
        );
        Checked {
            findings,
            header_from,
            authentication_results,
        }
    }

    /// [`Authenticator::check`] within `[security] check_timeout`; `None`
    /// when it did not finish in time (see [`Authenticator::out_of_time`]).
    pub async fn check_in_time(
        &self,
        envelope: &Envelope<'_>,
        message: &AuthenticatedMessage<'_>,
    ) -> Option<Checked> {
        let deadline = self.settings.check_timeout.0;
        let started = std::time::Instant::now();
        let checked = tokio::time::timeout(deadline, self.check(envelope, message))
            .await
            .ok();
        teaminbox_telemetry::metrics::metrics().checks_took(started.elapsed());
        checked
    }

    /// The verdict on a message whose checks did not finish in time: a
    /// tempfail, or with `on_dns_error = "accept"` an accept that vouches
    /// for nothing (every result `temperror`).
    pub fn out_of_time(&self, header_from: Option<String>) -> Verdict {
        let deadline = String::from(self.settings.check_timeout);
        let decision = match self.settings.on_dns_error {
            OnDnsError::Tempfail => Decision::Refuse(Refusal::checks_timed_out(&deadline)),
            OnDnsError::Accept => Decision::Accept,
        };
        let temperror = || "temperror".to_owned();
        Verdict {
            spf: temperror(),
            dkim: temperror(),
            arc: temperror(),
            dmarc: temperror(),
            spam: false,
            arc_trusted: false,
            header_from,
            authentication_results: format!(
                "{};\r\n\tspf=temperror;\r\n\tdkim=temperror;\r\n\tarc=temperror;\r\n\t\
                 dmarc=temperror (the checks did not finish within {deadline})",
                self.settings.authserv_id
            ),
            decision,
        }
    }

    /// Our `Authentication-Results` value. mail-auth writes SPF and ARC
    /// with the client address; without one, they are written here.
    fn results_header(
        &self,
        envelope: &Envelope<'_>,
        r: &CheckResults<'_, '_>,
        header_from: &str,
        arc_word: &str,
    ) -> String {
        let mut results = AuthenticationResults::new(&self.settings.authserv_id);
        if let Some(ip) = envelope.client_ip {
            results =
                results.with_spf_mailfrom_result(r.spf, ip, envelope.mail_from, envelope.helo);
        }
        results = results.with_dkim_results(r.dkim, header_from);
        if let Some(ip) = envelope.client_ip {
            results = results.with_arc_result(r.arc, ip);
        }
        let mut text = results.with_dmarc_result(r.dmarc).to_string();
        if envelope.client_ip.is_none() {
            text.push_str(&format!(
                ";\r\n\tspf=none (no client address from the MTA);\r\n\tarc={arc_word}"
            ));
        }
        text
    }

    async fn spf(&self, client_ip: IpAddr, envelope: &Envelope<'_>) -> SpfOutput {
        let (helo, host) = (envelope.helo, self.settings.authserv_id.as_str());
        let params = if envelope.mail_from.is_empty() {
            SpfParameters::verify_ehlo(client_ip, helo, host)
        } else {
            SpfParameters::verify_mail_from(client_ip, helo, host, envelope.mail_from)
        };
        self.dns.verify_spf(self.params(params)).await
    }

    /// Decides on checked mail. `allowed` is what an allow-list match
    /// vouches for; it keeps the results but may lift a refusal (see
    /// [`policy`]).
    pub fn decide(&self, checked: Checked, allowed: Option<&Allowed>) -> Verdict {
        let findings = &checked.findings;
        let (decision, spam) = policy::decide(findings, allowed, self.settings.on_dns_error);
        Verdict {
            spf: findings.spf_word(),
            dkim: findings.dkim_word(),
            arc: findings.arc_word(),
            dmarc: findings.dmarc_word(),
            spam,
            arc_trusted: findings.trusted_arc(),
            header_from: checked.header_from,
            authentication_results: checked.authentication_results,
            decision,
        }
    }
}

/// `message` with only its first [`MAX_DKIM_SIGNATURES`] DKIM signatures.
fn first_signatures<'a, 'x>(
    message: &'a AuthenticatedMessage<'x>,
) -> Cow<'a, AuthenticatedMessage<'x>> {
    if message.dkim_headers.len() <= MAX_DKIM_SIGNATURES {
        return Cow::Borrowed(message);
    }
    let mut first = message.clone();
    first.dkim_headers.truncate(MAX_DKIM_SIGNATURES);
    Cow::Owned(first)
}

/// mail-auth's outputs of the checks of one message.
struct CheckResults<'a, 'x> {
    spf: &'a SpfOutput,
    dkim: &'a [mail_auth::DkimOutput<'x>],
    arc: &'a mail_auth::ArcOutput<'x>,
    dmarc: &'a mail_auth::DmarcOutput,
}

/// The results of the checks, before a decision.
#[derive(Clone, Debug)]
pub struct Checked {
    pub findings: Findings,
    /// The RFC5322.From address, when the message has exactly one.
    pub header_from: Option<String>,
    authentication_results: String,
}

impl Checked {
    /// The envelope sender, if SPF passed for its domain.
    pub fn spf_passed_sender<'a>(&self, mail_from: &'a str) -> Option<&'a str> {
        (self.findings.spf == SpfResult::Pass && !mail_from.is_empty()).then_some(mail_from)
    }

    /// The From address, if DMARC passed for its domain.
    pub fn dmarc_passed_author(&self) -> Option<&str> {
        self.header_from
            .as_deref()
            .filter(|_| self.findings.dmarc == policy::DmarcState::Pass)
    }
}
