//! A bounded cache of parsed DNS records for mail-auth, each entry kept for
//! as long as its DNS TTL says.
//!
//! Why not a cache crate: mail-auth hands over a per-entry expiry instant,
//! which the common crates (quick_cache, lru) do not take, and moka's
//! per-entry expiry costs a large dependency for a map of a few thousand
//! records.

use mail_auth::ResolverCache;
use std::{borrow::Borrow, collections::HashMap, hash::Hash, sync::Mutex, time::Instant};
use teaminbox_telemetry::metrics::metrics;

pub struct TtlCache<K, V> {
    /// The record type, as the metrics name it (`txt`, `mx`...).
    record: &'static str,
    capacity: usize,
    entries: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K: Hash + Eq, V: Clone> TtlCache<K, V> {
    pub fn new(record: &'static str, capacity: usize) -> Self {
        Self {
            record,
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (V, Instant)>> {
        // A panic while holding the lock cannot leave the map inconsistent.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<K: Hash + Eq, V: Clone> ResolverCache<K, V> for TtlCache<K, V> {
    fn get<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut entries = self.lock();
        let found = match entries.get(name) {
            Some((value, valid_until)) if *valid_until > Instant::now() => Some(value.clone()),
            Some(_) => {
                entries.remove(name);
                None
            }
            None => None,
        };
        metrics().dns_cache_lookup(self.record, found.is_some());
        found
    }

    fn remove<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lock().remove(name).map(|(value, _)| value)
    }

    fn insert(&self, key: K, value: V, valid_until: Instant) {
        let mut entries = self.lock();
        if entries.len() >= self.capacity {
            let now = Instant::now();
            entries.retain(|_, (_, until)| *until > now);
            if entries.len() >= self.capacity {
                // Still full of live entries: start over rather than let
                // memory grow with the variety of senders.
                entries.clear();
            }
        }
        entries.insert(key, (value, valid_until));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn entries_expire_with_their_ttl() {
        let cache = TtlCache::<Box<str>, u32>::new("txt", 10);
        let now = Instant::now();
        cache.insert("live".into(), 1, now + Duration::from_secs(60));
        cache.insert("dead".into(), 2, now - Duration::from_secs(1));
        assert_eq!(cache.get("live"), Some(1));
        assert_eq!(cache.get("dead"), None);
    }

    #[test]
    fn capacity_bounds_the_map() {
        let cache = TtlCache::<u32, u32>::new("txt", 3);
        let later = Instant::now() + Duration::from_secs(60);
        for i in 0..10 {
            cache.insert(i, i, later);
            assert!(cache.lock().len() <= 3);
        }
        assert_eq!(cache.get(&9), Some(9));
    }
}
