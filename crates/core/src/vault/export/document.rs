//! The plaintext inside an export: every personal item with its whole history and trash state.
//!
//! ```text
//! i64 exported_at | u32 item count | item × count
//! item    = id (16) | i64 created_at | opt i64 trashed_at | u32 version count | version × count
//! version = u64 version | i64 created_at | i64 secret_changed_at | u32 n | content (n bytes)
//! content = the item encoding stored in the vault (item/codec.rs, with its own format byte)
//!                                              (opt = u8 0/1 + value; big endian throughout)
//! ```
//!
//! Length-prefixed for the reasons `item/codec.rs` gives: encoding writes into one zeroizing
//! buffer sized up front, decoding copies each string once, so no parser scratch buffer keeps
//! plaintext. Decoding refuses trailing bytes, lengths past the end, duplicate item ids, items
//! without versions and versions out of order.
use std::collections::HashSet;

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::item::{codec, ItemData, ItemId};

/// One version of an exported item.
pub(super) struct Version {
    pub(super) number: u64,
    pub(super) created_at: i64,
    pub(super) secret_changed_at: i64,
    pub(super) data: ItemData,
}

/// One exported item, its versions oldest first (the last is the current one).
pub(super) struct Entry {
    pub(super) id: ItemId,
    pub(super) created_at: i64,
    pub(super) trashed_at: Option<i64>,
    pub(super) versions: Vec<Version>,
}

impl Entry {
    /// The current version. Decoding guarantees there is one.
    pub(super) fn current(&self) -> &Version {
        self.versions.last().expect("decoded entries have versions")
    }
}

/// The decrypted document.
pub(super) struct Document {
    pub(super) exported_at: i64,
    pub(super) items: Vec<Entry>,
}

/// Encode into one zeroizing buffer of exactly the needed size.
pub(super) fn encode(doc: &Document) -> Zeroizing<Vec<u8>> {
    let contents: Vec<Vec<Zeroizing<Vec<u8>>>> = doc
        .items
        .iter()
        .map(|e| e.versions.iter().map(|v| codec::encode(&v.data)).collect())
        .collect();
    let size = 8
        + 4
        + doc
            .items
            .iter()
            .zip(&contents)
            .map(|(e, c)| {
                16 + 8
                    + 1
                    + e.trashed_at.map_or(0, |_| 8)
                    + 4
                    + c.iter().map(|b| 8 + 8 + 8 + 4 + b.len()).sum::<usize>()
            })
            .sum::<usize>();
    let mut out = Zeroizing::new(Vec::with_capacity(size));
    out.extend_from_slice(&doc.exported_at.to_be_bytes());
    put_len(&mut out, doc.items.len());
    for (e, c) in doc.items.iter().zip(&contents) {
        out.extend_from_slice(&e.id.0);
        out.extend_from_slice(&e.created_at.to_be_bytes());
        match e.trashed_at {
            Some(t) => {
                out.push(1);
                out.extend_from_slice(&t.to_be_bytes());
            }
            None => out.push(0),
        }
        put_len(&mut out, e.versions.len());
        for (v, bytes) in e.versions.iter().zip(c) {
            out.extend_from_slice(&v.number.to_be_bytes());
            out.extend_from_slice(&v.created_at.to_be_bytes());
            out.extend_from_slice(&v.secret_changed_at.to_be_bytes());
            put_len(&mut out, bytes.len());
            out.extend_from_slice(bytes);
        }
    }
    debug_assert_eq!(
        out.len(),
        size,
        "size computed up front covers the encoding"
    );
    out
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    let n = u32::try_from(n).expect("an export holds far fewer than 2^32 items or bytes per item");
    out.extend_from_slice(&n.to_be_bytes());
}

