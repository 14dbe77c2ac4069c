//! A sending domain's DNS records: the DKIM record it must publish, the
//! SPF and DMARC records we advise, and whether the DKIM record is there.
//! One home for `teaminbox-admin domain`, `doctor` and the web's settings.

use crate::dkim::public_key_of;
use std::net::SocketAddr;
use teaminbox_store::outbound::SendingDomain;

/// The SPF record we advise for a sending domain.
pub fn spf_advice(domain: &str) -> String {
    format!("{domain}. IN TXT \"v=spf1 a mx ip4:<this mail host's address> ~all\"")
}

/// The DMARC record we advise to start with.
pub fn dmarc_advice(domain: &str) -> String {
    format!("_dmarc.{domain}. IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@{domain}\"")
}

/// The DKIM record to publish, as a zone file line.
pub fn dkim_advice(d: &SendingDomain) -> String {
    format!("{}. IN TXT \"{}\"", dkim_name(d), d.dns_txt)
}

/// Where the DKIM key is published: `selector._domainkey.domain`.
pub fn dkim_name(d: &SendingDomain) -> String {
    format!("{}._domainkey.{}", d.selector, d.domain)
}

/// What a sending domain's DKIM name publishes, compared with our key.
#[derive(Debug, PartialEq, Eq)]
pub enum DkimRecord {
    Published,
    Missing,
    OtherKey,
}

impl DkimRecord {
    /// Why the domain cannot be verified yet, for the record at `name`.
    pub fn refusal(&self, name: &str) -> Option<String> {
        match self {
            DkimRecord::Published => None,
            DkimRecord::Missing => Some(format!(
                "no DKIM record at {name} yet; publish the TXT record `domain add` printed \
                 (DNS changes can take a while), then try again"
            )),
            DkimRecord::OtherKey => Some(format!(
                "the DKIM record at {name} does not hold this domain's key; publish exactly \
                 the TXT record `domain list` shows"
            )),
        }
    }
}

/// The refusal to verify a domain that was never added.
pub fn not_a_sending_domain(domain: &str) -> String {
    format!("{domain} is not a sending domain; add it with `teaminbox-admin domain add {domain}`")
}

/// The DKIM record name of `known` and whether it publishes our key,
/// through the resolver of `nameservers` (the system's when empty).
pub async fn dkim_record(
    nameservers: &[SocketAddr],
    known: &SendingDomain,
) -> Result<(String, DkimRecord), String> {
    let name = dkim_name(known);
    let published = lookup_txt(nameservers, &name).await?;
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

/// The TXT strings at `name`; none when there is no record.
pub async fn lookup_txt(nameservers: &[SocketAddr], name: &str) -> Result<Vec<String>, String> {
    let resolver = teaminbox_store::dns::resolver(nameservers).map_err(|e| e.to_string())?;
    match resolver.txt_raw_lookup(name).await {
        Ok(bytes) => Ok(vec![String::from_utf8_lossy(&bytes).into_owned()]),
        Err(mail_auth::Error::Dns(mail_auth::DnsError::RecordNotFound(_))) => Ok(Vec::new()),
        Err(e) => Err(format!("cannot look up {name}: {e}")),
    }
}
