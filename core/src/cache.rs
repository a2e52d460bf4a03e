//! Verified-token cache: a bounded LRU keyed by a SHA-256 of (provider, token). A hit skips the
//! signature check only; claims (expiry included) are checked again on every hit.

use crate::token::Claims;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

pub const DEFAULT_CAPACITY: usize = 1024;

type Key = [u8; 32];

pub struct TokenCache {
    capacity: usize,
    entries: HashMap<Key, Entry>,
    recency: BTreeMap<u64, Key>,
    clock: u64,
}

struct Entry {
    claims: Rc<Claims>,
    key_generation: u64,
    used: u64,
}

impl TokenCache {
    pub fn new(capacity: usize) -> Self {
        TokenCache {
            capacity: capacity.max(1),
            entries: HashMap::new(),
            recency: BTreeMap::new(),
            clock: 0,
        }
    }

    pub fn key(provider: usize, token: &str) -> Key {
        let mut h = Sha256::new();
        h.update((provider as u64).to_le_bytes());
        h.update(token.as_bytes());
        h.finalize().into()
    }

    /// Claims of a token verified with the key set of generation `key_generation`.
    pub fn get(&mut self, key: &Key, key_generation: u64) -> Option<Rc<Claims>> {
        let entry = self.entries.get_mut(key)?;
        if entry.key_generation != key_generation {
            self.remove(key);
            return None;
        }
        self.clock += 1;
        self.recency.remove(&entry.used);
        entry.used = self.clock;
        self.recency.insert(self.clock, *key);
        Some(entry.claims.clone())
    }

    pub fn insert(&mut self, key: Key, claims: Rc<Claims>, key_generation: u64) {
        self.remove(&key);
        while self.entries.len() >= self.capacity {
            let Some((_, oldest)) = self.recency.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
        self.clock += 1;
        self.recency.insert(self.clock, key);
        self.entries.insert(
            key,
            Entry {
                claims,
                key_generation,
                used: self.clock,
            },
        );
    }

    fn remove(&mut self, key: &Key) {
        if let Some(old) = self.entries.remove(key) {
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

    fn claims(sub: &str) -> Rc<Claims> {
        let mut c = Claims::new();
        c.insert("sub".into(), sub.into());
        Rc::new(c)
    }

    #[test]
    fn evicts_least_recently_used() {
        let mut cache = TokenCache::new(2);
        let (a, b, c) = (
            TokenCache::key(0, "a"),
            TokenCache::key(0, "b"),
            TokenCache::key(0, "c"),
        );
        cache.insert(a, claims("a"), 0);
        cache.insert(b, claims("b"), 0);
        assert!(cache.get(&a, 0).is_some()); // a is now the most recent
        cache.insert(c, claims("c"), 0);
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&b, 0).is_none());
        assert!(cache.get(&a, 0).is_some());
        assert!(cache.get(&c, 0).is_some());
    }

    #[test]
    fn key_rotation_invalidates_entries() {
        let mut cache = TokenCache::new(4);
        let a = TokenCache::key(0, "a");
        cache.insert(a, claims("a"), 1);
        assert!(cache.get(&a, 2).is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn provider_is_part_of_the_key() {
        assert_ne!(TokenCache::key(0, "t"), TokenCache::key(1, "t"));
    }
}
