//! A name -> entries index over names the caller keeps (kallsyms names, BTF strings): it stores only
//! hashes and entry numbers, so building it for 150k names costs one hash and one insert each.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A polynomial hash, `h = h * P + (byte + 1)`, chosen because it composes: the hash of a
/// concatenation is `h(a) * P^len(b) + h(b)`, so kallsyms names hash from per-token hashes without
/// being expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PolyHash {
    /// The hash so far.
    pub(crate) value: u64,
    /// `P^len`.
    pub(crate) scale: u64,
}

const P: u64 = 0x100_0000_01b3;

impl PolyHash {
    pub(crate) const EMPTY: PolyHash = PolyHash { value: 0, scale: 1 };

    pub(crate) fn of(bytes: &[u8]) -> PolyHash {
        let mut h = PolyHash::EMPTY;
        h.push_bytes(bytes);
        h
    }

    pub(crate) fn push_bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.value = self.value.wrapping_mul(P).wrapping_add(u64::from(b) + 1);
            self.scale = self.scale.wrapping_mul(P);
        }
    }

    /// `self` followed by the bytes `other` was computed over.
    pub(crate) fn append(&mut self, other: PolyHash) {
        self.value = self
            .value
            .wrapping_mul(other.scale)
            .wrapping_add(other.value);
        self.scale = self.scale.wrapping_mul(other.scale);
    }
}

/// The map's keys are already hashes.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

fn hash(name: &[u8]) -> u64 {
    // Spread the polynomial's low bits, which the map uses for buckets.
    let h = PolyHash::of(name).value;
    h ^ (h >> 29)
}

fn spread(h: u64) -> u64 {
    h ^ (h >> 29)
}

const END: u32 = u32::MAX;

/// Entries `0..n` by name. Entries with the same name hash (the same name, or a collision) are
/// chained in entry order; [`NameIndex::candidates`] yields them all and the caller compares names.
#[derive(Debug, Default)]
pub(crate) struct NameIndex {
    heads: HashMap<u64, u32, BuildHasherDefault<Identity>>,
    next: Vec<u32>,
}

impl NameIndex {
    /// Index entries `0..n`; `name(i)` is `None` for entries not to index.
    pub(crate) fn build<'a>(n: usize, name: impl Fn(usize) -> Option<&'a [u8]>) -> NameIndex {
        Self::build_hashed(n, |i| name(i).map(|nm| PolyHash::of(nm).value))
    }

    /// [`NameIndex::build`] from each entry's [`PolyHash`] value.
    pub(crate) fn build_hashed(n: usize, hash_of: impl Fn(usize) -> Option<u64>) -> NameIndex {
        let mut heads: HashMap<u64, u32, BuildHasherDefault<Identity>> =
            HashMap::with_capacity_and_hasher(n, BuildHasherDefault::default());
        let mut next = vec![END; n];
        // Backwards, so each new head points at the later entries: chains in entry order.
        for i in (0..n.min(END as usize)).rev() {
            if let Some(h) = hash_of(i) {
                if let Some(old) = heads.insert(spread(h), i as u32) {
                    next[i] = old;
                }
            }
        }
        NameIndex { heads, next }
    }

    /// Entries that may be named `name`, in entry order.
    pub(crate) fn candidates(&self, name: &[u8]) -> impl Iterator<Item = usize> + '_ {
        let mut i = self.heads.get(&hash(name)).copied().unwrap_or(END);
        std::iter::from_fn(move || {
            if i == END {
                return None;
            }
            let here = i as usize;
            i = self.next.get(here).copied().unwrap_or(END);
            Some(here)
        })
    }
}
