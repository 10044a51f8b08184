//! Collection manifests: the set of items a collection (an account's personal items, or a
//! group's) holds, as a writer committed it. Each push is followed by a new manifest naming
//! every item id with its newest version, authenticated by something the server cannot make:
//! for personal items an HMAC under a key every device of the account derives from the vault
//! key; for a group the Ed25519 signature of the member (editor or admin) who pushed. A client
//! that is served fewer items, or older versions, than the manifest names knows the server
//! dropped them, and says which.
//!
//! The body is bytes, authenticated as sent and never re-encoded:
//! `collection (16) | seq (u64 BE) | count (u32 BE) | count x (item id (16) | version (u64 BE))`,
//! items in ascending id order. `seq` numbers a collection's manifests from 1; the server keeps
//! only the newest and accepts the next one only (compare-and-set), so a writer that raced
//! another re-reads first.
use serde::{Deserialize, Serialize};

use crate::{check_len, invalid, limits, Blob, ErrorBody, Id, Validate};

/// The most items one manifest names.
pub const MANIFEST_ITEMS: usize = 200_000;

/// What a manifest says, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The account (personal items) or group it describes.
    pub collection: Id,
    /// Its number: the collection's previous manifest + 1.
    pub seq: u64,
    /// Every item with its newest version, ascending by id.
    pub items: Vec<(Id, u64)>,
}

const HEAD: usize = 16 + 8 + 4;
const ENTRY: usize = 16 + 8;

impl Manifest {
    /// The body bytes. `items` is sorted (and deduplicated, newest version kept) first.
    pub fn encode(&self) -> Vec<u8> {
        let mut items = self.items.clone();
        items.sort_unstable();
        items.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 = kept.1.max(later.1);
            }
            same
        });
        let mut b = Vec::with_capacity(HEAD + ENTRY * items.len());
        b.extend_from_slice(&self.collection.0);
        b.extend_from_slice(&self.seq.to_be_bytes());
        b.extend_from_slice(&u32::try_from(items.len()).unwrap_or(u32::MAX).to_be_bytes());
        for (id, v) in &items {
            b.extend_from_slice(&id.0);
            b.extend_from_slice(&v.to_be_bytes());
        }
        b
    }

    /// Decode a body; `Err` says what is wrong with it.
    pub fn decode(b: &[u8]) -> Result<Self, String> {
        if b.len() < HEAD {
            return Err(format!("it is {} bytes, shorter than its header", b.len()));
        }
        let count = u32::from_be_bytes(b[24..28].try_into().expect("4 bytes")) as usize;
        if count > MANIFEST_ITEMS {
            return Err(format!(
                "it names {count} items, more than {MANIFEST_ITEMS}"
            ));
        }
        if b.len() != HEAD + count * ENTRY {
            return Err(format!("it says {count} items but holds {} bytes", b.len()));
        }
        let mut items = Vec::with_capacity(count);
        for e in b[HEAD..].chunks_exact(ENTRY) {
            let id = Id(e[..16].try_into().expect("16 bytes"));
            let v = u64::from_be_bytes(e[16..].try_into().expect("8 bytes"));
            if items.last().is_some_and(|(last, _)| *last >= id) {
                return Err("its items are not in ascending id order".into());
            }
            items.push((id, v));
        }
        Ok(Self {
            collection: Id(b[..16].try_into().expect("16 bytes")),
            seq: u64::from_be_bytes(b[16..24].try_into().expect("8 bytes")),
            items,
        })
    }
}

/// A manifest as stored, sent and served: its body and what authenticates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedManifest {
    /// The body ([`Manifest::encode`]).
    pub body: Blob,
    /// Personal items: the 32-byte HMAC tag. A group: the signer's 64-byte Ed25519 signature.
    pub auth: Blob,
    /// Who signed a group's manifest (absent for personal items).
    #[serde(default)]
    pub signer: Option<Id>,
}

impl Validate for SignedManifest {
    fn validate(&self) -> Result<(), ErrorBody> {
        Manifest::decode(&self.body.0)
            .map_err(|why| invalid("body", format!("the manifest body is malformed: {why}")))?;
        let want = if self.signer.is_some() { 64 } else { 32 };
        check_len("auth", self.auth.0.len(), want, want)?;
        check_len("body", self.body.0.len(), HEAD, limits::BODY)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_manifest_round_trips_sorted_and_refuses_damage() {
        let m = Manifest {
            collection: Id([1; 16]),
            seq: 7,
            items: vec![(Id([3; 16]), 2), (Id([2; 16]), 5), (Id([3; 16]), 4)],
        };
        let b = m.encode();
        let d = Manifest::decode(&b).unwrap();
        assert_eq!(d.items, vec![(Id([2; 16]), 5), (Id([3; 16]), 4)]);
        assert_eq!((d.collection, d.seq), (Id([1; 16]), 7));
        assert!(Manifest::decode(&b[..b.len() - 1])
            .unwrap_err()
            .contains("holds"));
        assert!(Manifest::decode(&b[..10]).unwrap_err().contains("shorter"));
        let mut swapped = b.clone();
        let (first, second) = swapped[28..].split_at_mut(24);
        first.swap_with_slice(second);
        assert!(Manifest::decode(&swapped)
            .unwrap_err()
            .contains("ascending"));
    }
}
