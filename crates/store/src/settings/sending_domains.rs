//! Sending domains: whether a custom From address's domain is verified.

use super::Settings;
use crate::{schema::sending_domains, DbConnection, StoreError, StoreResult};
use diesel::prelude::*;

impl Settings<'_> {
    /// Whether `domain` (lower case) is a sending domain whose DNS records
    /// were verified.
    pub fn sending_domain_verified(&self, domain: &str) -> StoreResult<bool> {
        self.store.read(|conn| domain_verified(conn, domain))
    }

    /// Refuses a custom From address outside the verified sending domains,
    /// in the words the channel's writes use ([`StoreError::Conflict`]):
    /// for a form that shows the refusal next to the field before saving.
    pub fn check_from_address(&self, address: &str) -> StoreResult<()> {
        self.store.read(|conn| require_verified_from(conn, address))
    }
}

fn domain_verified(conn: &mut DbConnection, domain: &str) -> StoreResult<bool> {
    Ok(sending_domains::table
        .filter(sending_domains::domain.eq(domain))
        .filter(sending_domains::verified_at.is_not_null())
        .count()
        .get_result::<i64>(conn)?
        > 0)
}

/// A custom From address must be in a verified sending domain; checked in
/// the writing transaction too.
pub(super) fn require_verified_from(conn: &mut DbConnection, address: &str) -> StoreResult<()> {
    let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
    if domain_verified(conn, domain)? {
        Ok(())
    } else {
        Err(StoreError::Conflict(not_verified(
            domain,
            &format!("the From address {address}"),
        )))
    }
}

/// The refusal of a From address (`what`: the field, or the address) in
/// `domain`, which is not a verified sending domain: the store's, the
/// admin tool's and the web's words.
pub fn not_verified(domain: &str, what: &str) -> String {
    format!("the domain {domain} of {what} is not a verified sending domain")
}
