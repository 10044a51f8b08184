//! MACs over the plain values of the vault file.
//!
//! Ids, versions and timestamps stay in clear so the store can index them, and several of them
//! change what the user is shown or what Tessera does: `items.version` picks the current version
//! (an older version's ciphertext is genuine, so AEAD alone lets a rollback through),
//! `items.trashed_at` hides an item and `items.created_at` is displayed; an `outbox` entry is
//! uploaded as it stands (a forged one could delete an item for the whole team), and `seen` is
//! the floor below which the team server's versions are refused. Each of those rows carries a
//! MAC, and `meta.item_count` holds a MACed count of the items, so a removed row is noticed too.
//!
//! ```text
//! MAC key = HKDF-SHA256(IKM = vault key, info = "tessera vault records v1")   (tessera_crypto::mac)
//! items      "tessera item state"     vault id, item id, version, created_at, trashed_at
//! outbox     "tessera outbox entry"   vault id, item id, version, deleted (one byte, 0 or 1)
//! seen       "tessera seen version"   vault id, item id, version
//! item_count "tessera item count"     vault id, count          (stored as u64 count | tag)
//! ```
//!
//! Integers are 8 bytes big endian; `trashed_at` is empty when the item is not in the trash.
//! The version time and the time the secrets last changed are bound into each version's
//! ciphertext already (its associated data), so they need no MAC here.
//!
//! What no MAC in one file can catch: a row copied back from an older copy of the same vault
//! (its MAC is genuine), which is no more than restoring that whole older file.
use tessera_crypto::mac::{MacKey, TAG_LEN};
use tessera_crypto::SymmetricKey;

/// The HKDF label of the MAC key, under the vault key. Changing it makes every vault unreadable:
/// the vault vectors (`tests/vectors/vault/`) fail first.
const KEY_LABEL: &str = "tessera vault records v1";

/// The plain values of an `items` row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ItemState {
    /// The current version.
    pub version: i64,
    /// Unix time the item was created.
    pub created_at: i64,
    /// Unix time it went to the trash.
    pub trashed_at: Option<i64>,
}

/// Computes and checks the MACs of one vault's rows. Holds a key derived from the vault key;
/// it zeroizes on drop.
#[derive(Debug)]
pub struct RowAuth {
    key: MacKey,
    vault_id: [u8; 16],
}

impl RowAuth {
    /// The MACs of the vault `vault_id`, keyed from its vault key.
    pub fn new(vault_key: &SymmetricKey, vault_id: [u8; 16]) -> Self {
        Self {
            key: MacKey::derive(vault_key, KEY_LABEL),
            vault_id,
        }
    }

    fn with_vault<R>(&self, parts: &[&[u8]], f: impl FnOnce(&[&[u8]]) -> R) -> R {
        let mut all: Vec<&[u8]> = Vec::with_capacity(parts.len() + 1);
        all.push(&self.vault_id);
        all.extend_from_slice(parts);
        f(&all)
    }

    fn tag(&self, label: &str, parts: &[&[u8]]) -> [u8; TAG_LEN] {
        self.with_vault(parts, |all| self.key.tag(label, all))
    }

    fn ok(&self, label: &str, parts: &[&[u8]], mac: Option<&[u8]>) -> bool {
        mac.is_some_and(|mac| self.with_vault(parts, |all| self.key.verify(label, all, mac)))
    }

    fn item_parts<R>(id: &[u8], s: &ItemState, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        let trashed = s.trashed_at.map(i64::to_be_bytes);
        f(&[
            id,
            &s.version.to_be_bytes(),
            &s.created_at.to_be_bytes(),
            trashed.as_ref().map_or(&[][..], |t| &t[..]),
        ])
    }

    /// The MAC of an item's row.
    pub fn item(&self, id: &[u8], s: &ItemState) -> [u8; TAG_LEN] {
        Self::item_parts(id, s, |p| self.tag("tessera item state", p))
    }

    /// Whether `mac` (`None` when the column is empty) is the MAC of an item's row.
    pub fn item_ok(&self, id: &[u8], s: &ItemState, mac: Option<&[u8]>) -> bool {
        Self::item_parts(id, s, |p| self.ok("tessera item state", p, mac))
    }

    /// The MAC of an outbox entry.
    pub fn outbox(&self, id: &[u8], version: i64, deleted: bool) -> [u8; TAG_LEN] {
        self.tag(
            "tessera outbox entry",
            &[id, &version.to_be_bytes(), &[u8::from(deleted)]],
        )
    }

