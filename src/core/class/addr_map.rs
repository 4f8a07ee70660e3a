//! The hash map of ndbind's address-keyed registries (identity map, `Arc`
//! holders, keep-alive patients, attached trampolines).
//!
//! Keys are addresses ndbind itself allocated or was given, not data an
//! attacker chooses freely, so std's randomly seeded SipHash (with its
//! `getrandom` seeding) buys nothing here: a multiplicative hash (as
//! rustc's `FxHasher`) does, in a fraction of the code and time.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A map keyed by addresses (or tuples of them).
pub(crate) type AddrMap<K, V> = HashMap<K, V, BuildHasherDefault<AddrHasher>>;

/// A set of addresses.
pub(crate) type AddrSet<K> = HashSet<K, BuildHasherDefault<AddrHasher>>;

/// Fx-style hashing of whole words.
#[derive(Default)]
pub(crate) struct AddrHasher(u64);

const K: u64 = 0xf135_7aea_2e62_a9c5;

impl Hasher for AddrHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(K);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    /// The product's high bits are its well-mixed ones; the map takes its
    /// bucket from the low bits (addresses' own low bits are zero).
    #[inline]
    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_addresses_spread_over_buckets() {
        let buckets: AddrSet<u64> = (0..64u64)
            .map(|i| {
                let mut h = AddrHasher::default();
                h.write_usize(0x7f00_0000_0000 + 16 * i as usize);
                h.finish() & 63
            })
            .collect();
        assert!(buckets.len() > 32, "{}", buckets.len());
    }
}
