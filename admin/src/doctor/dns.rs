//! The resolver the daemon uses ([dns] nameservers), and the DKIM, SPF and
//! DMARC records of each sending domain, looked up through it.

use super::Finding;
use crate::domain::{dkim_record, dmarc_advice, lookup_txt, spf_advice, DkimRecord};
use teaminbox_store::config::Config;
use teaminbox_store::outbound::SendingDomain;
use teaminbox_store::Store;

pub fn check(store: &Store, config: &Config) -> Vec<Finding> {
    let resolver = resolver(config);
    let reachable = resolver.status == super::Status::Ok;
    let mut findings = vec![resolver];
    if !reachable {
        // Every lookup below would fail the same way.
        return findings;
    }
    let domains = match store.outbound().sending_domains() {
        Ok(domains) => domains,
        Err(e) => {
            findings.push(Finding::wrong(
                "sending domains",
                format!("cannot read them: {e}"),
                "check [database] url",
            ));
            return findings;
        }
    };
    findings.extend(default_from_domain_signs(config, &domains));
    for domain in &domains {
        findings.push(dkim(config, domain));
        findings.push(spf(config, &domain.domain));
        findings.push(dmarc(config, &domain.domain));
    }
    findings
}

/// The resolver answers (a name that does not exist is an answer).
fn resolver(config: &Config) -> Finding {
    const CHECK: &str = "dns resolver";
    let which = match config.dns.nameservers.as_slice() {
        [] => "the system resolver (/etc/resolv.conf)".to_owned(),
        servers => servers.join(", "),
    };
    let probe = config
        .milter
        .hosted_domains
        .first()
        .map_or("localhost", String::as_str);
    match lookup_txt(config, probe) {
        Ok(_) => Finding::ok(CHECK, format!("{which} answers")),
        Err(e) => Finding::wrong(
            CHECK,
            format!("{which} does not answer: {e}"),
            "set [dns] nameservers to a resolver that answers (or fix /etc/resolv.conf)",
        ),
    }
}

/// Replies From USERNAME@default_from_domain are signed only when that
/// domain has a key; unsigned, they fail DMARC at the customer's server.
fn default_from_domain_signs(config: &Config, domains: &[SendingDomain]) -> Option<Finding> {
    let from = &config.outbound.default_from_domain;
    if config.outbound.workers == 0 || domains.iter().any(|d| &d.domain == from) {
        return None;
    }
    Some(Finding::wrong(
        format!("dkim {from}"),
        format!("{from} ([outbound] default_from_domain) has no DKIM key: replies From it go out unsigned"),
        format!("teaminbox-admin domain add {from}, then publish the record it prints"),
    ))
}

fn dkim(config: &Config, domain: &SendingDomain) -> Finding {
    let check = format!("dkim {}", domain.domain);
    match dkim_record(config, domain) {
        Ok((name, DkimRecord::Published)) => Finding::ok(check, format!("{name} holds our key")),
        Ok((name, DkimRecord::Missing)) => Finding::wrong(
            check,
            format!(
                "no DKIM record at {name}: mail From {} is signed with a key nobody can check",
                domain.domain
            ),
            format!("publish {name}. IN TXT \"{}\"", domain.dns_txt),
        ),
        Ok((name, DkimRecord::OtherKey)) => Finding::wrong(
            check,
            format!("{name} holds another key than ours"),
            format!("publish {name}. IN TXT \"{}\"", domain.dns_txt),
        ),
        Err(e) => Finding::wrong(
            check,
            e.to_string(),
            "check the resolver ([dns] nameservers)",
        ),
    }
}

fn spf(config: &Config, domain: &str) -> Finding {
    published(config, "spf", domain, domain, "v=spf1", spf_advice(domain))
}

fn dmarc(config: &Config, domain: &str) -> Finding {
    let name = format!("_dmarc.{domain}");
    published(
        config,
        "dmarc",
        domain,
        &name,
        "v=DMARC1",
        dmarc_advice(domain),
    )
}

/// Whether a TXT record at `name` starts with `tag` (ignoring case).
fn published(
    config: &Config,
    what: &str,
    domain: &str,
    name: &str,
    tag: &str,
    advice: String,
) -> Finding {
    let check = format!("{what} {domain}");
    let tag = tag.to_ascii_lowercase();
    match lookup_txt(config, name) {
        Ok(records)
            if records
                .iter()
                .any(|r| r.to_ascii_lowercase().contains(&tag)) =>
        {
            Finding::ok(check, format!("{name} publishes a {what} record"))
        }
        Ok(_) => Finding::wrong(
            check,
            format!("no {what} record at {name}"),
            format!("publish {advice}"),
        ),
        Err(e) => Finding::wrong(
            check,
            e.to_string(),
            "check the resolver ([dns] nameservers)",
        ),
    }
}
