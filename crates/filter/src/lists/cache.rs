//! The lists as the milter holds them: read from the store at most once per TTL and shared by every connection.

use super::FilterSet;
use std::{
    sync::{Arc, PoisonError, RwLock},
    time::{Duration, Instant},
};
use teaminbox_store::{Store, StoreError, StoreResult};

/// How long [`FilterCache`] uses the lists before reading them again.
pub const FILTER_CACHE_TTL: Duration = Duration::from_secs(2);

/// The lists as the milter holds them: read from the store at most once per
/// TTL (by default [`FILTER_CACHE_TTL`], 2 s), shared by every connection.
#[derive(Debug)]
pub struct FilterCache {
    ttl: Duration,
    current: RwLock<Option<Loaded>>,
    /// Held by the one caller that reloads.
    loading: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct Loaded {
    at: Instant,
    set: Arc<FilterSet>,
    /// Read again at the next `get`, whatever the TTL (see `expire`).
    expired: bool,
}

impl Default for FilterCache {
    fn default() -> Self {
        Self::new()
    }
}

impl FilterCache {
    pub fn new() -> Self {
        Self::with_ttl(FILTER_CACHE_TTL)
    }

    pub fn with_ttl(ttl: Duration) -> Self {
        Self {
            ttl,
            current: RwLock::new(None),
            loading: tokio::sync::Mutex::const_new(()),
        }
    }

    /// The lists if they were read less than a TTL ago, without waiting.
    pub fn fresh(&self) -> Option<Arc<FilterSet>> {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        current
            .as_ref()
            .filter(|loaded| !loaded.expired && loaded.at.elapsed() < self.ttl)
            .map(|loaded| Arc::clone(&loaded.set))
    }

    fn previous(&self) -> Option<Arc<FilterSet>> {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        current.as_ref().map(|loaded| Arc::clone(&loaded.set))
    }

    fn replace(&self, set: Arc<FilterSet>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(Loaded {
            at: Instant::now(),
            set,
            expired: false,
        });
    }

    /// Makes the next [`FilterCache::get`] read the lists again (a reload,
    /// SIGHUP); the lists in hand stay the fallback should that read fail.
    pub fn expire(&self) {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(loaded) = current.as_mut() {
            loaded.expired = true;
        }
    }

    /// The lists, read from `store` (on a blocking thread) if the cached
    /// ones are older than the TTL.
    ///
    /// One caller reloads at a time; the others meanwhile use the previous
    /// lists. If the reload fails and there are previous lists, they are
    /// used for another TTL (with a warning); only without any is the
    /// error returned.
    pub async fn get(&self, store: &Store) -> StoreResult<Arc<FilterSet>> {
        if let Some(set) = self.fresh() {
            return Ok(set);
        }
        let _loading = match self.loading.try_lock() {
            Ok(guard) => guard,
            Err(_) => match self.previous() {
                Some(set) => return Ok(set),
                None => self.loading.lock().await,
            },
        };
        // Another caller may have reloaded while this one waited.
        if let Some(set) = self.fresh() {
            return Ok(set);
        }
        let reader = store.clone();
        let loaded = tokio::task::spawn_blocking(move || reader.inbound().filters())
            .await
            .unwrap_or_else(|e| {
                Err(StoreError::Unavailable(format!(
                    "reading the allow and deny lists stopped: {e}"
                )))
            });
        match loaded {
            Ok(filters) => {
                let set = Arc::new(FilterSet::new(&filters));
                self.replace(Arc::clone(&set));
                Ok(set)
            }
            Err(e) => match self.previous() {
                Some(set) => {
                    tracing::warn!(
                        "cannot reload the allow and deny lists, using the previous ones: {e}"
                    );
                    self.replace(Arc::clone(&set));
                    Ok(set)
                }
                None => Err(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_lists_are_not_fresh_but_kept() {
        let cache = FilterCache::new();
        cache.replace(Arc::new(FilterSet::new(&[])));
        assert!(cache.fresh().is_some());
        cache.expire();
        assert!(cache.fresh().is_none());
        assert!(cache.previous().is_some());
    }

    #[test]
    fn the_cache_starts_empty() {
        let cache = FilterCache::new();
        assert!(cache.fresh().is_none());
        assert_eq!(cache.ttl, Duration::from_secs(2));
    }
}
