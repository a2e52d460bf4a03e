//! The global not-before ("revoke all"): one Redis key, cached in-process for at most `max_age`.
//! The clock is passed in, so the cache logic is tested without waiting.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Whether a token issued at `iat` falls under the global not-before.
/// Tokens issued in the not-before second itself are refused too: `iat` has one-second
/// granularity, and a token minted just before the revocation must not survive it.
/// A token without `iat` is refused once any not-before is set.
pub fn revoked_by_not_before(not_before: Option<i64>, iat: Option<i64>) -> bool {
    match (not_before, iat) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(not_before), Some(iat)) => iat <= not_before,
    }
}

#[derive(Debug)]
pub struct NotBeforeCache {
    max_age: Duration,
    slot: Mutex<Option<(Instant, Option<i64>)>>,
}

impl NotBeforeCache {
    pub fn new(max_age: Duration) -> NotBeforeCache {
        NotBeforeCache {
            max_age,
            slot: Mutex::new(None),
        }
    }

    /// The cached value (`Some(None)`: known to be unset), or `None` when it must be read again.
    pub fn get(&self, now: Instant) -> Option<Option<i64>> {
        let slot = self
            .slot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match *slot {
            Some((read_at, value)) if now.saturating_duration_since(read_at) < self.max_age => {
                Some(value)
            }
            _ => None,
        }
    }

    /// Stores a value read from Redis at `read_at`. The not-before only ever rises, so a read
    /// that returns less than the cached value is stale (a replica behind, or a read that raced a
    /// revoke-all): the larger value is kept.
    pub fn put(&self, value: Option<i64>, read_at: Instant) {
        let mut slot = self
            .slot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let known = slot.and_then(|(_, v)| v);
        *slot = Some((read_at, value.max(known)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_before_rules() {
        assert!(!revoked_by_not_before(None, None));
        assert!(!revoked_by_not_before(None, Some(5)));
        assert!(revoked_by_not_before(Some(10), None));
        assert!(revoked_by_not_before(Some(10), Some(9)));
        assert!(revoked_by_not_before(Some(10), Some(10)));
        assert!(!revoked_by_not_before(Some(10), Some(11)));
    }

    #[test]
    fn cache_expires_after_max_age() {
        let cache = NotBeforeCache::new(Duration::from_secs(1));
        let t0 = Instant::now();
        assert_eq!(cache.get(t0), None);
        cache.put(Some(42), t0);
        assert_eq!(cache.get(t0), Some(Some(42)));
        assert_eq!(cache.get(t0 + Duration::from_millis(999)), Some(Some(42)));
        assert_eq!(cache.get(t0 + Duration::from_secs(1)), None);
        cache.put(None, t0 + Duration::from_secs(1));
        assert_eq!(cache.get(t0 + Duration::from_millis(1500)), Some(Some(42)));
    }

    #[test]
    fn a_stale_read_never_lowers_the_not_before() {
        let cache = NotBeforeCache::new(Duration::from_secs(1));
        let t0 = Instant::now();
        cache.put(None, t0);
        assert_eq!(cache.get(t0), Some(None));
        cache.put(Some(100), t0);
        cache.put(Some(50), t0 + Duration::from_secs(2));
        assert_eq!(cache.get(t0 + Duration::from_secs(2)), Some(Some(100)));
        cache.put(Some(200), t0 + Duration::from_secs(3));
        assert_eq!(cache.get(t0 + Duration::from_secs(3)), Some(Some(200)));
    }
}
