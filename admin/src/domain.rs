//! `teaminbox-admin domain ...`: sending domains and their DKIM keys.

use crate::{cli::DomainCommand, output, AdminError, AdminResult};
use teaminbox_outbound::dkim::{generate_key, public_key_of};
use teaminbox_store::address::normalize_domain;
use teaminbox_store::config::Config;
use teaminbox_store::{outbound::SendingDomain, Store};

pub fn run(command: DomainCommand, store: &Store, config: &Config) -> AdminResult {
    match command {
        DomainCommand::Add {
            domain,
            selector,
            json,
        } => {
            let domain = parse(&domain)?;
            let selector = normalize_domain(&selector)
                .map_err(|e| AdminError::Usage(format!("--selector: {e}")))?;
            let key = generate_key().map_err(AdminError::Refused)?;
            let added = store.outbound().add_sending_domain(
                &domain,
                &selector,
                &key.private_key_pem,
                &key.dns_txt,
            )?;
            if json.json {
                output::json(&added);
            } else {
                print_records(&added);
            }
            Ok(())
        }
        DomainCommand::Verify { domain, json } => {
            let domain = parse(&domain)?;
            let known = store
                .outbound()
                .sending_domain(&domain)?
                .ok_or_else(|| AdminError::Refused(format!("{domain} is not a sending domain; add it with `teaminbox-admin domain add {domain}`")))?;
            let (name, record) = dkim_record(config, &known)?;
            match record {
                DkimRecord::Published => {}
                DkimRecord::Missing => return Err(AdminError::Refused(format!("no DKIM record at {name} yet; publish the TXT record `domain add` printed (DNS changes can take a while), then try again"))),
                DkimRecord::OtherKey => return Err(AdminError::Refused(format!("the DKIM record at {name} does not hold this domain's key; publish exactly the TXT record `domain list` shows"))),
            }
            let verified = store.outbound().mark_domain_verified(&domain)?;
            if json.json {
                output::json(&verified);
            } else {
                println!("{domain} is verified: mail From it is signed with the key at {name}.");
            }
            Ok(())
        }
        DomainCommand::List(flag) => {
            let domains = store.outbound().sending_domains()?;
            if flag.json {
                output::json(&domains);
            } else {
                let rows: Vec<Vec<String>> = domains
                    .iter()
                    .map(|d| {
                        vec![
                            d.domain.clone(),
                            d.selector.clone(),
                            d.verified_at.map_or("not verified".into(), |t| {
                                format!("verified {}", t.format("%Y-%m-%d %H:%M"))
                            }),
                        ]
                    })
                    .collect();
                output::table(&["DOMAIN", "SELECTOR", "STATUS"], &rows);
            }
            Ok(())
        }
    }
}

fn parse(domain: &str) -> Result<String, AdminError> {
    normalize_domain(domain).map_err(AdminError::Usage)
}

fn print_records(d: &SendingDomain) {
    println!(
        "Added {}. Publish these DNS records, then run `teaminbox-admin domain verify {}`:\n",
        d.domain, d.domain
    );
    println!("  DKIM (required):");
    println!(
        "    {}._domainkey.{}. IN TXT \"{}\"\n",
        d.selector, d.domain, d.dns_txt
    );
    println!(
        "  SPF (advice: allow the host that sends teaminbox's mail; keep your other senders):"
    );
    println!("    {}\n", spf_advice(&d.domain));
    println!("  DMARC (advice: start with p=none and watch the reports):");
    println!("    {}", dmarc_advice(&d.domain));
}

/// The SPF record we advise for a sending domain.
pub(crate) fn spf_advice(domain: &str) -> String {
    format!("{domain}. IN TXT \"v=spf1 a mx ip4:<this mail host's address> ~all\"")
}

/// The DMARC record we advise to start with.
pub(crate) fn dmarc_advice(domain: &str) -> String {
    format!("_dmarc.{domain}. IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@{domain}\"")
}

/// What a sending domain's DKIM name publishes, compared with our key.
pub(crate) enum DkimRecord {
    Published,
    Missing,
    OtherKey,
}

/// The DKIM record name of `known` (`selector._domainkey.domain`) and
/// whether it publishes our key.
pub(crate) fn dkim_record(
    config: &Config,
    known: &SendingDomain,
) -> Result<(String, DkimRecord), AdminError> {
    let name = format!("{}._domainkey.{}", known.selector, known.domain);
    let published = lookup_txt(config, &name)?;
    let expected = public_key_of(&known.dns_txt);
    let record = if published.is_empty() {
        DkimRecord::Missing
    } else if published.iter().any(|txt| public_key_of(txt) == expected) {
        DkimRecord::Published
    } else {
        DkimRecord::OtherKey
    };
    Ok((name, record))
}

/// The TXT strings at `name`, through the configured resolver.
pub(crate) fn lookup_txt(config: &Config, name: &str) -> Result<Vec<String>, AdminError> {
    let resolver = teaminbox_store::dns::resolver(&config.nameservers())
        .map_err(|e| AdminError::Refused(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| AdminError::Refused(format!("cannot start the DNS lookup: {e}")))?;
    runtime.block_on(async {
        match resolver.txt_raw_lookup(name).await {
            Ok(bytes) => Ok(vec![String::from_utf8_lossy(&bytes).into_owned()]),
            Err(mail_auth::Error::Dns(mail_auth::DnsError::RecordNotFound(_))) => Ok(Vec::new()),
            Err(e) => Err(AdminError::Refused(format!("cannot look up {name}: {e}"))),
        }
    })
}
