//! A bounded cache of successful verifications, keyed by the SHA-256 of the token.
//!
//! Only the hash is stored, never the token, so a memory dump of the cache does not hand out
//! usable credentials. An entry lives until the token's `exp` (no leeway), and the oldest entries
//! are evicted first when the cache is full.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::Claims;

type TokenHash = [u8; 32];

#[derive(Debug, Default)]
struct State {
    entries: HashMap<TokenHash, Claims>,
    /// Insertion order for eviction; may hold hashes already removed from `entries`.
    order: VecDeque<TokenHash>,
}

/// The verification cache. A capacity of 0 disables it.
#[derive(Debug)]
pub(crate) struct VerifiedCache {
    capacity: usize,
    state: Mutex<State>,
}

pub(crate) fn hash_token(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

impl VerifiedCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The claims verified earlier for this token, if still before `exp` at `now`.
    pub(crate) fn get(&self, hash: &TokenHash, now: u64) -> Option<Claims> {
        if self.capacity == 0 {
            return None;
        }
        let mut state = self.lock();
        let claims = state.entries.get(hash)?;
        if claims.expires_at().is_some_and(|exp| now < exp) {
            return Some(claims.clone());
        }
        state.entries.remove(hash);
        None
    }

    /// Remembers verified claims; tokens without `exp` or already expired are not cached.
    pub(crate) fn insert(&self, hash: TokenHash, claims: Claims, now: u64) {
        if self.capacity == 0 || claims.expires_at().is_none_or(|exp| exp <= now) {
            return;
        }
        let mut state = self.lock();
        if state.entries.len() >= self.capacity {
            state
                .entries
                .retain(|_, c| c.expires_at().is_some_and(|exp| now < exp));
        }
        while state.entries.len() >= self.capacity {
            match state.order.pop_front() {
                Some(oldest) => {
                    state.entries.remove(&oldest);
                }
                None => break,
            }
        }
        if state.entries.insert(hash, claims).is_none() {
            state.order.push_back(hash);
        }
        // Keep the order queue from growing without bound through removed entries.
        if state.order.len() > self.capacity.saturating_mul(2) {
            let State { entries, order } = &mut *state;
            order.retain(|h| entries.contains_key(h));
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(exp: u64) -> Claims {
        Claims::from_raw(
            json!({"sub": "u", "exp": exp})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        )
    }

    #[test]
    fn entries_live_until_exp_and_not_beyond() {
        let cache = VerifiedCache::new(4);
        let h = hash_token("a.b.c");
        cache.insert(h, claims(100), 50);
        assert!(cache.get(&h, 99).is_some());
        assert!(cache.get(&h, 100).is_none());
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn expired_or_expiryless_tokens_are_not_cached() {
        let cache = VerifiedCache::new(4);
        cache.insert(hash_token("x"), claims(10), 10);
        cache.insert(
            hash_token("y"),
            Claims::from_raw(serde_json::Map::new()),
            10,
        );
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn capacity_is_bounded_and_the_oldest_goes_first() {
        let cache = VerifiedCache::new(3);
        for i in 0..10 {
            cache.insert(hash_token(&format!("t{i}")), claims(1000), 1);
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.get(&hash_token("t9"), 2).is_some());
        assert!(cache.get(&hash_token("t6"), 2).is_none());
        assert!(cache.lock().order.len() <= 6);
    }

    #[test]
    fn expired_entries_are_evicted_before_live_ones() {
        let cache = VerifiedCache::new(2);
        cache.insert(hash_token("old"), claims(20), 1);
        cache.insert(hash_token("live"), claims(1000), 1);
        cache.insert(hash_token("new"), claims(1000), 30);
        assert!(cache.get(&hash_token("live"), 31).is_some());
        assert!(cache.get(&hash_token("new"), 31).is_some());
    }

    #[test]
    fn zero_capacity_disables_the_cache() {
        let cache = VerifiedCache::new(0);
        cache.insert(hash_token("a"), claims(1000), 1);
        assert!(cache.get(&hash_token("a"), 2).is_none());
    }

    #[test]
    fn the_key_is_the_sha256_of_the_token() {
        // SHA-256("abc"), FIPS 180-2 test vector.
        assert_eq!(hash_token("abc")[..4], [0xba, 0x78, 0x16, 0xbf]);
    }
}
