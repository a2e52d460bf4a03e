//! Verified-token cache: a bounded LRU keyed by the token itself (and its provider). A hit skips
//! the signature check and the claim checks that cannot change under one configuration; the
//! time checks run again on every hit, on the dates kept with the claims.
//!
//! The whole token is the key and is compared in full on a hit, so a lookup costs one keyed
//! SipHash pass over the token (std's `HashMap`, seeded per VM: no attacker-chosen collisions)
//! and a comparison, where a cryptographic digest of the token cost several times that on every
//! request. An entry holds the token (at most the provider's `max_token_bytes`) besides its claims.

use crate::token::{Claims, Dates};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

pub struct TokenCache {
    capacity: usize,
    entries: HashMap<Rc<str>, Entry>,
    recency: BTreeMap<u64, Rc<str>>,
    clock: u64,
}

/// What a hit needs of a verified token.
#[derive(Debug, Clone)]
pub struct Verified {
    pub claims: Rc<Claims>,
    /// The claims' NumericDates, checked again against the clock on every hit.
    pub dates: Dates,
}

struct Entry {
    provider: usize,
    verified: Verified,
    key_generation: u64,
    used: u64,
}

impl TokenCache {
    /// A cache of `capacity` entries; 0 keeps nothing (`token_cache_size: 0`).
    pub fn new(capacity: usize) -> Self {
        TokenCache {
            capacity,
            entries: HashMap::new(),
            recency: BTreeMap::new(),
            clock: 0,
        }
    }

    /// `token` as verified for `provider` with the key set of generation `key_generation`.
    pub fn get(&mut self, provider: usize, token: &str, key_generation: u64) -> Option<Verified> {
        let entry = self.entries.get_mut(token)?;
        if entry.provider != provider {
            return None;
        }
        if entry.key_generation != key_generation {
            self.remove(token);
            return None;
        }
        self.clock += 1;
        let key = self.recency.remove(&entry.used)?;
        entry.used = self.clock;
        self.recency.insert(self.clock, key);
        Some(entry.verified.clone())
    }

    /// Keeps `token`, verified for `provider`; replaces what the cache held for it (for any
    /// provider), evicting the least recently used entries past the capacity.
    pub fn insert(
        &mut self,
        provider: usize,
        token: &str,
        verified: Verified,
        key_generation: u64,
    ) {
        self.remove(token);
        if self.capacity == 0 {
            return;
        }
        while self.entries.len() >= self.capacity {
            let Some((_, oldest)) = self.recency.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
        self.clock += 1;
        let key: Rc<str> = Rc::from(token);
        self.recency.insert(self.clock, key.clone());
        self.entries.insert(
            key,
            Entry {
                provider,
                verified,
                key_generation,
                used: self.clock,
            },
        );
    }

    fn remove(&mut self, token: &str) {
        if let Some(old) = self.entries.remove(token) {
            self.recency.remove(&old.used);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified(sub: &str) -> Verified {
        let mut c = Claims::new();
        c.insert("sub".into(), sub.into());
        Verified {
            claims: Rc::new(c),
            dates: Dates::default(),
        }
    }

    fn sub(v: Option<Verified>) -> Option<String> {
        v.and_then(|v| v.claims.get("sub")?.as_str().map(str::to_string))
    }

    #[test]
    fn evicts_least_recently_used() {
        let mut cache = TokenCache::new(2);
        cache.insert(0, "a", verified("a"), 0);
        cache.insert(0, "b", verified("b"), 0);
        assert!(cache.get(0, "a", 0).is_some()); // a is now the most recent
        cache.insert(0, "c", verified("c"), 0);
        assert_eq!(cache.len(), 2);
        assert!(cache.get(0, "b", 0).is_none());
        assert_eq!(sub(cache.get(0, "a", 0)).as_deref(), Some("a"));
        assert_eq!(sub(cache.get(0, "c", 0)).as_deref(), Some("c"));
    }

    #[test]
    fn capacity_zero_keeps_nothing() {
        let mut cache = TokenCache::new(0);
        cache.insert(0, "a", verified("a"), 0);
        assert!(cache.is_empty());
        assert!(cache.get(0, "a", 0).is_none());
    }

    #[test]
    fn key_rotation_invalidates_entries() {
        let mut cache = TokenCache::new(4);
        cache.insert(0, "a", verified("a"), 1);
        assert!(cache.get(0, "a", 2).is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn provider_is_part_of_the_key() {
        let mut cache = TokenCache::new(4);
        cache.insert(0, "t", verified("a"), 0);
        assert!(cache.get(1, "t", 0).is_none());
        cache.insert(1, "t", verified("b"), 0);
        assert!(cache.get(0, "t", 0).is_none());
        assert_eq!(sub(cache.get(1, "t", 0)).as_deref(), Some("b"));
    }

    #[test]
    fn only_the_whole_token_hits() {
        let mut cache = TokenCache::new(4);
        cache.insert(0, "header.payload.sig", verified("a"), 0);
        for other in [
            "header.payload.si",
            "header.payload.sig ",
            "Header.payload.sig",
            "",
        ] {
            assert!(cache.get(0, other, 0).is_none(), "{other:?}");
        }
        assert!(cache.get(0, "header.payload.sig", 0).is_some());
    }

    #[test]
    fn eviction_keeps_the_index_consistent() {
        let mut cache = TokenCache::new(3);
        for round in 0..50u32 {
            let token = format!("t{}", round % 7);
            if cache.get(0, &token, 0).is_none() {
                cache.insert(0, &token, verified(&token), 0);
            }
            assert!(cache.len() <= 3);
            assert_eq!(cache.len(), cache.recency.len());
            assert!(cache
                .recency
                .values()
                .all(|k| cache.entries.contains_key(k)));
        }
    }
}
