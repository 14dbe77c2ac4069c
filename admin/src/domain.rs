//! `teaminbox-admin domain ...`: sending domains and their DKIM keys.

use crate::{cli::DomainCommand, output, AdminError, AdminResult};
use teaminbox_outbound::dkim::generate_key;
use teaminbox_outbound::sending_domain::{self, dkim_advice, not_a_sending_domain};
pub(crate) use teaminbox_outbound::sending_domain::{dmarc_advice, spf_advice, DkimRecord};
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
                .ok_or_else(|| AdminError::Refused(not_a_sending_domain(&domain)))?;
            let (name, record) = dkim_record(config, &known)?;
            if let Some(why) = record.refusal(&name) {
                return Err(AdminError::Refused(why));
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
    println!("    {}\n", dkim_advice(d));
    println!(
        "  SPF (advice: allow the host that sends teaminbox's mail; keep your other senders):"
    );
    println!("    {}\n", spf_advice(&d.domain));
    println!("  DMARC (advice: start with p=none and watch the reports):");
    println!("    {}", dmarc_advice(&d.domain));
}

/// The DKIM record name of `known` (`selector._domainkey.domain`) and
/// whether it publishes our key.
pub(crate) fn dkim_record(
    config: &Config,
    known: &SendingDomain,
) -> Result<(String, DkimRecord), AdminError> {
    block_on(sending_domain::dkim_record(&config.nameservers(), known))
}

/// The TXT strings at `name`, through the configured resolver.
pub(crate) fn lookup_txt(config: &Config, name: &str) -> Result<Vec<String>, AdminError> {
    block_on(sending_domain::lookup_txt(&config.nameservers(), name))
}

fn block_on<T>(
    lookup: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, AdminError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| AdminError::Refused(format!("cannot start the DNS lookup: {e}")))?;
    runtime.block_on(lookup).map_err(AdminError::Refused)
}