    /// Whether `mac` is the MAC of an outbox entry.
    pub fn outbox_ok(&self, id: &[u8], version: i64, deleted: bool, mac: Option<&[u8]>) -> bool {
        self.ok(
            "tessera outbox entry",
            &[id, &version.to_be_bytes(), &[u8::from(deleted)]],
            mac,
        )
    }

    /// The MAC of a `seen` row.
    pub fn seen(&self, id: &[u8], version: i64) -> [u8; TAG_LEN] {
        self.tag("tessera seen version", &[id, &version.to_be_bytes()])
    }

    /// Whether `mac` is the MAC of a `seen` row.
    pub fn seen_ok(&self, id: &[u8], version: i64, mac: Option<&[u8]>) -> bool {
        self.ok("tessera seen version", &[id, &version.to_be_bytes()], mac)
    }

    /// The stored form of the item count: the count (u64, big endian) and its MAC.
    pub fn count(&self, n: u64) -> Vec<u8> {
        let mut out = n.to_be_bytes().to_vec();
        out.extend_from_slice(&self.tag("tessera item count", &[&n.to_be_bytes()]));
        out
    }

    /// The count in a stored item count, if its MAC matches.
    pub fn read_count(&self, stored: &[u8]) -> Option<u64> {
        let (n, mac) = stored.split_at_checked(8)?;
        let n: [u8; 8] = n.try_into().ok()?;
        self.ok("tessera item count", &[&n], Some(mac))
            .then_some(u64::from_be_bytes(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::hex;

    /// The derivation and every label, frozen: computed independently (Python's hmac and
    /// hashlib) for the vault key 32 x 0x01 and vault id 16 x 0x02.
    #[test]
    fn known_answers() {
        let a = RowAuth::new(&SymmetricKey::from_bytes([1; 32]), [2; 16]);
        let s = ItemState {
            version: 3,
            created_at: 1_700_000_000,
            trashed_at: None,
        };
        let t = ItemState {
            trashed_at: Some(1_700_000_100),
            ..s
        };
        assert_eq!(
            hex(&a.item(&[9; 16], &s)),
            "8ab2994249743083b9d7b52aaeea9fb16b408b7dde48a75130fec3d5531a1dd7"
        );
        assert_eq!(
            hex(&a.item(&[9; 16], &t)),
            "4a7f222dc0853d201ec014fa043bcbd2088d6d4819cb2a3187ebb4bd9f5154ea"
        );
        assert_eq!(
            hex(&a.outbox(&[9; 16], 4, true)),
            "9b1528e89cf3ff298f3f5f8b4a5a217b0fa9d6a829199b4283875d691ed6ba8e"
        );
        assert_eq!(
            hex(&a.seen(&[9; 16], 5)),
            "22023a52aeba115cc8112366a026a919fdea11b5da1cfa787d69d7456da58fd2"
        );
        assert_eq!(
            hex(&a.count(6)),
            "00000000000000063dd2706304feea77268f17767c4ae2f191f4ce2acd76139b16bc5566fa1d7e53"
        );
    }

    #[test]
    fn each_value_is_bound() {
        let a = RowAuth::new(&SymmetricKey::generate(), [2; 16]);
        let id = [9; 16];
        let s = ItemState {
            version: 3,
            created_at: 10,
            trashed_at: None,
        };
        let mac = a.item(&id, &s);
        assert!(a.item_ok(&id, &s, Some(&mac)));
        assert!(!a.item_ok(&id, &s, None));
        for other in [
            ItemState { version: 2, ..s },
            ItemState {
                created_at: 11,
                ..s
            },
            ItemState {
                trashed_at: Some(0),
                ..s
            },
        ] {
            assert!(!a.item_ok(&id, &other, Some(&mac)), "{other:?}");
        }
        assert!(!a.item_ok(&[8; 16], &s, Some(&mac)));
        let other_vault = RowAuth::new(&SymmetricKey::generate(), [2; 16]);
        assert!(!other_vault.item_ok(&id, &s, Some(&mac)));
        let m = a.outbox(&id, 4, false);
        assert!(a.outbox_ok(&id, 4, false, Some(&m)));
        assert!(!a.outbox_ok(&id, 4, true, Some(&m)));
        let m = a.seen(&id, 5);
        assert!(a.seen_ok(&id, 5, Some(&m)) && !a.seen_ok(&id, 4, Some(&m)));
        let c = a.count(7);
        assert_eq!(a.read_count(&c), Some(7));
        let mut forged = c.clone();
        forged[7] = 6;
        assert_eq!(a.read_count(&forged), None);
        assert_eq!(a.read_count(&c[..20]), None);
    }
}