/// Decode, naming what is malformed (the document authenticated, so this is a writer's bug or
/// someone who knows the passphrase, never line noise).
pub(super) fn decode(buf: &[u8]) -> Result<Document> {
    let bad = |m: &str| Error::DamagedExport(format!("it decrypted, but {m}"));
    let mut r = Reader { buf, pos: 0 };
    let exported_at = r.i64().ok_or_else(|| bad("its contents are truncated"))?;
    // Each item takes at least 29 bytes, which bounds the count before any allocation.
    let n = r.count(29).ok_or_else(|| bad("its item count is wrong"))?;
    let mut items = Vec::with_capacity(n);
    let mut seen = HashSet::with_capacity(n);
    for _ in 0..n {
        let entry = r.entry().ok_or_else(|| bad("an item is truncated"))?;
        let hex = entry.id.to_hex();
        if !seen.insert(entry.id) {
            return Err(bad(&format!("item {hex} is listed twice")));
        }
        if entry.versions.is_empty() {
            return Err(bad(&format!("item {hex} has no versions")));
        }
        if entry
            .versions
            .windows(2)
            .any(|w| w[0].number >= w[1].number)
            || entry.versions[0].number == 0
        {
            return Err(bad(&format!("the versions of item {hex} are out of order")));
        }
        items.push(entry);
    }
    if r.pos != buf.len() {
        return Err(bad("bytes follow its last item"));
    }
    Ok(Document { exported_at, items })
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len())?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Some(s)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn i64(&mut self) -> Option<i64> {
        self.array().map(i64::from_be_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_be_bytes)
    }

    /// A count of records of at least `min` bytes each, bounded by what is left.
    fn count(&mut self, min: usize) -> Option<usize> {
        let n = u32::from_be_bytes(self.array()?) as usize;
        (n <= (self.buf.len() - self.pos) / min).then_some(n)
    }

    fn entry(&mut self) -> Option<Entry> {
        let id = ItemId(self.array()?);
        let created_at = self.i64()?;
        let trashed_at = match self.take(1)?[0] {
            0 => None,
            1 => Some(self.i64()?),
            _ => return None,
        };
        // Each version takes at least 28 bytes.
        let n = self.count(28)?;
        let mut versions = Vec::with_capacity(n);
        for _ in 0..n {
            let version = self.u64()?;
            let created_at = self.i64()?;
            let secret_changed_at = self.i64()?;
            let len = self.count(1)?;
            let data = codec::decode(self.take(len)?).ok()?;
            versions.push(Version {
                number: version,
                created_at,
                secret_changed_at,
                data,
            });
        }
        Some(Entry {
            id,
            created_at,
            trashed_at,
            versions,
        })
    }
}

#[cfg(test)]
#[path = "../../../../../tests/fuzz/support.rs"]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::{FieldKind, ItemKind};
    use proptest::prelude::*;

    fn doc(titles: &[&str], versions: u64) -> Document {
        Document {
            exported_at: 1_700_000_000,
            items: titles
                .iter()
                .enumerate()
                .map(|(i, t)| Entry {
                    id: ItemId([i as u8; 16]),
                    created_at: 10,
                    trashed_at: (i % 2 == 1).then_some(20),
                    versions: (1..=versions)
                        .map(|v| Version {
                            number: v,
                            created_at: 10 + v as i64,
                            secret_changed_at: 10,
                            data: ItemData::new(ItemKind::Login, *t).with_field(
                                "password",
                                FieldKind::Concealed,
                                format!("pw-{v}"),
                            ),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    #[test]
    fn round_trip_keeps_everything() {
        let d = doc(&["a", "b", "c"], 3);
        let enc = encode(&d);
        assert_eq!(enc.len(), enc.capacity());
        let back = decode(&enc).unwrap();
        assert_eq!(back.exported_at, d.exported_at);
        assert_eq!(back.items.len(), 3);
        for (x, y) in back.items.iter().zip(&d.items) {
            assert_eq!(x.id, y.id);
            assert_eq!(x.trashed_at, y.trashed_at);
            assert_eq!(x.versions.len(), 3);
            for (a, b) in x.versions.iter().zip(&y.versions) {
                assert_eq!(
                    (a.number, a.created_at, a.secret_changed_at),
                    (b.number, b.created_at, b.secret_changed_at)
                );
                assert_eq!(a.data, b.data);
            }
        }
    }

    #[test]
    fn malformed_documents_are_named() {
        let mut dup = doc(&["a"], 1);
        dup.items.push(doc(&["b"], 1).items.remove(0));
        let e = decode(&encode(&dup)).err().unwrap().to_string();
        assert!(e.contains("twice"), "{e}");
        let mut order = doc(&["a"], 2);
        order.items[0].versions.reverse();
        let e = decode(&encode(&order)).err().unwrap().to_string();
        assert!(e.contains("out of order"), "{e}");
        let e = decode(&encode(&doc(&["a"], 0))).err().unwrap().to_string();
        assert!(e.contains("no versions"), "{e}");
        let enc = encode(&doc(&["a", "b"], 2));
        for n in 0..enc.len() {
            assert!(decode(&enc[..n]).is_err(), "{n}");
        }
    }

    proptest! {
        #![proptest_config(fuzz::config())]

        /// The export reader past decryption (see `tests/fuzz/support.rs`): a document someone
        /// who knows the passphrase wrote. Decodes or is refused; what decodes encodes to the
        /// same bytes.
        #[test]
        fn fuzz_decrypted_documents(bytes in fuzz::input(
            "export_document",
            vec![encode(&doc(&["a", "b"], 2)).to_vec(), encode(&doc(&["c"], 1)).to_vec()],
        )) {
            if let Ok(d) = decode(&bytes) {
                prop_assert_eq!(&encode(&d)[..], &bytes[..]);
            }
        }
    }
}
