//! Failed sign-ins, limited per address and per client: guessing a
//! password costs a window's wait after a few tries. Kept in memory (one
//! web process); a second web host keeps its own count.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per window for one address.
const PER_ADDRESS: u32 = 5;
/// Failures allowed per window for one client (it may try several
/// addresses, or be a shared proxy).
const PER_CLIENT: u32 = 20;
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Beyond this many keys, expired ones are swept.
const SWEEP_ABOVE: usize = 10_000;

#[derive(Default)]
pub struct SignInLimits {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl SignInLimits {
    /// Whether another try for `email` from `client` is allowed now.
    pub fn allows(&self, email: &str, client: &str) -> bool {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let under = |key: String, limit: u32| {
            failures
                .get(&key)
                .is_none_or(|(count, since)| *count < limit || since.elapsed() > WINDOW)
        };
        under(address_key(email), PER_ADDRESS) && under(client_key(client), PER_CLIENT)
    }

    /// Counts a failed try.
    pub fn failed(&self, email: &str, client: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() > SWEEP_ABOVE {
            failures.retain(|_, (_, since)| since.elapsed() <= WINDOW);
        }
        for key in [address_key(email), client_key(client)] {
            let entry = failures.entry(key).or_insert((0, Instant::now()));
            if entry.1.elapsed() > WINDOW {
                *entry = (0, Instant::now());
            }
            entry.0 += 1;
        }
    }
}

fn address_key(email: &str) -> String {
    format!("address:{}", email.trim().to_ascii_lowercase())
}

fn client_key(client: &str) -> String {
    format!("client:{client}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_and_a_client_are_limited_apart() {
        let limits = SignInLimits::default();
        for _ in 0..PER_ADDRESS {
            assert!(limits.allows("alice@example.com", "192.0.2.1"));
            limits.failed("Alice@example.com", "192.0.2.1");
        }
        assert!(!limits.allows("alice@example.com", "192.0.2.9"));
        assert!(limits.allows("bob@example.com", "192.0.2.1"));
        for n in 0..PER_CLIENT {
            limits.failed(&format!("user{n}@example.com"), "192.0.2.2");
        }
        assert!(!limits.allows("carol@example.com", "192.0.2.2"));
        assert!(limits.allows("carol@example.com", "192.0.2.3"));
    }
}
