//! What the directory remembers between requests for a few seconds: settings and the
//! applications behind access tokens, which every API call and form save would otherwise read
//! again. Under a steady stream of writes each read is costly, since the store starts every
//! read transaction after a commit with a cold page cache.
//!
//! A change made through this directory clears what it affects at once; a change made by
//! another node sharing the database is seen here within [`FRESH_FOR`].

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a remembered value is used before the store is asked again.
pub const FRESH_FOR: Duration = Duration::from_secs(5);

/// The most values one cache holds; past it, stale values are dropped, and if none are, all.
const CAPACITY: usize = 10_000;

/// Values read from the store, each used for [`FRESH_FOR`] after it was read.
pub(crate) struct Recent<K, V> {
    entries: Arc<Mutex<Entries<K, V>>>,
}

struct Entries<K, V> {
    values: HashMap<K, (Instant, V)>,
    /// When the cache was last cleared: a value read before then may predate the change that
    /// cleared it, and is not kept.
    cleared: Option<Instant>,
}

impl<K, V> Clone for Recent<K, V> {
    fn clone(&self) -> Self {
        Recent { entries: self.entries.clone() }
    }
}

impl<K: Eq + Hash, V: Clone> Recent<K, V> {
    /// An empty cache.
    pub(crate) fn new() -> Self {
        Recent { entries: Arc::new(Mutex::new(Entries { values: HashMap::new(), cleared: None })) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries<K, V>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The value for `key` if it was read less than [`FRESH_FOR`] ago.
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        let entries = self.lock();
        entries.values.get(key).filter(|(read, _)| read.elapsed() < FRESH_FOR).map(|(_, value)| value.clone())
    }

    /// Remembers `value`, read from the store by a read that began at `read`. A read that began
    /// before the last [`clear`](Self::clear) may have seen the store before the change that
    /// cleared it, so its value is dropped: a change through this directory shows at once.
    pub(crate) fn put(&self, key: K, value: V, read: Instant) {
        let mut entries = self.lock();
        if entries.cleared.is_some_and(|cleared| read <= cleared) {
            return;
        }
        if entries.values.len() >= CAPACITY {
            entries.values.retain(|_, (at, _)| at.elapsed() < FRESH_FOR);
            if entries.values.len() >= CAPACITY {
                entries.values.clear();
            }
        }
        entries.values.insert(key, (read, value));
    }

    /// Forgets everything, after a change that may affect any value.
    pub(crate) fn clear(&self) {
        let mut entries = self.lock();
        entries.values.clear();
        entries.cleared = Some(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_used_while_fresh_and_forgotten_on_clear() {
        let cache: Recent<&str, u32> = Recent::new();
        assert_eq!(cache.get(&"a"), None);
        cache.put("a", 1, Instant::now());
        assert_eq!(cache.get(&"a"), Some(1));
        let shared = cache.clone();
        shared.clear();
        assert_eq!(cache.get(&"a"), None, "clones share one cache");
    }

    #[test]
    fn a_value_read_too_long_ago_is_not_used() {
        let cache: Recent<&str, u32> = Recent::new();
        let long_ago = Instant::now().checked_sub(FRESH_FOR).expect("the machine has been up for seconds");
        cache.put("a", 1, long_ago);
        assert_eq!(cache.get(&"a"), None);
    }

    #[test]
    fn a_value_read_before_a_clear_is_not_kept() {
        let cache: Recent<&str, u32> = Recent::new();
        let read = Instant::now();
        cache.clear();
        cache.put("a", 1, read);
        assert_eq!(cache.get(&"a"), None, "it may predate the change that cleared the cache");
        cache.put("a", 2, Instant::now());
        assert_eq!(cache.get(&"a"), Some(2));
    }

    #[test]
    fn a_full_cache_drops_stale_values_first() {
        let cache: Recent<usize, usize> = Recent::new();
        let long_ago = Instant::now().checked_sub(FRESH_FOR).expect("the machine has been up for seconds");
        for i in 0..CAPACITY - 1 {
            cache.put(i, i, long_ago);
        }
        cache.put(CAPACITY, 0, Instant::now());
        cache.put(CAPACITY + 1, 1, Instant::now());
        assert_eq!(cache.entries.lock().unwrap().values.len(), 2, "the stale values made room");
        assert_eq!(cache.get(&CAPACITY), Some(0));
    }
}
