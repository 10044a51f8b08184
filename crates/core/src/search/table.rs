//! The index's two storage primitives, both wiped on drop: a hash multimap and a text arena.
use zeroize::Zeroize;

const EMPTY: u64 = 0;
const NIL: u32 = u32::MAX;

/// A multimap from non-zero 64-bit hashes to `u32` values: open addressing with linear probing
/// for the keys, a linked chain per key for the values. Insert-only, and flat (three `Vec`s), so
/// it can be wiped: the keys are hashes of plaintext fragments.
#[derive(Default)]
pub(super) struct MultiMap {
    keys: Vec<u64>,
    heads: Vec<u32>,
    used: usize,
    /// `(value, next entry of the same key)`.
    entries: Vec<(u32, u32)>,
}

impl MultiMap {
    fn slot(&self, key: u64) -> usize {
        let mask = self.keys.len() - 1;
        let mut i = (key as usize) & mask;
        while self.keys[i] != EMPTY && self.keys[i] != key {
            i = (i + 1) & mask;
        }
        i
    }

    fn grow(&mut self) {
        let cap = (self.keys.len() * 2).max(1024);
        let mut keys = std::mem::replace(&mut self.keys, vec![EMPTY; cap]);
        let mut heads = std::mem::replace(&mut self.heads, vec![NIL; cap]);
        for (&k, &h) in keys.iter().zip(&heads) {
            if k != EMPTY {
                let s = self.slot(k);
                self.keys[s] = k;
                self.heads[s] = h;
            }
        }
        keys.zeroize();
        heads.zeroize();
    }

    /// Reserve room for about `n` more distinct keys.
    pub(super) fn reserve(&mut self, n: usize) {
        while (self.used + n) * 2 > self.keys.len() {
            self.grow();
        }
    }

    /// Add `value` under `key` (non-zero).
    pub(super) fn insert(&mut self, key: u64, value: u32) {
        debug_assert_ne!(key, EMPTY);
        if (self.used + 1) * 2 > self.keys.len() {
            self.grow();
        }
        let s = self.slot(key);
        if self.keys[s] == EMPTY {
            self.keys[s] = key;
            self.heads[s] = NIL;
            self.used += 1;
        }
        let entry = u32::try_from(self.entries.len()).expect("fewer than 2^32 index entries");
        self.entries.push((value, self.heads[s]));
        self.heads[s] = entry;
    }

    /// The values under `key`, newest first.
    pub(super) fn get(&self, key: u64) -> impl Iterator<Item = u32> + '_ {
        let mut next = if self.keys.is_empty() {
            NIL
        } else {
            let s = self.slot(key);
            if self.keys[s] == key {
                self.heads[s]
            } else {
                NIL
            }
        };
        std::iter::from_fn(move || {
            if next == NIL {
                return None;
            }
            let (v, n) = self.entries[next as usize];
            next = n;
            Some(v)
        })
    }

    /// Approximate heap bytes.
    pub(super) fn heap_bytes(&self) -> usize {
        self.keys.capacity() * 8 + self.heads.capacity() * 4 + self.entries.capacity() * 8
    }
}

impl Drop for MultiMap {
    fn drop(&mut self) {
        self.keys.zeroize();
        self.heads.zeroize();
        self.entries.zeroize();
    }
}

/// Append-only storage for token text. Growing copies into a new buffer and wipes the old one,
/// so no stale copy of a token is left on the heap.
#[derive(Default)]
pub(super) struct Arena {
    buf: String,
}

impl Arena {
    /// Append `s`; returns its byte offset.
    pub(super) fn push(&mut self, s: &str) -> u32 {
        if self.buf.len() + s.len() > self.buf.capacity() {
            let cap = (self.buf.capacity() * 2)
                .max(self.buf.len() + s.len())
                .max(4096);
            let mut bigger = String::with_capacity(cap);
            bigger.push_str(&self.buf);
            let mut old = std::mem::replace(&mut self.buf, bigger);
            old.zeroize();
        }
        let at = u32::try_from(self.buf.len()).expect("token text under 4 GiB");
        self.buf.push_str(s);
        at
    }

    /// The text at `start..start + len`.
    pub(super) fn get(&self, start: u32, len: u32) -> &str {
        &self.buf[start as usize..(start + len) as usize]
    }

    /// Approximate heap bytes.
    pub(super) fn heap_bytes(&self) -> usize {
        self.buf.capacity()
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multimap_keeps_every_value_of_a_key() {
        let mut m = MultiMap::default();
        for i in 0..5000u32 {
            m.insert(u64::from(i % 100) + 1, i);
        }
        let mut v: Vec<u32> = m.get(8).collect();
        v.sort_unstable();
        assert_eq!(v, (0..50).map(|k| k * 100 + 7).collect::<Vec<_>>());
        assert_eq!(m.get(1000).count(), 0);
        assert_eq!(MultiMap::default().get(3).count(), 0);
    }

    #[test]
    fn arena_survives_growth() {
        let mut a = Arena::default();
        let offs: Vec<u32> = (0..2000).map(|i| a.push(&format!("tok{i}"))).collect();
        assert_eq!(a.get(offs[1500], 7), "tok1500");
    }
}
